"""The chaos run: a cluster under random faults, hundreds of users, and a
check that nothing was lost or duplicated.

    python tests/chaos/run.py --duration 600 --seed 1234

starts Redis (append-only file, ``appendfsync always``), three chatio nodes
and nginx on loopback, connects ``--users`` chatio-client users (one Node.js
process) to a few shared rooms each, and lets them send with ``client_id``
while faults strike at random for ``--duration`` seconds: kill -9 of a node,
SIGTERM of a node, kill -9 of Redis (of one master with
``--redis-cluster``), SIGSTOP of a node. Then the sends are
drained, one marker message per room makes every client catch up to the end
of history, and it checks that:

- every acked message is in history exactly once, by client_id and by id;
- every client's view of each room equals the room's history;
- presence matches the connected clients within TTL + grace (+ heartbeat);
- every fault was survived.

Exit status 1 on any finding, each printed; 2 when the run could not start.
The seed is printed, and a run with the same seed draws the same faults.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``chaos`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp

from chaos.checker import (Finding, check_history, check_presence, check_sends,
                           check_views)
from chaos.cluster import ChaosCluster, Timings
from chaos.faults import KINDS, LABELS, FaultScheduler
from chaos.logs import chat_sockets, node_errors
from chaos.observe import ServerApi
from chaos.users import UsersDriver, plan_users

DRAIN_TIMEOUT = 180.0
CATCH_UP_TIMEOUT = 90.0
# Seconds beyond the bounds of presence_deadline: the sweeper's tick, a
# heartbeat refresh, the harness's own polling.
PRESENCE_SLACK = 3.0
# Users whose sockets a presence finding explains from the nodes' logs.
EXPLAINED_USERS = 5
# How much of an error the console gets; the rest is in the logs.
ERROR_LINES = 4
ERROR_CHARS = 1200


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tests/chaos/run.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600,
                        help="seconds of faults (default 600)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seeds faults, rooms and send timings (default: random)")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--rooms", type=int, default=8)
    parser.add_argument("--rooms-per-user", type=int, default=3)
    parser.add_argument("--send-interval", type=float, default=20,
                        help="mean seconds between one user's sends (default 20)")
    parser.add_argument("--polling-share", type=float, default=0.2,
                        help="share of users on long-polling (default 0.2)")
    parser.add_argument("--faults", default=",".join(KINDS),
                        help=f"kinds to draw from (default {','.join(KINDS)})")
    parser.add_argument("--gap", type=float, nargs=2, default=(5, 15),
                        metavar=("MIN", "MAX"),
                        help="seconds between faults (default 5 15)")
    parser.add_argument("--stall", type=float, nargs=2, default=(2, 12),
                        metavar=("MIN", "MAX"),
                        help="seconds a stalled node stays stopped (default 2 12)")
    parser.add_argument("--down", type=float, nargs=2, default=(0.5, 3),
                        metavar=("MIN", "MAX"),
                        help="seconds a killed or stopped process stays down "
                             "(default 0.5 3)")
    parser.add_argument("--appendfsync", choices=("always", "everysec", "off"),
                        default="always",
                        help="Redis's AOF fsync policy (default always); off "
                             "runs Redis without persistence, to see the "
                             "check fail")
    parser.add_argument("--redis-cluster", action="store_true",
                        help="a Redis Cluster of three masters instead of one "
                             "Redis")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="logs and state (default: a temporary directory, "
                             "kept when the run fails)")
    args = parser.parse_args(argv)
    args.faults = [kind.strip() for kind in args.faults.split(",") if kind.strip()]
    unknown = sorted(set(args.faults) - set(KINDS))
    if unknown or not args.faults:
        parser.error(f"--faults takes kinds of {','.join(KINDS)}; not {unknown}")
    if not 1 <= args.rooms_per_user <= args.rooms:
        parser.error("--rooms-per-user must be between 1 and --rooms")
    if args.users < 2 or args.users > 60_000:
        parser.error("--users must be 2-60000")
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 2**31)
    return args


def say(text: str) -> None:
    print(text, flush=True)


async def chaos(args: argparse.Namespace, workdir: Path) -> int:
    rng = random.Random(args.seed)
    timings = Timings()
    cluster = ChaosCluster(workdir, appendfsync=args.appendfsync,
                           redis_cluster=args.redis_cluster, timings=timings)
    say(f"chaos: seed {args.seed}, {args.duration:g} s of faults "
        f"({', '.join(LABELS[k] for k in args.faults)}), {args.users} users "
        f"in {args.rooms} rooms ({args.rooms_per_user} each), 3 nodes, "
        f"{cluster.redis.describe()} (appendfsync {args.appendfsync}); "
        f"logs in {workdir}")
    driver: UsersDriver | None = None
    try:
        await cluster.start()
        specs = plan_users(rng, cluster.secret, users=args.users, rooms=args.rooms,
                           rooms_per_user=args.rooms_per_user,
                           polling_share=args.polling_share)
        driver = await UsersDriver(workdir, {
            "url": cluster.url, "seed": args.seed,
            "sendIntervalMs": args.send_interval * 1000, "ackTimeoutMs": 10_000,
            "connectBatch": 25, "joinTimeoutMs": 60_000, "users": specs,
        }).start()
        started = await driver.request("start", 600)
        if started["failed"]:
            say(f"chaos: {len(started['failed'])} users could not join: "
                f"{started['failed'][:5]}")
            return 2
        say(f"chaos: {started['joined']} users joined; sending and faulting")
        await driver.request("send", 30)
        faults = FaultScheduler(cluster, rng, args.faults, gap=tuple(args.gap),
                                down=tuple(args.down), stall=tuple(args.stall))
        began = time.monotonic()
        await faults.run(args.duration)
        say(f"chaos: faults over after {time.monotonic() - began:.0f} s; draining")
        drained = await driver.request("drain", DRAIN_TIMEOUT + 30,
                                       timeoutMs=DRAIN_TIMEOUT * 1000)
        async with aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=10)) as session:
            api = ServerApi(session, cluster.nodes[0].url, cluster.api_key)
            findings, figures = await verify(args, driver, api, faults, timings,
                                             drained["pending"])
    finally:
        if driver is not None:
            await driver.close()
        stuck = await cluster.stop()
    findings += [Finding("shutdown-hang", "*", problem) for problem in stuck]
    figures["node_errors"] = node_errors(workdir)
    print_report(args, faults, figures, findings)
    explain_presence(workdir, findings)
    return 1 if findings else 0


async def verify(args: argparse.Namespace, driver: UsersDriver, api: ServerApi,
                 faults: FaultScheduler, timings: Timings, pending: int
                 ) -> tuple[list[Finding], dict[str, Any]]:
    rooms = [f"room-{index + 1}" for index in range(args.rooms)]
    # A marker at the end of every room: a client that missed the tail of a
    # room notices the hole below it and fills it, as the library does.
    markers = {room: await api.publish(room, f"end of chaos run {args.seed}",
                                       f"chaos-end-{args.seed}")
               for room in rooms}
    behind = (await driver.request(
        "await", CATCH_UP_TIMEOUT + 30, timeoutMs=CATCH_UP_TIMEOUT * 1000,
        targets={room: marker["seq"] for room, marker in markers.items()}))["behind"]
    report = await driver.report()
    history = {room: await api.history(room) for room in rooms}
    findings = [*check_history(history), *check_sends(history, report["sends"]),
                *check_views(history, report["views"])]
    findings += [Finding("not-caught-up", item.split("/")[1].split("@")[0], item)
                 for item in behind]
    findings += [Finding("fault-not-survived", "*", failure)
                 for failure in faults.failures]
    presence, converged, window = await settle_presence(
        api, driver, rooms, report["rooms"], timings, faults.last_fault_end)
    findings += presence
    sends = report["sends"]
    figures = {
        "sent": len(sends),
        "acked": sum(1 for s in sends if s["status"] == "acked"),
        "failed": sum(1 for s in sends if s["status"] == "failed"),
        "pending": pending,
        "delivered": sum(len(view) for rooms_ in report["views"].values()
                         for view in rooms_.values()),
        "stored": sum(len(entries) for entries in history.values()),
        "expected_deliveries": sum(len(history[room]) for user_rooms in
                                   report["rooms"].values() for room in user_rooms),
        "reconnects": report["reconnects"],
        "errors": report["errors"],
        "presence_window": window,
        "presence_converged": converged,
    }
    return findings, figures


def presence_deadline(timings: Timings, last_fault_end: float,
                      last_connected: float) -> tuple[str, float]:
    """When presence must match (wall clock), and why then.

    A dead node's entries go within TTL + grace of its death. A client that
    moved leaves its old socket behind when the old node never saw it go (a
    long-polling session that nginx routes elsewhere once the client's own
    node is back, a socket whose close the stalled node did not see): that
    socket ends with its heartbeat, ping interval + ping timeout after the
    client's last request or after its node resumed, and its user's entry a
    grace later."""
    after_fault = last_fault_end + timings.presence_ttl + timings.presence_grace
    heartbeat = timings.ping_interval + timings.ping_timeout
    # A stalled node's heartbeat timers stood still: they start again when
    # it resumes, which is when the fault ended.
    moved = max(last_connected, last_fault_end)
    after_move = moved + heartbeat + timings.presence_grace
    if after_fault >= after_move:
        why = f"TTL + grace + {PRESENCE_SLACK:g} s after the last fault"
    else:
        why = (f"heartbeat + grace + {PRESENCE_SLACK:g} s after the last "
               + ("reconnect" if last_connected > last_fault_end else "fault"))
    return why, max(after_fault, after_move) + PRESENCE_SLACK


async def settle_presence(api: ServerApi, driver: UsersDriver, rooms: list[str],
                          user_rooms: dict[str, list[str]], timings: Timings,
                          last_fault_end: float
                          ) -> tuple[list[Finding], float | None, str]:
    """Presence of every room, polled until every client is connected and
    presence matches them, or the deadline passes (moved on by every
    reconnect); the findings of the last look, how long it took, and what
    set the deadline."""
    start = time.time()
    while True:
        now = await driver.request("status", 30)
        expected: dict[str, list[str]] = {room: [] for room in rooms}
        for user, status in now["statuses"].items():
            if status == "connected":
                for room in user_rooms[user]:
                    expected[room].append(user)
        why, deadline = presence_deadline(timings, last_fault_end,
                                          now["lastConnectedAt"] / 1000)
        actual = {room: await api.members(room) for room in rooms}
        findings = check_presence(expected, actual)
        offline = sorted(user for user, status in now["statuses"].items()
                         if status != "connected")
        if offline:
            findings.append(Finding("client-offline", "*",
                                    f"not connected: {offline}"))
        if not findings:
            return [], time.time() - start, why
        if time.time() >= deadline:
            return findings, None, why
        # Presence changes leave no event the harness could await.
        await asyncio.sleep(0.5)


def print_report(args: argparse.Namespace, faults: FaultScheduler,
                 figures: dict[str, Any], findings: list[Finding]) -> None:
    say("")
    say(f"chaos run, seed {args.seed}: {args.duration:g} s, {args.users} users, "
        f"{args.rooms} rooms")
    survived = ", ".join(f"{LABELS[k]} x{faults.survived[k]}" for k in args.faults)
    say(f"  faults survived: {survived} ({sum(faults.survived.values())} in all, "
        f"{len(faults.failures)} not survived)")
    say(f"  messages: {figures['sent']} sent, {figures['acked']} acked, "
        f"{figures['failed']} failed, {figures['pending']} never answered; "
        f"{figures['stored']} stored (with {args.rooms} end markers); "
        f"{figures['delivered']} delivered to the users' views (history holds "
        f"{figures['expected_deliveries']} for them)")
    say(f"  client reconnects: {figures['reconnects']}; client errors: "
        f"{json.dumps(figures['errors'], sort_keys=True)}")
    errors = figures["node_errors"]
    say(f"  node log lines at error level: {sum(errors.values())}"
        + "".join(f"\n    {count:6d}  {what}" for what, count in errors.most_common(6)))
    converged = figures["presence_converged"]
    say("  presence: " + (f"matched the connected clients {converged:.1f} s after "
                          f"the check began" if converged is not None
                          else "did NOT match in time")
        + f" (deadline: {figures['presence_window']})")
    if not findings:
        say("  result: OK, nothing lost, nothing duplicated")
        return
    kinds = Counter(finding.kind for finding in findings)
    say(f"  result: FAILED, {len(findings)} findings ("
        + ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
        + "):")
    for finding in findings:
        say(f"    {finding}")


def explain_presence(workdir: Path, findings: list[Finding]) -> None:
    """For users presence got wrong: their /chat sockets as the nodes saw
    them come and go."""
    users = sorted({user for finding in findings if finding.kind.startswith("presence-")
                    for user in re.findall(r"user-\d+", finding.detail)})
    for user in users[:EXPLAINED_USERS]:
        say(f"  {user}'s /chat sockets, as the nodes logged them:")
        for line in chat_sockets(workdir, user):
            say(f"    {line}")


def brief(exc: BaseException) -> str:
    """The first lines of an error (a node's start failure quotes its logs)."""
    lines = f"{type(exc).__name__}: {exc}".splitlines()
    text = "\n".join(lines[:ERROR_LINES])
    if len(text) > ERROR_CHARS:
        text = text[:ERROR_CHARS] + "..."
    return text + ("\n  (more in the logs)" if len(lines) > ERROR_LINES else "")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.redis_cluster and args.appendfsync == "off":
        say("chaos: --redis-cluster runs with the append-only file; "
            "--appendfsync off is for one Redis")
        return 2
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="chatio-chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        code = asyncio.run(chaos(args, workdir))
    except KeyboardInterrupt:
        return 130
    except BaseException as exc:  # pytest's skip/fail from the fixtures too
        if isinstance(exc, SystemExit):
            raise
        say(f"chaos: the run could not complete: {brief(exc)}")
        say(f"chaos: logs kept in {workdir}")
        return 2
    if code == 0 and args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    elif code:
        say(f"chaos: logs kept in {workdir}")
    return code


if __name__ == "__main__":
    sys.exit(main())
