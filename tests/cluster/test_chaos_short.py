"""A one-minute ``make chaos`` in ``make test``: every kind of fault at
least once against three nodes behind nginx, and nothing lost or duplicated.

The full run (10 minutes, 200 users) is ``make chaos``; see
docs/deployment.md#the-chaos-run.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.nginx import require_nginx
from support.redis_server import require_redis_server

REPO = Path(__file__).resolve().parents[2]
RUN = REPO / "tests" / "chaos" / "run.py"
CLIENT_MODULES = REPO / "client-js" / "node_modules" / "socket.io-client"
# Seconds: 45 s of faults, then the drain, the catch-up and the checks.
RUN_TIMEOUT = 420


def require_client_library() -> None:
    missing = None
    if shutil.which("node") is None:
        missing = "node is not installed"
    elif not CLIENT_MODULES.is_dir():
        missing = "client-js/node_modules is missing (run `make client-deps`)"
    if missing is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(missing + "; CI=true, so this is a failure", pytrace=False)
        pytest.skip(missing)


@pytest.mark.timeout(RUN_TIMEOUT + 30)
def test_a_short_chaos_run_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    require_redis_server()
    require_nginx()
    require_client_library()
    done = subprocess.run(
        [sys.executable, str(RUN), "--duration", "45", "--seed", "20261201",
         "--users", "60", "--rooms", "4", "--rooms-per-user", "2",
         "--send-interval", "8", "--gap", "3", "6",
         "--workdir", str(tmp_path / "chaos")],
        capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=REPO)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "result: OK, nothing lost, nothing duplicated" in output, output
    survived = dict(re.findall(r"(kill -9 of a node|SIGTERM of a node|Redis "
                               r"restart|network stall of a node) x(\d+)", output))
    assert len(survived) == 4 and all(int(n) >= 1 for n in survived.values()), output
    sent, acked = map(int, re.search(r"(\d+) sent, (\d+) acked", output).groups())
    assert sent > 100 and acked == sent, output
