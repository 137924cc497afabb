"""CPU time of a process, from ``/proc/<pid>/stat`` (Linux only)."""
from __future__ import annotations

import os

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def parse_cpu_ticks(stat: str) -> int:
    """utime + stime, in clock ticks, from the text of ``/proc/<pid>/stat``.

    The second field is the command name in parentheses, and that name may
    itself hold spaces and parentheses, so fields are counted from the last
    ``)``. utime and stime are fields 14 and 15 of the whole line, so the
    12th and 13th after the name (the state is the first).
    """
    _, paren, rest = stat.rpartition(")")
    if not paren:
        raise ValueError(f"not a /proc/<pid>/stat line: {stat[:80]!r}")
    fields = rest.split()
    if len(fields) < 13:
        raise ValueError(f"too few fields in /proc/<pid>/stat: {stat[:80]!r}")
    return int(fields[11]) + int(fields[12])


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds used so far by every thread of ``pid``."""
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
        return parse_cpu_ticks(f.read()) / CLOCK_TICKS
