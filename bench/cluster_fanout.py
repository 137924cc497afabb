"""What cluster fan-out costs a node that has no clients in the busy room,
and what subscription churn costs a node.

In cluster mode each room's emits go out on the room's shard channel, which
only nodes with members in the room subscribe to. A node with nobody in the
busy room should therefore spend next to nothing on it. This script
measures that:

1. starts its own ``redis-server`` on a free port and two chatio nodes,
   A and B, in cluster mode (unique key prefix, message rate limit off);
2. connects the load driver (``load.mjs``, the official socket.io-client)
   to node A only: receivers and senders all join one room. Node B has no
   clients;
3. baseline: samples the CPU time of both nodes and of redis-server
   (utime + stime from ``/proc/<pid>/stat``) while nothing is sent;
4. load: the senders send for ``--duration`` seconds, the receivers count
   deliveries, and the same CPU times are sampled again.

5. churn (``churn.py``, unless ``--churn-duration 0``): python-socketio
   clients on node B join a room new to the node and leave it again, as
   fast as acks come; the joins and leaves per second and the ``SSUBSCRIBE``
   commands per join (from node B's ``/metrics``) are reported, once with
   ``--churn-clients`` clients and once with ``--churn-crowd``. A socket's
   events run one at a time, so concurrency comes from the clients.

Machines are noisy, so the figure to quote is the ratio of node B's CPU to
node A's from the same run, not absolute times.

    .venv/bin/python bench/cluster_fanout.py [--receivers 50] [--senders 2]
        [--duration 10] [--rate 100] ...

Needs Linux, ``redis-server`` and ``node`` on PATH, and ``npm ci`` run in
``bench/``. Every process it starts is stopped on exit, also on Ctrl-C.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from churn import churn, pubsub_counts
from procstat import cpu_seconds

HERE = Path(__file__).resolve().parent
CHATIO = Path(sys.executable).parent / "chatio"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
# After the driver reports the deliveries drained, node B may still be
# decoding the last messages from Redis.
SETTLE = 0.5


def log(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the bench process dies, even
    if it is killed itself and cannot clean up."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


class Processes:
    """Every child the bench starts; ``stop_all`` ends them, newest first."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.children: list[tuple[str, subprocess.Popen[Any]]] = []

    def start(self, name: str, argv: Sequence[str], *,
              env: dict[str, str] | None = None,
              stdin: int | None = subprocess.DEVNULL,
              stdout: int | IO[Any] | None = None) -> subprocess.Popen[Any]:
        log_path = self.workdir / f"{name}.log"
        with open(log_path, "wb") as log_file:
            proc = subprocess.Popen(
                argv, env=env, stdin=stdin,
                stdout=log_file if stdout is None else stdout,
                stderr=log_file, start_new_session=True,
                preexec_fn=_die_with_parent)
        self.children.append((name, proc))
        return proc

    def finish(self, name: str, timeout: float) -> int:
        """Wait for a child that is meant to exit by itself, and forget it."""
        for index, (child, proc) in enumerate(self.children):
            if child == name:
                del self.children[index]
                if proc.stdin is not None:
                    proc.stdin.close()
                return proc.wait(timeout)
        raise KeyError(name)

    def stop(self, name: str) -> None:
        """SIGTERM one child (SIGKILL if it lingers), and forget it."""
        for index, (child, proc) in enumerate(self.children):
            if child == name:
                del self.children[index]
                _stop(name, proc, time.monotonic() + STOP_TIMEOUT)
                return
        raise KeyError(name)

    def check_alive(self) -> None:
        for name, proc in self.children:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {proc.returncode}\n{self.logs(name)}")

    def logs(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return f"--- {name} ---\n{text[-4000:]}"

    def stop_all(self) -> None:
        for name, proc in reversed(self.children):
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for name, proc in reversed(self.children):
            _stop(name, proc, deadline)
        self.children.clear()


def _stop(name: str, proc: subprocess.Popen[Any], deadline: float) -> None:
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        log(f"{name} did not stop on SIGTERM; killing it")
        proc.kill()
        proc.wait()


def redis_command(port: int, *args: str, timeout: float = 2.0) -> bytes:
    """One command on a fresh connection; the raw reply."""
    request = f"*{len(args)}\r\n".encode() + b"".join(
        f"${len(a.encode())}\r\n{a}\r\n".encode() for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout) as sock:
        sock.sendall(request)
        return sock.recv(65536)


def start_redis(procs: Processes) -> tuple[int, subprocess.Popen[Any]]:
    executable = shutil.which("redis-server")
    if executable is None:
        raise SystemExit("bench: redis-server is not on PATH")
    port = free_port()
    workdir = procs.workdir / "redis"
    workdir.mkdir()
    proc = procs.start("redis", [
        executable, "--port", str(port), "--bind", "127.0.0.1",
        "--save", "", "--appendonly", "no", "--dir", str(workdir)])
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        procs.check_alive()
        try:
            if redis_command(port, "PING", timeout=0.5).startswith(b"+PONG"):
                return port, proc
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"redis-server did not answer on port {port}")


