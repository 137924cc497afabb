"""One chatio node against a Node.js socket.io server, on three workloads.

For each workload, each server in turn is started fresh and pinned to CPU
0 (``taskset``), and the load generator (``rawload.py``: raw WebSocket
clients that count frames and decode a sample) to CPU 1:

- fan-out: one sender keeps ``--window`` acked messages in flight to a room
  of ``--receivers``; deliveries/s and send-to-receive latency;
- chat: ``--chat-clients`` in rooms of ``--room-size``, each sending every
  ``--chat-period`` seconds; latency, server CPU per second, and whether
  every send was acked and delivered;
- idle: ``--idle-clients`` connected and joined, rooms of ``--room-size``;
  server RSS per connection and connects/s.

chatio runs as ``chatio serve`` with the in-memory history store and no
message rate limit; the other server is ``node_server.mjs`` on the npm
``socket.io`` package. See docs/performance.md.

    .venv/bin/python bench/vs_node.py [--quick] [--only fanout chat] ...
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import report
from cluster_fanout import (HERE, STOP_TIMEOUT, Processes, free_port, log,
                            mint_tokens, read_event, start_node, wait_ready)
from procstat import cpu_busy_seconds, tree_cpu_seconds, tree_rss_bytes

SECRET = "bench-" + "s" * 32
WORKLOADS = ("fanout", "chat", "idle")
SERVERS = ("chatio", "node")
SETTLE_S = 1.0  # after set-up, and before reading an idle server's RSS
QUICK = {"receivers": 200, "fanout_duration": 3.0, "chat_clients": 200,
         "chat_duration": 5.0, "idle_clients": 500}


def pinned(cpu: int) -> list[str]:
    taskset = shutil.which("taskset")
    return [taskset, "-c", str(cpu)] if taskset else []


def raise_nofile() -> None:
    """Children inherit the limit: let them open as many files as allowed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def start_server(procs: Processes, server: str, name: str,
                 node: str) -> tuple[str, subprocess.Popen[Any]]:
    """Start ``server`` on CPU 0; its URL and process once it is ready."""
    if server == "chatio":
        url, proc = start_node(procs, name, {
            "CHATIO_SECRET": SECRET, "CHATIO_RATE_MESSAGES": "0",
            "CHATIO_HISTORY_BACKEND": "memory",
            "CHATIO_SHUTDOWN_TIMEOUT": "3", "LOG_LEVEL": "warning",
        }, command_prefix=pinned(0))
    else:
        port = free_port()
        proc = procs.start(name, [*pinned(0), node,
                                  str(HERE / "node_server.mjs"), str(port)],
                           env={**os.environ, "CHATIO_SECRET": SECRET})
        url = f"http://127.0.0.1:{port}"
    wait_ready(procs, url)
    return url, proc


def workload_config(workload: str, args: argparse.Namespace,
                    tokens: list[str]) -> dict[str, Any]:
    common = {"mode": workload, "text_bytes": args.text_bytes,
              "room_size": args.room_size, "concurrency": args.concurrency}
    if workload == "fanout":
        return {**common, "tokens": tokens[:args.receivers + 1],
                "window": args.window, "duration": args.fanout_duration,
                "batch_bytes": args.batch_bytes,
                "drain_timeout": args.drain_timeout}
    if workload == "chat":
        return {**common, "tokens": tokens[:args.chat_clients],
                "period": args.chat_period, "duration": args.chat_duration,
                "drain_timeout": args.drain_timeout}
    return {**common, "tokens": tokens[:args.idle_clients]}


def sample(server: int, load: int) -> dict[str, float]:
    """CPU seconds used so far by the server, the generator, and the two
    CPUs they are pinned to (by anyone)."""
    return {"server": tree_cpu_seconds(server),
            "load": tree_cpu_seconds(load),
            "cpu0": cpu_busy_seconds(0), "cpu1": cpu_busy_seconds(1)}


