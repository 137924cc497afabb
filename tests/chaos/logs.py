"""What the nodes logged at error level during the run, counted by logger
and message: not a check (a killed Redis is logged as an error), but where
to look first."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

SERIOUS = {"error", "critical"}


def node_errors(workdir: Path) -> Counter[str]:
    """``"logger: msg"`` -> how often, over every start of every node."""
    counts: Counter[str] = Counter()
    for path in sorted(workdir.glob("node-*/logs/std*.log")):
        with open(path, errors="replace") as file:
            for line in file:
                if '"level"' not in line:
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if record.get("level") in SERIOUS:
                    counts[f"{record.get('logger')}: {record.get('msg')}"] += 1
    return counts


def chat_sockets(workdir: Path, user: str, last: int = 8) -> list[str]:
    """The last ``last`` connects and disconnects of ``user``'s ``/chat``
    sockets, from every node's log, oldest first."""
    events: list[tuple[str, str]] = []
    needle = f'"user": "{user}"'
    for path in sorted(workdir.glob("node-*/logs/std*.log")):
        with open(path, errors="replace") as file:
            for line in file:
                if needle not in line or '"/chat"' not in line:
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if record.get("msg") in ("connected", "disconnected"):
                    events.append((record.get("ts", ""), (
                        f"{record.get('ts', '')[11:23]} {record.get('node')} "
                        f"{record.get('msg')} {record.get('sid')} "
                        f"{record.get('reason') or ''}").rstrip()))
    return [text for _, text in sorted(events)[-last:]]
