"""What a fuzz run counts and what it found, with reproducers."""
from __future__ import annotations

import dataclasses
from collections import Counter, deque
from collections.abc import Iterable

from .packets import Wire

# Packets of a session kept for a reproducer (the last ones sent).
TRAIL = 12
# Characters of one packet shown in a report.
SHOWN = 240


def show(packet: Wire) -> str:
    """A packet as a Python literal, cut to a readable length."""
    text = repr(packet)
    if len(text) <= SHOWN:
        return text
    return f"{text[:SHOWN]}... ({len(packet)} {'bytes' if isinstance(packet, bytes) else 'chars'})"


@dataclasses.dataclass
class Finding:
    """One failure, with the packets that led to it."""

    kind: str
    transport: str
    session: int
    detail: str
    trail: list[str]

    def render(self) -> str:
        lines = [f"[{self.kind}] {self.transport} session {self.session}: "
                 f"{self.detail}"]
        lines += trail_lines(self.trail)
        return "\n".join(lines)


def trail_lines(trail: list[str]) -> list[str]:
    """A trail as report lines: what was sent, and what the server did."""
    return [f"    {entry}" if entry.startswith("<") else f"    sent {entry}"
            for entry in trail]


class Trail:
    """The last packets one session sent."""

    def __init__(self) -> None:
        self._packets: deque[str] = deque(maxlen=TRAIL)

    def add(self, packet: Wire, how: str = "") -> None:
        self._packets.append(f"{how}{show(packet)}" if how else show(packet))

    def note(self, text: str) -> None:
        """Mark what the server did at this point of the trail."""
        self._packets.append(f"<{text}>")

    def snapshot(self) -> list[str]:
        return list(self._packets)


@dataclasses.dataclass
class Stats:
    """Counters shared by every session of a run."""

    packets: Counter[str] = dataclasses.field(default_factory=Counter)
    statuses: Counter[str] = dataclasses.field(default_factory=Counter)
    outcomes: Counter[str] = dataclasses.field(default_factory=Counter)
    findings: list[Finding] = dataclasses.field(default_factory=list)
    sessions: int = 0

    @property
    def total_packets(self) -> int:
        return sum(self.packets.values())

    def sent(self, transport: str, count: int = 1) -> None:
        self.packets[transport] += count

    def status(self, status: int | str) -> None:
        self.statuses[str(status)] += 1

    def found(self, finding: Finding) -> None:
        self.findings.append(finding)

    def by_kind(self) -> Counter[str]:
        return Counter(f.kind for f in self.findings)

    def examples(self, per_kind: int = 3) -> Iterable[Finding]:
        """The first few findings of each kind."""
        shown: Counter[str] = Counter()
        for finding in self.findings:
            if shown[finding.kind] < per_kind:
                shown[finding.kind] += 1
                yield finding
