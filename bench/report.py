"""The table ``vs_node`` prints, and the checks that make a run invalid.

A figure measured while the load generator kept its core busier than
``SATURATED`` is a bound: rates are at least the figure (``≥``), latencies at
most (``≤``). A ratio of two figures is a bound when its parts agree on a
direction, and ``?`` when they do not. A run during which other processes
used a pinned CPU noticeably is starred.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from cluster_fanout import HERE

SATURATED = 0.9
DISTURBED = 0.1  # CPU s/s that others took on a pinned CPU
AT_LEAST, AT_MOST = "≥", "≤"
LABELS = {"fanout": "fan-out", "chat": "chat", "idle": "idle"}


@dataclass(frozen=True)
class Figure:
    """One row: how to read it from a run, and which way it can be off."""

    label: str
    value: Callable[[dict[str, Any]], float | None]
    digits: int
    bound: str | None = None  # the direction when the generator saturated


def _rss_kib(run: dict[str, Any]) -> float | None:
    connected = run["done"]["connected"]
    if not connected or run["server_exit"] is not None:
        return None
    return (run["rss_after"] - run["rss_before"]) / connected / 1024


FIGURES: dict[str, list[Figure]] = {
    "fanout": [
        Figure("deliveries/s", lambda r: r["done"]["deliveries_per_s"], 0,
               AT_LEAST),
        Figure("latency p50 ms", lambda r: r["done"]["latency_ms_p50"], 1,
               AT_MOST),
        Figure("latency p99 ms", lambda r: r["done"]["latency_ms_p99"], 1,
               AT_MOST),
        Figure("server CPU s/s", lambda r: r["server_cpu_per_s"], 2),
    ],
    "chat": [
        Figure("latency p50 ms", lambda r: r["done"]["latency_ms_p50"], 1,
               AT_MOST),
        Figure("latency p99 ms", lambda r: r["done"]["latency_ms_p99"], 1,
               AT_MOST),
        Figure("server CPU s/s", lambda r: r["server_cpu_per_s"], 2),
        Figure("deliveries/s", lambda r: r["done"]["deliveries_per_s"], 0),
    ],
    "idle": [
        Figure("RSS KiB per connection", _rss_kib, 1),
        Figure("connects/s", lambda r: r["done"]["connects_per_s"], 0,
               AT_LEAST),
        Figure("server CPU s/s", lambda r: r["server_cpu_per_s"], 2),
    ],
}


def saturated(run: dict[str, Any]) -> bool:
    return run["load_busy"] > SATURATED


def problems(results: dict[str, dict[str, Any]]) -> list[str]:
    """Why a run's figures cannot be trusted, or what it found broken."""
    found = []
    for workload, servers in results.items():
        for server, run in servers.items():
            d, where = run["done"], f"{workload} against {server}"
            if run["server_exit"] is not None:
                found.append(f"{where}: the server exited with "
                             f"{run['server_exit']} during the run")
            if run["exit_status"]:
                found.append(f"{where}: the load generator exited with "
                             f"{run['exit_status']}")
            for key in ("refused", "unacked", "lost", "unexpected", "failed",
                        "disconnects"):
                if d.get(key):
                    found.append(f"{where}: {d[key]} {key}")
            if workload == "fanout" and not d["drained"]:
                found.append(f"{where}: {d['deliveries']} of "
                             f"{d['expected_deliveries']} deliveries arrived")
    return found


def _checks(run: dict[str, Any]) -> str:
    d = run["done"]
    if d["sent"] == d["acked"] and d["drained"]:
        return f"all {d['acked']}"
    return f"{d['sent'] - d['acked']} unacked, {d['lost']} lost"


def _others(seconds: float) -> str:
    return f"{max(0.0, seconds):.2f}" + ("*" if seconds > DISTURBED else "")