def start_node(procs: Processes, name: str, env: dict[str, str], *,
               command_prefix: Sequence[str] = (),
               ) -> tuple[str, subprocess.Popen[Any]]:
    port = free_port()
    data_dir = procs.workdir / name
    data_dir.mkdir()
    node_env = {k: v for k, v in os.environ.items()
                if not k.startswith("CHATIO_")
                and k not in {"HOST", "PORT", "LOG_LEVEL"}}
    node_env.update(env)
    node_env.update({"CHATIO_DATA_DIR": str(data_dir),
                     "CHATIO_NODE_ID": f"bench-{name}"})
    proc = procs.start(name, [*command_prefix, str(CHATIO), "serve",
                              "--host", "127.0.0.1", "--port", str(port)],
                       env=node_env)
    return f"http://127.0.0.1:{port}", proc


def wait_ready(procs: Processes, url: str) -> None:
    """Until ``/readyz`` answers 200: history and pub/sub both work."""
    deadline = time.monotonic() + START_TIMEOUT
    last: object = None
    while time.monotonic() < deadline:
        procs.check_alive()
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        time.sleep(0.05)
    raise RuntimeError(f"{url} was not ready within {START_TIMEOUT}s ({last})")


def mint_tokens(secret: str, prefix: str, count: int) -> list[str]:
    from chatio.tokens import TokenIssuer
    issuer = TokenIssuer(secret, ttl=3600)
    return [issuer.mint(f"{prefix}-{i}") for i in range(count)]


def sample(pids: dict[str, int]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def read_event(stream: IO[str], procs: Processes,
               name: str = "driver") -> dict[str, Any]:
    """The next JSON line from the driver (the child called ``name``). The
    driver times out connects, acks and the drain itself, so this does not
    wait forever."""
    line = stream.readline()
    if not line:
        time.sleep(0.2)  # let the driver's exit status and log land
        raise RuntimeError(
            f"the load driver stopped early\n{procs.logs(name)}")
    return json.loads(line)


def ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 3) if denominator > 0 else None


