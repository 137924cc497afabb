"""The chatio command at the console: arguments, refusals, start-up."""
from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from support import ChatioProcess
from support.process import VENV_BIN, clean_environ

CHATIO = str(VENV_BIN / "chatio")
TIMEOUT = 30


def run(*args: str, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CHATIO, *args], capture_output=True, text=True,
                          timeout=TIMEOUT, cwd=cwd,
                          env={**clean_environ(), **(env or {})})


def assert_one_line_refusal(result: subprocess.CompletedProcess[str],
                            text: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr + result.stdout, result
    assert text in result.stderr, result.stderr


@pytest.mark.parametrize("port", ["70000", "0", "-1", "http"])
def test_serve_refuses_a_port_outside_1_to_65535(tmp_path, port):
    result = run("serve", "--port", port, env={"PORT": "8123"}, cwd=tmp_path)
    assert_one_line_refusal(result, "expected a port number from 1 to 65535")


def test_version_and_plain_help():
    version = run("--version")
    assert version.returncode == 0
    assert version.stdout.strip().startswith("chatio 0.")
    helptext = run("--help")
    assert helptext.returncode == 0
    assert "``" not in helptext.stdout and "serve" in helptext.stdout


def test_a_short_secret_is_refused_without_echoing_it(tmp_path):
    result = run("serve", env={"CHATIO_SECRET": "hunter2"}, cwd=tmp_path)
    assert_one_line_refusal(result, "chatio: CHATIO_SECRET is invalid")
    assert "hunter2" not in result.stderr


def test_a_data_dir_that_is_a_file_is_refused_in_one_line(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    for env in ({}, {"CHATIO_SECRET": "s" * 32}):
        result = run("serve", env={"CHATIO_DATA_DIR": str(blocker), **env},
                     cwd=tmp_path)
        assert_one_line_refusal(result, "is not a directory")


def test_a_secret_file_with_too_few_characters_is_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "secret").write_text("abc\n")
    for args in (("serve",), ("token", "alice")):
        result = run(*args, env={"CHATIO_DATA_DIR": str(data)}, cwd=tmp_path)
        assert_one_line_refusal(result, "holds fewer than 16 characters")


def test_a_port_in_use_is_one_line_and_status_2(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("serve", "--host", "127.0.0.1", "--port", str(port),
                     env={"CHATIO_DATA_DIR": str(tmp_path / "data")},
                     cwd=tmp_path)
    assert_one_line_refusal(
        result, f"chatio: cannot listen on 127.0.0.1:{port}: Address "
        "already in use")
    assert "node started" not in result.stdout


async def test_node_started_names_host_port_and_version(tmp_path):
    node = ChatioProcess({"CHATIO_DATA_DIR": str(tmp_path / "data")},
                         tmp_path / "logs")
    await node.start()
    await node.terminate()
    lines = [json.loads(line) for line in node.stdout().splitlines()]
    started = [line for line in lines if line["msg"] == "node started"]
    assert len(started) == 1
    assert started[0]["host"] == "127.0.0.1"
    assert started[0]["port"] == node.port
    assert started[0]["version"].startswith("0.")
    assert started[0]["backend"] == "sqlite"
