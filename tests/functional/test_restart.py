"""A real ``chatio serve`` process: history on SQLite and the generated
secret both survive a restart; the CLI mints tokens the node accepts."""
from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest

from support import ChatClient, ChatioProcess
from support.process import VENV_BIN, clean_environ
from support.tokens import load_token

API_KEY = "restart-test-api-key-0123456789"


@pytest.fixture
async def node(tmp_path: Path):
    """A node with no CHATIO_SECRET: it must generate and keep one."""
    data_dir = tmp_path / "data"
    process = ChatioProcess(
        env={"CHATIO_DATA_DIR": str(data_dir), "CHATIO_API_KEY": API_KEY,
             "CHATIO_HISTORY_BACKEND": "sqlite", "LOG_LEVEL": "info",
             "CHATIO_SHUTDOWN_TIMEOUT": "5"},
        log_dir=tmp_path / "logs")
    made: list[ChatClient] = []

    async def connect(token: str, **kwargs) -> ChatClient:
        client = ChatClient()
        made.append(client)
        await client.connect(process.url, token, **kwargs)
        return client

    process.connect = connect  # type: ignore[attr-defined]
    process.data_dir = data_dir  # type: ignore[attr-defined]
    yield process
    for client in made:
        await client.close()
    if process.running:
        process.kill()


async def mint_via_api(url: str, sub: str, **body) -> str:
    async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=10)) as session:
        async with session.post(f"{url}/api/tokens",
                                headers={"Authorization": f"Bearer {API_KEY}"},
                                json={"sub": sub, **body}) as resp:
            assert resp.status == 200, await resp.text()
            return (await resp.json())["token"]


def cli_token(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([str(VENV_BIN / "chatio"), "token", *args],
                            env=env, capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


async def test_history_and_generated_secret_survive_a_restart(node):
    await node.start()
    secret_file = node.data_dir / "secret"
    assert secret_file.is_file()
    assert stat.S_IMODE(os.stat(secret_file).st_mode) == 0o600
    secret_before = secret_file.read_bytes()

    alice_token = await mint_via_api(node.url, "alice", name="Alice")
    bob_token = cli_token(node.env, "bob", "--name", "Bob")
    alice = await node.connect(alice_token)
    bob = await node.connect(bob_token, location="query")
    await alice.join("lobby")
    await bob.join("lobby")
    sent = [(await alice.send("lobby", f"before restart {i}",
                              client_id=f"c{i}"))["message"]
            for i in range(5)]
    sent.append((await bob.send("lobby", "bob before"))["message"])
    await alice.close()
    await bob.close()

    assert await node.terminate() == 0, node.logs()
    await node.start()

    assert secret_file.read_bytes() == secret_before
    assert stat.S_IMODE(os.stat(secret_file).st_mode) == 0o600
    # Tokens minted before the restart, by the API and by the CLI, still work.
    alice = await node.connect(alice_token)
    bob = await node.connect(bob_token, location="header")
    ack = await alice.join("lobby")
    assert ack["history"] == sent
    assert ack["last_seq"] == 6
    await bob.join("lobby", since=3)
    # Idempotency survives too, and seq carries on from the stored messages.
    again = await alice.send("lobby", "retry", client_id="c0")
    assert again["duplicate"] is True
    assert again["message"] == sent[0]
    after = await alice.send("lobby", "after restart")
    assert after["message"]["seq"] == 7
    assert await bob.next("message") == after["message"]


async def test_sqlite_history_survives_sigkill_for_acked_messages(node):
    await node.start()
    token = await mint_via_api(node.url, "alice")
    alice = await node.connect(token)
    await alice.join("lobby")
    acked = [(await alice.send("lobby", f"m{i}"))["message"]
             for i in range(10)]
    await alice.close()
    node.kill()
    await node.start()
    alice = await node.connect(token)
    assert (await alice.join("lobby"))["history"] == acked


async def test_cli_token_is_accepted_by_the_node(node, tmp_path):
    await node.start()
    env = {**clean_environ(), "CHATIO_DATA_DIR": str(node.data_dir)}
    token = cli_token(env, "carol", "--name", "Carol", "--rooms", "team-*",
                      "ops", "--ttl", "120")
    claims = load_token((node.data_dir / "secret").read_text().strip(), token)
    assert claims["sub"] == "carol"
    assert claims["name"] == "Carol"
    assert claims["rooms"] == ["team-*", "ops"]
    assert time.time() < claims["exp"] <= time.time() + 121
    carol = await node.connect(token)
    await carol.join("team-blue")
    await carol.join("ops")
    forbidden = await carol.call("join", {"room": "lobby"})
    assert forbidden["error"]["code"] == "FORBIDDEN"
    ack = await carol.send("ops", "hi")
    assert ack["message"]["user"] == {"id": "carol", "name": "Carol"}


async def test_logs_are_json_lines_and_never_contain_tokens(node):
    await node.start()
    token = await mint_via_api(node.url, "dave")
    for location in ("auth", "query", "header"):
        client = await node.connect(token, location=location)
        await client.join("lobby")
        await client.send("lobby", "hello")
        await client.close()
    refused = ChatClient()
    data = await refused.refusal(node.url, token + "x", location="query")
    assert data["data"]["code"] == "UNAUTHORIZED"
    assert await node.terminate() == 0
    output = node.all_output()
    assert token not in output
    assert token.split(".")[-1] not in output
    lines = [line for line in node.stdout().splitlines() if line.strip()]
    assert lines, "the node logs its connections"
    for line in lines:
        assert isinstance(json.loads(line), dict), line
    assert not any('"message"' in line and "hello" in line for line in lines)


async def test_node_exits_promptly_on_sigterm(node):
    await node.start()
    token = await mint_via_api(node.url, "erin")
    client = await node.connect(token)
    await client.join("lobby")
    started = time.monotonic()
    code = await node.terminate(timeout=15)
    assert code == 0
    assert time.monotonic() - started < 5 + 2
    await asyncio.wait_for(client.disconnected.wait(), 10)


async def test_a_replaced_database_is_a_new_epoch_for_a_rejoining_client(node):
    await node.start()
    alice_token = await mint_via_api(node.url, "alice")
    bob_token = await mint_via_api(node.url, "bob")
    alice = await node.connect(alice_token)
    epoch = (await alice.join("lobby"))["epoch"]
    for n in range(3):
        await alice.send("lobby", f"old {n}")
    await alice.close()
    assert await node.terminate() == 0, node.logs()
    # The same database after a restart: the same epoch.
    await node.start()
    alice = await node.connect(alice_token)
    ack = await alice.join("lobby", since=3, epoch=epoch)
    assert ack["epoch"] == epoch and ack["last_seq"] == 3
    assert ack["history"] == [] and "gap" not in ack
    await alice.close()
    assert await node.terminate() == 0, node.logs()
    replaced = list(node.data_dir.glob("chatio.sqlite3*"))
    assert replaced
    for path in replaced:
        path.unlink()
    await node.start()
    bob = await node.connect(bob_token)
    await bob.join("lobby")
    fresh = (await bob.send("lobby", "new"))["message"]
    assert fresh["seq"] == 1 and len(fresh["epoch"]) == 16
    assert fresh["epoch"] != epoch
    alice = await node.connect(alice_token)
    ack = await alice.join("lobby", since=3, epoch=epoch)
    assert ack["gap"] is True and ack["history"] == [fresh]
    assert ack["epoch"] == fresh["epoch"] and ack["last_seq"] == 1
