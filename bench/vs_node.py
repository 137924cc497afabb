"""One chatio node against a minimal Node.js Socket.IO server.

The same load driver (``load.mjs``) runs against each server in turn:
receivers and senders in one room, sending as fast as acks allow by
default. Each server is pinned to CPU 0 and the driver to CPU 1 with
``taskset`` when it is available, so neither server can borrow the
other core. The figure to quote is the ratio of deliveries per second,
chatio / node, from one run.

chatio runs as a single node with the in-memory history store, since the
reference server (``node_server.mjs``) stores nothing; its message rate
limit is off.

    .venv/bin/python bench/vs_node.py [--receivers 50] [--senders 2]
        [--duration 10] [--rate 0] ...
"""
from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cluster_fanout import (HERE, STOP_TIMEOUT, Processes, free_port, log,
                            mint_tokens, read_event, sample, start_node,
                            wait_ready)

# A driver busier than this (CPU seconds per second of load) may be what
# limits the throughput, rather than the server.
DRIVER_BOUND = 0.9


def pinned(cpu: int) -> list[str]:
    taskset = shutil.which("taskset")
    return [taskset, "-c", str(cpu)] if taskset else []


def drive(procs: Processes, node: str, url: str, tokens: dict[str, list[str]],
          args: argparse.Namespace, server_pid: int) -> dict[str, Any]:
    """Run the load driver against ``url``; its result and the server's CPU
    seconds during the load."""
    config = {"url": url, "room": "bench", **tokens,
              "rate": args.rate, "window": args.window,
              "duration": args.duration, "textChars": args.text_chars,
              "drainTimeout": args.drain_timeout}
    config_path = procs.workdir / f"load-{free_port()}.json"
    config_path.write_text(json.dumps(config))
    driver = procs.start("driver", [*pinned(1), node, str(HERE / "load.mjs"),
                                    str(config_path)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert driver.stdin is not None and driver.stdout is not None
    stdin = open(driver.stdin.fileno(), "w", closefd=False)
    stdout = open(driver.stdout.fileno(), encoding="utf-8", closefd=False)
    read_event(stdout, procs)
    time.sleep(1.0)  # let the joins settle before measuring
    pids = {"server": server_pid, "driver": driver.pid}
    before = sample(pids)
    stdin.write("go\n")
    stdin.flush()
    done = read_event(stdout, procs)
    after = sample(pids)
    stdin.close()
    procs.finish("driver", STOP_TIMEOUT)
    cpu = {k: round(after[k] - before[k], 3) for k in pids}
    return {"driver": done, "cpu_s": cpu,
            "driver_busy": round(cpu["driver"] / done["total_s"], 3)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None or not (HERE / "node_modules" / "socket.io").is_dir():
        raise SystemExit("bench: needs node and `npm ci` in bench/")
    workdir = Path(tempfile.mkdtemp(prefix="chatio-bench-"))
    procs = Processes(workdir)
    results: dict[str, Any] = {}
    try:
        secret = "bench-" + "s" * 32
        tokens = {"receivers": mint_tokens(secret, "receiver", args.receivers),
                  "senders": mint_tokens(secret, "sender", args.senders)}

        url, chatio = start_node(procs, "chatio", {
            "CHATIO_SECRET": secret, "CHATIO_RATE_MESSAGES": "0",
            "CHATIO_HISTORY_BACKEND": "memory",
            "CHATIO_SHUTDOWN_TIMEOUT": "3", "LOG_LEVEL": "warning",
        }, command_prefix=pinned(0))
        wait_ready(procs, url)
        log(f"chatio at {url}")
        results["chatio"] = drive(procs, node, url, tokens, args, chatio.pid)
        procs.stop_all()

        port = free_port()
        server = procs.start("node-server", [
            *pinned(0), node, str(HERE / "node_server.mjs"), str(port)])
        url = f"http://127.0.0.1:{port}"
        wait_ready(procs, url)
        log(f"node socket.io server at {url}")
        results["node"] = drive(procs, node, url, tokens, args, server.pid)
    finally:
        procs.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)

    def per_s(name: str) -> float:
        return results[name]["driver"]["deliveries_per_s"]

    problems = [f"{name}: {d['driver']}" for name, d in results.items()
                if not d["driver"]["drained"] or d["driver"]["refused"]
                or d["driver"]["timeouts"] or d["driver"]["disconnects"]]
    return {
        "valid": not problems,
        "problems": problems,
        "pinned": bool(pinned(0)),
        "sizes": {"receivers": args.receivers, "senders": args.senders,
                  "duration_s": args.duration, "rate": args.rate,
                  "window": args.window, "text_chars": args.text_chars},
        "servers": results,
        "deliveries_per_s_chatio_over_node": round(
            per_s("chatio") / per_s("node"), 3),
    }


def summary(result: dict[str, Any]) -> str:
    s = result["sizes"]
    lines = [f"{s['receivers']} receivers, {s['senders']} senders, "
             f"{s['duration_s']:g} s, "
             + (f"{s['rate']:g} messages/s" if s["rate"] > 0
                else f"as fast as acks allow (window {s['window']})")
             + ("; servers on CPU 0, driver on CPU 1" if result["pinned"]
                else "; not pinned (no taskset)"),
             f"{'':<8}{'messages/s':>12}{'deliveries/s':>14}"
             f"{'server CPU s':>14}{'driver CPU s':>14}"]
    for name, data in result["servers"].items():
        d, cpu = data["driver"], data["cpu_s"]
        lines.append(f"{name:<8}{d['messages_per_s']:>12}"
                     f"{d['deliveries_per_s']:>14}{cpu['server']:>14.2f}"
                     f"{cpu['driver']:>14.2f}")
    for name, data in result["servers"].items():
        if data["driver_busy"] >= DRIVER_BOUND:
            lines.append(f"note: the driver kept its core "
                         f"{data['driver_busy']:.0%} busy against {name}, so "
                         f"{name}'s figure is a lower bound")
    lines.append("deliveries/s chatio / node: "
                 f"{result['deliveries_per_s_chatio_over_node']}")
    if result["problems"]:
        lines.append("NOT VALID: " + "; ".join(result["problems"]))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Deliveries per second: one chatio node against a "
                    "minimal Node.js socket.io server.")
    parser.add_argument("--receivers", type=int, default=50)
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=0.0,
                        help="messages/s; 0 (default) sends as fast as acks "
                             "allow")
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--text-chars", type=int, default=64)
    parser.add_argument("--drain-timeout", type=float, default=15.0)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        result = run(args)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    print(summary(result))
    print(json.dumps(result, indent=2))
    return 0 if result["valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
