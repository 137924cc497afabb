"""What the README promises a new user: its client snippets run against a
real node and exit, and the versions it names are the ones in use."""
from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path

import pytest

from support import ChatioProcess
from support.http import request
from support.process import REPO

README = (REPO / "README.md").read_text()
RUN_TIMEOUT = 30.0


def snippet(language: str, after: str) -> str:
    """The first ``language`` code block after the heading ``after``."""
    section = README[README.index(after):]
    found = re.search(rf"```{language}\n(.*?)```", section, re.DOTALL)
    assert found, f"no {language} block after {after!r}"
    return found.group(1)


@pytest.fixture
async def node(tmp_path):
    process = ChatioProcess({"CHATIO_GUEST_LOGIN": "1",
                             "CHATIO_DATA_DIR": str(tmp_path / "data")},
                            tmp_path / "logs")
    await process.start()
    yield process
    await process.terminate()


async def run_until_exit(*command: str, cwd: Path) -> str:
    proc = await asyncio.create_subprocess_exec(
        *command, cwd=cwd, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    try:
        output, _ = await asyncio.wait_for(proc.communicate(), RUN_TIMEOUT)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError("the snippet did not exit") from None
    text = output.decode(errors="replace")
    assert proc.returncode == 0, text
    return text


async def test_the_javascript_snippet_sends_and_exits(node, tmp_path):
    code = snippet("js", "## A JavaScript client")
    script = tmp_path / "chat.mjs"
    script.write_text(code.replace("http://127.0.0.1:8000", node.url))
    (tmp_path / "node_modules").symlink_to(REPO / "tests/js/node_modules")
    output = await run_until_exit("node", str(script), cwd=tmp_path)
    assert "'hello'" in output or '"hello"' in output, output


async def test_the_python_snippet_sends_and_exits(node, tmp_path):
    code = snippet("python", "## A Python client")
    script = tmp_path / "chat.py"
    script.write_text(code.replace("http://127.0.0.1:8000", node.url))
    output = await run_until_exit(sys.executable, str(script), cwd=tmp_path)
    assert "'text': 'hello'" in output, output


def test_the_node_version_is_the_one_client_js_needs():
    engines = json.loads((REPO / "client-js/package.json").read_text())["engines"]
    wanted = re.match(r">=(\d+)", engines["node"]).group(1)
    assert f"Node {wanted}+" in README
    assert not re.search(rf"Node (?!{wanted}\+)\d+\+", README)


def test_installing_chatio_client_is_explained():
    assert "npm install /path/to/chatio/client-js" in README
    assert 'import { ChatClient } from "chatio-client"' in README


async def test_old_clients_get_the_documented_explanation(node):
    status, body = await request(
        "GET", node.url + "/socket.io/?EIO=3&transport=polling")
    assert status == 400
    assert json.dumps(body, separators=(",", ":")) in README
