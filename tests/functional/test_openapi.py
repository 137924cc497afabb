"""schemathesis sends requests generated from ``/api/openapi.json`` (valid
and hostile) to a real node and checks every answer against the document:
no 5xx, documented status codes, content types and response bodies."""
from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from support import ChatioProcess
from support.http import API_KEY, request

# Bounded so the whole run takes well under a minute on two cores.
MAX_EXAMPLES = 60
SEED = 20240601
RUN_TIMEOUT = 150.0
# positive_data_acceptance is left out: the document cannot say
# "printable" or "no control characters", so schemathesis would count the
# refusal of such text (which the API documents) as a failure.
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance,negative_data_rejection,"
          "ignored_auth,missing_required_header")


def schemathesis_bin() -> str:
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if found is None:
        message = "schemathesis is not installed (pip install -e '.[test]')"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


async def test_schemathesis_finds_nothing_against_a_live_node(tmp_path, secret):
    tool = schemathesis_bin()
    node = ChatioProcess({
        "CHATIO_SECRET": secret, "CHATIO_API_KEY": API_KEY,
        "CHATIO_GUEST_LOGIN": "1", "CHATIO_RATE_GUEST": "0",
        "CHATIO_DATA_DIR": str(tmp_path / "data"),
    }, tmp_path / "logs")
    await node.start()
    try:
        status, document = await request("GET", node.url + "/api/openapi.json")
        assert status == 200 and document["paths"]
        proc = await asyncio.create_subprocess_exec(
            tool, "run", node.url + "/api/openapi.json",
            "--header", f"Authorization: Bearer {API_KEY}",
            "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES),
            "--seed", str(SEED), "--workers", "1", "--no-shrink",
            "--request-timeout", "10",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            cwd=tmp_path)
        try:
            output, _ = await asyncio.wait_for(proc.communicate(), RUN_TIMEOUT)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise
        text = output.decode(errors="replace")
        assert proc.returncode == 0, text[-6000:]
        counts = re.search(r"(\d+) generated, (\d+) passed", text)
        assert counts, text[-2000:]
        generated, passed = map(int, counts.groups())
        assert generated == passed > 100, text[-2000:]
    finally:
        await node.terminate()
    errors = [line for line in node.stdout().splitlines()
              if '"level": "error"' in line and "aiohttp.server" not in line]
    assert errors == [], "\n".join(errors[:5])