def run_one(procs: Processes, server: str, workload: str,
            config: dict[str, Any], node: str) -> dict[str, Any]:
    """One workload against one fresh server: the generator's figures and
    what the bench sampled from /proc."""
    name = f"{server}-{workload}"
    url, server_proc = start_server(procs, server, name, node)
    pid = server_proc.pid
    host, port = url.removeprefix("http://").rsplit(":", 1)
    path = procs.workdir / f"{name}.json"
    path.write_text(json.dumps({**config, "host": host, "port": int(port)}))
    loader = procs.start(f"load-{name}", [
        *pinned(1), sys.executable, str(HERE / "rawload.py"), str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert loader.stdin is not None and loader.stdout is not None
    stdin = open(loader.stdin.fileno(), "w", closefd=False)
    stdout = open(loader.stdout.fileno(), encoding="utf-8", closefd=False)
    ready = read_event(stdout, procs, f"load-{name}")
    time.sleep(SETTLE_S)
    cpu = sample(pid, loader.pid)
    rss_before = tree_rss_bytes(pid)
    started = time.monotonic()
    stdin.write("go\n")
    stdin.flush()
    done = read_event(stdout, procs, f"load-{name}")
    wall = time.monotonic() - started
    cpu = {k: v - cpu[k] for k, v in sample(pid, loader.pid).items()}
    if workload == "idle":
        time.sleep(SETTLE_S)
    rss_after = tree_rss_bytes(pid)
    stdin.close()
    status = procs.finish(f"load-{name}", STOP_TIMEOUT)
    server_exit = server_proc.poll()
    if server_exit is not None:
        log(f"{server} exited during {workload}\n{procs.logs(name)}")
    procs.stop(name)
    return {"ready": ready, "done": done, "wall_s": round(wall, 3),
            "exit_status": status, "server_exit": server_exit,
            "cpu_s": {k: round(v, 3) for k, v in cpu.items()},
            "server_cpu_per_s": round(cpu["server"] / wall, 3),
            "server_cpu_others_per_s": round(
                (cpu["cpu0"] - cpu["server"]) / wall, 3),
            "load_cpu_others_per_s": round(
                (cpu["cpu1"] - cpu["load"]) / wall, 3),
            "load_busy": round(cpu["load"] / wall, 3),
            "rss_before": rss_before, "rss_after": rss_after}


def run(args: argparse.Namespace) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None or not (HERE / "node_modules" / "socket.io").is_dir():
        raise SystemExit("bench: needs node and `npm ci` in bench/ "
                         "(`make bench-node` does both)")
    raise_nofile()
    workdir = Path(tempfile.mkdtemp(prefix="chatio-bench-"))
    procs = Processes(workdir)
    most = max(args.receivers + 1, args.chat_clients, args.idle_clients)
    tokens = mint_tokens(SECRET, "user", most)
    results: dict[str, dict[str, Any]] = {}
    try:
        for workload in args.only:
            config = workload_config(workload, args, tokens)
            for server in args.servers:
                log(f"{workload} against {server}")
                results.setdefault(workload, {})[server] = run_one(
                    procs, server, workload, config, node)
    finally:
        procs.stop_all()
        if args.keep:
            log(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return {"machine": {"cpus": os.cpu_count(), "pinned": bool(pinned(0))},
            "sizes": {k: v for k, v in vars(args).items()
                      if k not in {"json", "keep", "quick"}},
            "results": results,
            "problems": report.problems(results)}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="chatio against a Node.js socket.io server: fan-out, "
                    "moderate chat and idle connections.")
    add = parser.add_argument
    add("--quick", action="store_true",
        help="small sizes for a quick check: " + ", ".join(
            f"--{k.replace('_', '-')} {v:g}" for k, v in QUICK.items()))
    add("--only", nargs="+", choices=WORKLOADS, default=list(WORKLOADS),
        help="workloads to run (default: all)")
    add("--servers", nargs="+", choices=SERVERS, default=list(SERVERS),
        help="servers to run them against (default: both)")
    add("--receivers", type=int, default=1000, help="fan-out room size")
    add("--window", type=int, default=8, help="fan-out messages in flight")
    add("--fanout-duration", type=float, default=10.0, help="seconds")
    add("--batch-bytes", type=int, default=4096,
        help="fan-out receivers that do not sample latency read once this "
             "much is waiting (SO_RCVLOWAT), to be cheaper; 0 reads at once")
    add("--chat-clients", type=int, default=2000)
    add("--chat-period", type=float, default=2.0,
        help="seconds between two sends of one chat client")
    add("--chat-duration", type=float, default=20.0, help="seconds")
    add("--idle-clients", type=int, default=5000)
    add("--room-size", type=int, default=10, help="chat and idle rooms")
    add("--concurrency", type=int, default=64,
        help="clients connecting at the same time")
    add("--text-bytes", type=int, default=100, help="message text size")
    add("--drain-timeout", type=float, default=20.0,
        help="seconds to wait for acks and deliveries after the last send")
    add("--json", metavar="PATH", type=Path,
        help="also write every figure, as JSON, to PATH")
    add("--keep", action="store_true",
        help="keep the temporary directory with every log")
    if parser.parse_known_args(argv)[0].quick:
        parser.set_defaults(**{k: type(parser.get_default(k))(v)
                               for k, v in QUICK.items()})
    args = parser.parse_args(argv)
    for name in ("receivers", "window", "chat_clients", "idle_clients",
                 "room_size", "concurrency"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.text_bytes < 24:
        parser.error("--text-bytes must be at least 24 (the send time)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        result = run(args)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    print(report.table(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        log(f"JSON written to {args.json}")
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
