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
