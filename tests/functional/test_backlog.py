"""The listen backlog (CHATIO_BACKLOG) of ``chatio serve`` and of the
Procfile's gunicorn, read back from the kernel's listening socket."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from support import ChatioProcess
from support.process import ProcfileProcess, VENV_BIN


def listen_backlog(port: int) -> int:
    """The backlog of the socket listening on ``port`` (``ss`` shows it as
    Send-Q), as the kernel keeps it: at most ``net.core.somaxconn``."""
    ss = shutil.which("ss")
    if ss is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("ss (iproute2) is needed to read a listen backlog")
        pytest.skip("ss (iproute2) is not installed")
    out = subprocess.run([ss, "-Hltn", f"sport = :{port}"], check=True,
                         capture_output=True, text=True).stdout
    rows = [line.split() for line in out.splitlines() if line.strip()]
    assert rows, f"nothing listens on port {port}"
    return int(rows[0][2])


def somaxconn() -> int:
    return int(Path("/proc/sys/net/core/somaxconn").read_text())


@pytest.mark.parametrize("configured", [None, "777"], ids=["default", "777"])
async def test_chatio_serve_listens_with_the_backlog(tmp_path: Path,
                                                     configured) -> None:
    env = {"CHATIO_DATA_DIR": str(tmp_path / "data")}
    if configured is not None:
        env["CHATIO_BACKLOG"] = configured
    node = ChatioProcess(env, tmp_path / "logs")
    await node.start()
    try:
        expected = int(configured or 2048)
        assert listen_backlog(node.port) == min(expected, somaxconn())
    finally:
        assert await node.terminate() == 0, node.logs()


@pytest.mark.parametrize("configured", [None, "777"], ids=["default", "777"])
async def test_procfile_gunicorn_listens_with_the_backlog(tmp_path: Path,
                                                          configured) -> None:
    node = ProcfileProcess({"CHATIO_DATA_DIR": str(tmp_path / "data"),
                            "CHATIO_SECRET": "s" * 32}, tmp_path / "logs")
    node.env["PORT"] = str(node.port)
    node.env["PATH"] = f"{VENV_BIN}:{node.env['PATH']}"  # gunicorn
    if configured is not None:
        node.env["CHATIO_BACKLOG"] = configured
    await node.start()
    try:
        expected = int(configured or 2048)
        assert listen_backlog(node.port) == min(expected, somaxconn())
    finally:
        assert await node.terminate(timeout=15) == 0, node.logs()