def run(args: argparse.Namespace) -> dict[str, Any]:
    node_modules = HERE / "node_modules" / "socket.io-client"
    if not node_modules.is_dir():
        raise SystemExit("bench: run `npm ci` in bench/ first (or `make bench`)")
    node = shutil.which("node")
    if node is None:
        raise SystemExit("bench: node is not on PATH")
    workdir = Path(tempfile.mkdtemp(prefix="chatio-bench-"))
    procs = Processes(workdir)
    try:
        return _run(args, procs, node)
    finally:
        procs.stop_all()
        if args.keep:
            log(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _run(args: argparse.Namespace, procs: Processes,
         node: str) -> dict[str, Any]:
    redis_port, redis_proc = start_redis(procs)
    secret = secrets.token_urlsafe(32)
    prefix = f"bench-{secrets.token_hex(4)}"
    cluster_env = {
        "CHATIO_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "CHATIO_REDIS_PREFIX": prefix,
        "CHATIO_SECRET": secret,
        "CHATIO_RATE_MESSAGES": "0",
        "CHATIO_SHUTDOWN_TIMEOUT": "3",
        "LOG_LEVEL": "warning",
    }
    url_a, proc_a = start_node(procs, "node-a", cluster_env)
    url_b, proc_b = start_node(procs, "node-b", cluster_env)
    wait_ready(procs, url_a)
    wait_ready(procs, url_b)
    subscribers = redis_command(redis_port, "PUBSUB", "SHARDNUMSUB",
                                f"{prefix}:socketio:all")
    if not subscribers.rstrip().endswith(b":2"):
        raise RuntimeError(
            f"expected 2 nodes on the cluster-wide channel: {subscribers!r}")
    log(f"redis on port {redis_port}, node A {url_a}, node B {url_b}")

    config = {
        "url": url_a, "room": "bench",
        "receivers": mint_tokens(secret, "receiver", args.receivers),
        "senders": mint_tokens(secret, "sender", args.senders),
        "rate": args.rate, "window": args.window, "duration": args.duration,
        "textChars": args.text_chars, "drainTimeout": args.drain_timeout,
    }
    config_path = procs.workdir / "load.json"
    config_path.write_text(json.dumps(config))
    driver = procs.start("driver", [node, str(HERE / "load.mjs"),
                                    str(config_path)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert driver.stdin is not None and driver.stdout is not None
    stdin = open(driver.stdin.fileno(), "w", closefd=False)
    stdout = open(driver.stdout.fileno(), encoding="utf-8", closefd=False)
    ready = read_event(stdout, procs)
    log(f"{ready['sockets']} sockets connected to node A and joined "
        f"in {ready['connect_s']} s")

    pids = {"node_a": proc_a.pid, "node_b": proc_b.pid,
            "redis": redis_proc.pid, "driver": driver.pid}
    log(f"baseline: {args.baseline:g} s with nothing sent")
    before = sample(pids)
    b_received_before = pubsub_counts(url_b).get("received", 0.0)
    started = time.monotonic()
    time.sleep(args.baseline)
    idle_wall = time.monotonic() - started
    idle = sample(pids)

    log(f"load: {args.duration:g} s, "
        + (f"{args.rate:g} messages/s" if args.rate > 0
           else f"as fast as acks allow (window {args.window} per sender)"))
    stdin.write("go\n")
    stdin.flush()
    started = time.monotonic()
    done = read_event(stdout, procs)
    time.sleep(SETTLE)
    load_wall = time.monotonic() - started
    after = sample(pids)
    b_received = pubsub_counts(url_b).get("received", 0.0) - b_received_before
    stdin.close()
    procs.finish("driver", STOP_TIMEOUT)
    for url in (url_a, url_b):
        wait_ready(procs, url)  # still subscribed after the load
    churned: list[dict[str, Any]] = []
    if args.churn_duration > 0:
        for clients in (args.churn_clients, args.churn_crowd):
            tokens = mint_tokens(secret, f"churn{clients}", clients)
            log(f"churn: {clients} clients on node B, "
                f"{args.churn_duration:g} s")
            churned.append(churn(url_b, tokens, args.churn_duration))

    idle_cpu = {k: idle[k] - before[k] for k in pids}
    load_cpu = {k: after[k] - idle[k] for k in pids}
    # CPU above what the same process spends idle for as long.
    net_cpu = {k: load_cpu[k] - idle_cpu[k] / idle_wall * load_wall
               for k in pids}
    messages = done["acked"]
    thousands = messages / 1000

    def per_1000(seconds: float) -> float | None:
        return round(seconds * 1000 / thousands, 2) if thousands else None

    problems = []
    if not done["drained"]:
        problems.append("deliveries did not drain "
                        f"({done['deliveries']} of {done['expected_deliveries']})")
    if done["refused"] or done["timeouts"]:
        problems.append(f"{done['refused']} refused ({done['refusals']}), "
                        f"{done['timeouts']} ack timeouts")
    if done["disconnects"]:
        problems.append(f"{done['disconnects']} disconnects")
    for c in churned:
        if c["failed_joins"] or not c["joins"]:
            problems.append(f"churn: {c['failed_joins']} failed joins of "
                            f"{c['joins'] + c['failed_joins']}")
    if args.rate > 0 and done["behind"]:
        problems.append(f"{done['behind']} sends skipped: node A could not "
                        f"keep up with {args.rate:g} messages/s")

    return {
        "valid": not problems,
        "problems": problems,
        "machine": {
            "cpus": os.cpu_count(),
            "usable_cpus": len(os.sched_getaffinity(0)),
            "python": platform.python_version(),
            "python_socketio": metadata.version("python-socketio"),
        },
        "sizes": {
            "receivers": args.receivers, "senders": args.senders,
            "duration_s": args.duration, "baseline_s": args.baseline,
            "rate": args.rate, "window": args.window,
            "text_chars": args.text_chars,
        },
        "driver": done,
        "churn": churned,
        "wall_s": {"baseline": round(idle_wall, 3), "load": round(load_wall, 3)},
        "cpu_s": {
            "baseline": {k: round(v, 3) for k, v in idle_cpu.items()},
            "load": {k: round(v, 3) for k, v in load_cpu.items()},
            "load_net_of_idle": {k: round(v, 3) for k, v in net_cpu.items()},
        },
        "figures": {
            "messages_per_s": done["messages_per_s"],
            "deliveries_per_s": done["deliveries_per_s"],
            "node_a_cpu_s": round(load_cpu["node_a"], 3),
            "node_b_cpu_s": round(load_cpu["node_b"], 3),
            "redis_cpu_s": round(load_cpu["redis"], 3),
            "node_a_cpu_ms_per_1000_messages": per_1000(load_cpu["node_a"]),
            "node_b_cpu_ms_per_1000_messages": per_1000(load_cpu["node_b"]),
            "node_b_over_node_a": ratio(load_cpu["node_b"], load_cpu["node_a"]),
            "node_b_over_node_a_net_of_idle": ratio(net_cpu["node_b"],
                                                    net_cpu["node_a"]),
            "redis_over_node_a": ratio(load_cpu["redis"], load_cpu["node_a"]),
            "node_b_publications_received": b_received,
        },
    }


def summary(result: dict[str, Any]) -> str:
    f, s, d = result["figures"], result["sizes"], result["driver"]
    cpu = result["cpu_s"]
    mode = (f"target {s['rate']:g} messages/s" if s["rate"] > 0
            else f"as fast as acks allow, window {s['window']} per sender")
    lines = [
        f"{s['receivers']} receivers and {s['senders']} senders on node A, "
        f"node B without clients; {s['duration_s']:g} s of load ({mode}), "
        f"{s['baseline_s']:g} s idle baseline; "
        f"{result['machine']['usable_cpus']} usable CPUs",
        f"messages/s achieved    {f['messages_per_s']:>10}",
        f"deliveries/s           {f['deliveries_per_s']:>10}"
        f"   ({d['deliveries']} of {d['expected_deliveries']} expected)",
        f"ack latency ms         {d['ack_ms_p50']:>10} p50, "
        f"{d['ack_ms_p99']} p99",
        "CPU seconds            node A     node B      redis     driver",
    ]
    for label, key in (("  idle baseline", "baseline"),
                       ("  during load", "load"),
                       ("  load - idle", "load_net_of_idle")):
        row = cpu[key]
        lines.append(f"{label:<21}" + "".join(
            f"{row[k]:>11.2f}" for k in ("node_a", "node_b", "redis",
                                          "driver")))
    lines += [
        f"CPU ms per 1000 messages: node A "
        f"{f['node_a_cpu_ms_per_1000_messages']}, node B "
        f"{f['node_b_cpu_ms_per_1000_messages']}",
        f"node B / node A CPU    {f['node_b_over_node_a']:>10}"
        f"   (net of idle: {f['node_b_over_node_a_net_of_idle']})",
        f"redis / node A CPU     {f['redis_over_node_a']:>10}",
        f"node B received        {f['node_b_publications_received']:>10g}"
        f"   publications (chatio_pubsub_messages_received_total)",
    ]
    for c in result["churn"]:
        lines.append(
            f"churn on node B, {c['clients']} clients: "
            f"{c['joins_per_s']} joins/s, "
            f"{c['leaves_per_s']} leaves/s, {c['subscribe_round_trips_per_join']}"
            f" SSUBSCRIBE per join ({c['failed_joins']} failed)")
    if result["problems"]:
        lines.append("NOT VALID: " + "; ".join(result["problems"]))
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="CPU an idle cluster node spends on another node's "
                    "traffic (see the module docstring).")
    parser.add_argument("--receivers", type=int, default=50,
                        help="receiving sockets on node A (default 50)")
    parser.add_argument("--senders", type=int, default=2,
                        help="sending sockets on node A (default 2)")
    parser.add_argument("--duration", type=float, default=10.0,
                        help="seconds of load (default 10)")
    parser.add_argument("--baseline", type=float, default=10.0,
                        help="seconds of idle baseline (default 10)")
    parser.add_argument("--rate", type=float, default=100.0,
                        help="messages per second over all senders; 0 sends "
                             "as fast as acks allow (default 100)")
    parser.add_argument("--window", type=int, default=32,
                        help="messages in flight per sender at most "
                             "(default 32)")
    parser.add_argument("--text-chars", type=int, default=64,
                        help="characters per message text (default 64)")
    parser.add_argument("--drain-timeout", type=float, default=15.0,
                        help="seconds to wait for deliveries after the last "
                             "send (default 15)")
    parser.add_argument("--churn-clients", type=int, default=20,
                        help="clients on node B for the churn phase "
                             "(default 20)")
    parser.add_argument("--churn-duration", type=float, default=5.0,
                        help="seconds of each churn run; 0 skips it "
                             "(default 5)")
    parser.add_argument("--churn-crowd", type=int, default=100,
                        help="clients on node B for the second churn run "
                             "(default 100)")
    parser.add_argument("--json", metavar="PATH", type=Path,
                        help="write the JSON result here instead of stdout")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary directory with every log")
    args = parser.parse_args(argv)
    for name in ("receivers", "senders", "window", "text_chars",
                 "churn_clients", "churn_crowd"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.duration <= 0 or args.baseline <= 0 or args.rate < 0:
        parser.error("--duration and --baseline must be > 0, --rate >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the children are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        result = run(args)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    print(summary(result))
    document = json.dumps(result, indent=2)
    if args.json is not None:
        args.json.write_text(document + "\n")
        log(f"JSON written to {args.json}")
    else:
        print(document)
    return 0 if result["valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