def _number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _ratio(shown: dict[str, tuple[float | None, str]]) -> str:
    (a, a_bound), (b, b_bound) = shown["chatio"], shown["node"]
    if a is None or b is None or b == 0:
        return "-"
    flip = {AT_LEAST: AT_MOST, AT_MOST: AT_LEAST}
    directions = {a_bound, flip.get(b_bound, "")} - {""}
    mark = directions.pop() if len(directions) == 1 else (
        "?" if directions else "")
    return f"{mark}{a / b:.3f}"


def _header(result: dict[str, Any], workload: str) -> str:
    s = result["sizes"]
    if workload == "fanout":
        return (f"1 sender, {s['window']} in flight, {s['receivers']} "
                f"receivers, {s['fanout_duration']:g} s")
    if workload == "chat":
        rate = s["chat_clients"] / s["chat_period"]
        return (f"{s['chat_clients']} clients, rooms of {s['room_size']}, "
                f"{rate:g} messages/s, {s['chat_duration']:g} s")
    return f"{s['idle_clients']} clients, rooms of {s['room_size']}"


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def versions() -> str:
    """What was compared: chatio's package, and the npm socket.io."""
    package = HERE / "node_modules" / "socket.io" / "package.json"
    node = json.loads(package.read_text())["version"] if package.exists() \
        else "?"
    chatio = f"chatio {_version('chatio') or '?'}"
    if socketio := _version("python-socketio"):
        chatio += f" (python-socketio {socketio})"
    return f"{chatio} against npm socket.io {node}"


def table(result: dict[str, Any]) -> str:
    results, servers = result["results"], ("chatio", "node")
    machine = result["machine"]
    lines = [f"{versions()}; {machine['cpus']} CPUs, "
             + ("servers on CPU 0, load generator on CPU 1"
                if machine["pinned"] else "not pinned (no taskset)"),
             f"{'':<26}{'chatio':>13}{'node':>13}{'chatio/node':>13}"]
    for workload, runs in results.items():
        lines.append(f"{LABELS[workload]}: {_header(result, workload)}")
        rows = list(FIGURES[workload])
        for figure in rows:
            shown: dict[str, tuple[float | None, str]] = {}
            for server in servers:
                run = runs.get(server)
                value = None if run is None else figure.value(run)
                bound = figure.bound if run and saturated(run) else None
                shown[server] = (value, bound or "")
            cells = [f"{bound}{_number(value, figure.digits)}"
                     for value, bound in shown.values()]
            lines.append(f"  {figure.label:<24}{cells[0]:>13}{cells[1]:>13}"
                         f"{_ratio(shown):>13}")
        if workload == "chat":
            cells = [_checks(runs[s]) if s in runs else "-" for s in servers]
            lines.append(f"  {'acked and delivered':<24}{cells[0]:>13}"
                         f"{cells[1]:>13}")
        for label, key in (("others on CPU 0 s/s", "server_cpu_others_per_s"),
                           ("others on CPU 1 s/s", "load_cpu_others_per_s")):
            cells = [_others(runs[s][key]) if s in runs else "-"
                     for s in servers]
            lines.append(f"  {label:<24}{cells[0]:>13}{cells[1]:>13}")
        busy = [f"{runs[s]['load_busy']:.0%}" if s in runs else "-"
                for s in servers]
        lines.append(f"  {'generator CPU':<24}{busy[0]:>13}{busy[1]:>13}")
    lines.append(f"A load generator above {SATURATED:.0%} CPU makes its "
                 f"figures bounds: {AT_LEAST} for rates, {AT_MOST} for "
                 "latencies.")
    lines.append("others on CPU n: CPU seconds per second that the pinned "
                 "CPU spent on other processes (and interrupts);")
    lines.append(f"* above {DISTURBED:g}: the machine was not quiet, so that "
                 "run's figures are disturbed.")
    for problem in result["problems"]:
        lines.append(f"CHECK FAILED: {problem}")
    return "\n".join(lines)
