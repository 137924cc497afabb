"""Fuzz a live chatio node over WebSocket and long-polling, then check it.

    python tests/fuzz/live.py --packets 100000 --seed 1234

starts one ``chatio serve`` on a free loopback port, sends that many random
and mutated packets from concurrent sessions (raw WebSocket frames, long-poll
requests, hand-written HTTP), and then checks that:

- the node is alive (``GET /healthz``);
- its RSS stayed within ``--max-rss-growth`` MiB of what it was before;
- it never answered an HTTP 5xx, and never left a request unanswered;
- every session it kept open still answered a probe event;
- once every fuzz client is gone, ``chatio_connected_sockets`` (and
  ``chatio_transport_sessions``, where the node has it) is 0 again within
  ``--sockets-timeout`` seconds;
- normal python-socketio clients still connect, join, send, get their ack
  and each other's message, over both transports.

Each session draws from its own RNG seeded with ``SEED:INDEX``, so a failing
session can be replayed alone (``--replay INDEX``). Exit status 1 on any
failed check, with a summary of what failed and the packets that led to it.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import itertools
import random
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``fuzz`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp

from fuzz import corpus
from fuzz.findings import Finding, Stats, trail_lines
from fuzz.http_session import HttpSession
from fuzz.node import (HOST, MAX_PAYLOAD, RssSampler, cpu_seconds, error_log,
                       healthy, running_node, rss_kib, signalled, wait_no_sockets)
from fuzz.normal import normal_clients_work
from fuzz.poll_session import PollSession
from fuzz.target import REQUEST_TIMEOUT, Target
from fuzz.ws_session import WsSession
from support.tokens import mint_token

# Shares of sessions per transport; the rest are hand-written HTTP.
WS_SHARE = 0.55
POLL_SHARE = 0.40
SESSION_PACKETS = (20, 400)
HTTP_SESSION_PACKETS = (5, 30)
PROFILES = ("payloads", "protocol")
# Every FLOOD_EVERY-th session (from the FLOOD_AT-th) floods binary
# attachments, alternately over each transport.
FLOOD_EVERY = 200
FLOOD_AT = 7
FLOOD_PACKETS = 1000
# Documented bounds (docs/deployment.md, "Fuzzing").
MAX_RSS_GROWTH_MIB = 32
MAX_PEAK_GROWTH_MIB = 48
SOCKETS_TIMEOUT = 10.0
# Triage of sessions left behind: at most this many replays, this long.
TRIAGE_SESSIONS = 60
TRIAGE_SECONDS = 90.0
# A session run alone must have left the socket gauge within this.
ALONE_TIMEOUT = 3.0


@dataclasses.dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclasses.dataclass
class Report:
    """Everything a run measured; ``ok`` when every check passed."""

    seed: int
    requested: int
    stats: Stats
    duration: float = 0.0
    rss_before_kib: int = 0
    rss_peak_kib: int = 0
    rss_after_kib: int = 0
    node_cpu: float = 0.0
    fuzzer_cpu: float = 0.0
    checks: list[Check] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)
    culprits: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(name, ok, detail))

    def render(self) -> str:
        stats = self.stats
        mib = 1024
        lines = [
            f"seed {self.seed}: {stats.total_packets} packets "
            f"({', '.join(f'{k} {v}' for k, v in sorted(stats.packets.items()))}) "
            f"in {stats.sessions} sessions, {self.duration:.1f} s "
            f"(CPU: node {self.node_cpu:.1f} s, fuzzer {self.fuzzer_cpu:.1f} s)",
            f"RSS before {self.rss_before_kib / mib:.1f} MiB, peak "
            f"{self.rss_peak_kib / mib:.1f} MiB, after {self.rss_after_kib / mib:.1f} MiB",
            "HTTP statuses: " + ", ".join(f"{k}: {v}" for k, v in sorted(stats.statuses.items())),
            "outcomes: " + ", ".join(f"{k}: {v}" for k, v in sorted(stats.outcomes.items())),
        ]
        lines += [f"  {'ok  ' if c.ok else 'FAIL'} {c.name}: {c.detail}" for c in self.checks]
        if stats.findings:
            lines.append("findings: " + ", ".join(
                f"{k} {v}" for k, v in sorted(stats.by_kind().items())))
            lines += [finding.render() for finding in stats.examples()]
        if self.culprits:
            lines.append("sessions that left a socket behind when replayed alone:")
            lines += self.culprits
        if self.errors:
            lines.append("node error log (count, logger: message | exception):")
            lines += self.errors
        lines.append(("PASSED" if self.ok else "FAILED") + f" (seed {self.seed})")
        return "\n".join(lines)


def make_target(port: int, secret: str) -> Target:
    """Valid tokens for a few users, and tokens the node must refuse."""
    good = tuple(mint_token(secret, f"fuzz-{i}", name=f"Fuzz {i}") for i in range(4)) + (
        mint_token(secret, "fuzz-limited", rooms=["lobby", "r-*"]),
        mint_token(secret, "guest-fuzz"),
    )
    bad = (
        mint_token("another-secret-entirely-0123456789", "mallory"),
        mint_token(secret, "old", issued_at=time.time() - 10 * 86400),
        mint_token(secret, "expired", exp=1),
        mint_token(secret, claims=["not", "an", "object"]),
        mint_token(secret, claims={"sub": ""}),
        mint_token(secret, "alice", salt="another-salt"),
        good[0][:-3] + "AAA", good[0] + ".", "", "x" * 9000,
    )
    return Target(HOST, port, MAX_PAYLOAD, good, bad)


def session_for(seed: int, index: int, target: Target, stats: Stats, remaining: int,
                http: aiohttp.ClientSession) -> WsSession | PollSession | HttpSession:
    """Session ``index`` of run ``seed``: the same one every time."""
    rng = random.Random(f"{seed}:{index}")
    roll = rng.random()
    profile = rng.choice(PROFILES)
    if index % FLOOD_EVERY == FLOOD_AT:
        budget = min(remaining, FLOOD_PACKETS)
        if index // FLOOD_EVERY % 2:
            return PollSession(index, rng, target, stats, budget, http, flood=True)
        return WsSession(index, rng, target, stats, budget, flood=True)
    if roll < WS_SHARE + POLL_SHARE:
        budget = min(remaining, rng.randint(*SESSION_PACKETS))
        if roll < WS_SHARE:
            return WsSession(index, rng, target, stats, budget, profile)
        return PollSession(index, rng, target, stats, budget, http, profile)
    return HttpSession(index, rng, target, stats,
                       min(remaining, rng.randint(*HTTP_SESSION_PACKETS)))


async def fuzz(target: Target, seed: int, packets: int, workers: int,
               stats: Stats, deadline: float) -> None:
    """Run sessions on ``workers`` concurrent tasks until ``packets`` were
    sent (or ``deadline``, a monotonic time, passed)."""
    indexes = itertools.count()
    remaining = packets
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as http:
        async def worker() -> None:
            nonlocal remaining
            while remaining > 0 and time.monotonic() < deadline:
                index = next(indexes)
                session = session_for(seed, index, target, stats, remaining, http)
                remaining -= session.budget
                stats.sessions += 1
                sent = await session.run()
                remaining += session.budget - max(1, sent)
        await asyncio.gather(*(worker() for _ in range(workers)))


Session = WsSession | PollSession | HttpSession


async def left_behind(url: str, session: Session) -> tuple[bool, str]:
    """Run ``session`` alone; whether the socket gauge came back to where
    it was within ``ALONE_TIMEOUT``, and the readings."""
    _, before, _ = await wait_no_sockets(url, 0.0, at_most=float("inf"))
    await session.run()
    ok, after, waited = await wait_no_sockets(url, ALONE_TIMEOUT,
                                              at_most=sum(before.values()))
    return not ok, f"chatio_connected_sockets {before} -> {after} after {waited:.1f} s"


async def run_corpus(target: Target, stats: Stats, url: str,
                     http: aiohttp.ClientSession) -> None:
    """The fixed cases, one at a time, before the random sessions."""
    for number, case in enumerate(corpus.cases(target)):
        index = -1 - number
        rng = random.Random(f"corpus:{case.name}")
        session: Session
        if case.transport == "websocket":
            session = WsSession(index, rng, target, stats, case.packets, script=case.steps)
        else:
            session = PollSession(index, rng, target, stats, case.packets, http,
                                  script=case.steps, polling=case.polling,
                                  pause=case.pause)
        stats.sessions += 1
        behind, readings = await left_behind(url, session)
        if behind:
            stats.found(Finding("left-behind", case.transport, index,
                                f"corpus case {case.name!r} left a socket behind: {readings}",
                                session.trail.snapshot()))


async def triage(target: Target, seed: int, sessions: int, url: str) -> list[str]:
    """Replay random sessions one at a time: those after which the socket
    gauge stays up left a session behind."""
    culprits: list[str] = []
    started = time.monotonic()
    async with aiohttp.ClientSession() as http:
        for index in range(min(sessions, TRIAGE_SESSIONS)):
            if len(culprits) >= 3 or time.monotonic() - started > TRIAGE_SECONDS:
                break
            session = session_for(seed, index, target, Stats(), 10**9, http)
            behind, readings = await left_behind(url, session)
            if behind:
                culprits.append(f"  session {index} ({type(session).__name__}, "
                                f"--replay {index}): {readings}; last packets:\n"
                                + "\n".join(trail_lines(session.trail.snapshot())))
    return culprits


async def run(packets: int, seed: int, workdir: Path, *, backend: str = "sqlite",
              workers: int = 16, max_seconds: float = 900.0,
              max_rss_growth_mib: float = MAX_RSS_GROWTH_MIB,
              max_peak_growth_mib: float = MAX_PEAK_GROWTH_MIB,
              sockets_timeout: float = SOCKETS_TIMEOUT,
              do_triage: bool = True) -> Report:
    """The whole fuzz run against a fresh node in ``workdir``."""
    stats = Stats()
    report = Report(seed, packets, stats)
    async with running_node(workdir, backend) as (node, secret):
        assert node.proc is not None
        pid = node.proc.pid
        target = make_target(node.port, secret)
        warm = await normal_clients_work(node.url, secret, "websocket", "warm-up")
        if warm is not None:
            report.check("normal clients before fuzzing", False, warm)
            return report
        report.rss_before_kib = rss_kib(pid)
        started, cpu, own_cpu = time.monotonic(), cpu_seconds(pid), time.process_time()
        async with RssSampler(pid) as sampler:
            async with aiohttp.ClientSession() as http:
                await run_corpus(target, stats, node.url, http)
            await fuzz(target, seed, packets - stats.total_packets, workers, stats,
                       started + max_seconds)
            report.duration = time.monotonic() - started
        if node.running:
            report.node_cpu = cpu_seconds(pid) - cpu
        report.fuzzer_cpu = time.process_time() - own_cpu
        report.rss_peak_kib = sampler.peak
        sent = stats.total_packets
        report.check("packets sent", sent >= packets,
                     f"{sent} of {packets} within {max_seconds:.0f} s")
        alive = await healthy(node.url, REQUEST_TIMEOUT)
        report.check("node alive", alive and node.running, "/healthz answered 200"
                     if alive else "/healthz did not answer 200" + signalled(node))
        if not alive:
            report.errors = error_log(node)
            return report
        if not node.running:
            report.check("node alive", False, "the process exited" + signalled(node))
            report.errors = error_log(node)
            return report
        clean, left, waited = await wait_no_sockets(node.url, sockets_timeout)
        report.check("no socket left behind", clean,
                     f"chatio_connected_sockets {left} after {waited:.1f} s")
        report.rss_after_kib = rss_kib(pid)
        growth = (report.rss_after_kib - report.rss_before_kib) / 1024
        peak = (report.rss_peak_kib - report.rss_before_kib) / 1024
        report.check("RSS bounded", growth <= max_rss_growth_mib and peak <= max_peak_growth_mib,
                     f"grew {growth:.1f} MiB (bound {max_rss_growth_mib:.0f}), peak "
                     f"+{peak:.1f} MiB (bound {max_peak_growth_mib:.0f})")
        fives = {s: n for s, n in stats.statuses.items() if s.isdigit() and int(s) >= 500}
        report.check("no HTTP 5xx", not fives, f"5xx answers: {fives or 'none'}")
        kinds = stats.by_kind()
        for kind, what in (("hang", "requests left unanswered"),
                           ("deaf", "open sessions that stopped answering"),
                           ("poll-not-released", "long-polls not released on close"),
                           ("not-closed", "WebSockets not closed after a close")):
            report.check(f"no {kind}", not kinds.get(kind), f"{what}: {kinds.get(kind, 0)}")
        report.check("no socket left behind by a fixed case", not kinds.get("left-behind"),
                     f"corpus cases that left a socket behind: {kinds.get('left-behind', 0)}")
        others = {k: v for k, v in kinds.items() if k not in (
            "hang", "deaf", "poll-not-released", "not-closed", "left-behind", "5xx")}
        report.check("no other findings", not others, f"{others or 'none'}")
        for transport in ("websocket", "polling"):
            problem = await normal_clients_work(node.url, secret, transport, "after")
            report.check(f"normal clients over {transport}", problem is None,
                         problem or "connect, join, send, ack and delivery work")
        if not clean and do_triage:
            report.culprits = await triage(target, seed, stats.sessions, node.url)
        report.errors = error_log(node)
    return report


async def replay(seed: int, indexes: list[int], workdir: Path, backend: str) -> int:
    """Run chosen sessions alone against a fresh node and show what happened."""
    async with running_node(workdir, backend) as (node, secret):
        target = make_target(node.port, secret)
        async with aiohttp.ClientSession() as http:
            for index in indexes:
                stats = Stats()
                session = session_for(seed, index, target, stats, 10**9, http)
                sent = await session.run()
                clean, left, waited = await wait_no_sockets(node.url, SOCKETS_TIMEOUT)
                print(f"session {index} ({type(session).__name__}): {sent} packets, "
                      f"statuses {dict(stats.statuses)}, outcomes {dict(stats.outcomes)}, "
                      f"sockets after {waited:.1f} s: {left}")
                for line in trail_lines(session.trail.snapshot()):
                    print(line)
                for finding in stats.findings:
                    print(finding.render())
        for line in error_log(node):
            print(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packets", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=None,
                        help="default: a random one, printed")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--backend", choices=("sqlite", "memory"), default="sqlite")
    parser.add_argument("--max-seconds", type=float, default=900.0)
    parser.add_argument("--max-rss-growth", type=float, default=MAX_RSS_GROWTH_MIB,
                        metavar="MIB")
    parser.add_argument("--max-peak-growth", type=float, default=MAX_PEAK_GROWTH_MIB,
                        metavar="MIB")
    parser.add_argument("--sockets-timeout", type=float, default=SOCKETS_TIMEOUT)
    parser.add_argument("--replay", type=int, nargs="+", metavar="INDEX",
                        help="run only these sessions of --seed, one at a time")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the node's data and logs here")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**9)
    print(f"fuzz seed {seed}", flush=True)
    with contextlib.ExitStack() as stack:
        workdir = args.workdir or Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="chatio-fuzz-")))
        if args.replay:
            return asyncio.run(replay(seed, args.replay, workdir, args.backend))
        report = asyncio.run(run(
            args.packets, seed, workdir, backend=args.backend, workers=args.workers,
            max_seconds=args.max_seconds, max_rss_growth_mib=args.max_rss_growth,
            max_peak_growth_mib=args.max_peak_growth,
            sockets_timeout=args.sockets_timeout))
        print(report.render(), flush=True)
        return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
