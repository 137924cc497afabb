"""CPU time and resident memory of a process and its children, from
``/proc`` (Linux only)."""
from __future__ import annotations

import os
from collections.abc import Callable

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


def parse_rss_bytes(status: str) -> int:
    """Resident set size in bytes, from the text of ``/proc/<pid>/status``."""
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            number, unit = line.split()[1:3]
            if unit != "kB":
                raise ValueError(f"unexpected VmRSS unit: {line!r}")
            return int(number) * 1024
    raise ValueError("no VmRSS line in /proc/<pid>/status")


def rss_bytes(pid: int) -> int:
    """The resident memory of ``pid`` now."""
    with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
        return parse_rss_bytes(f.read())


def parse_cpu_busy_ticks(stat: str, cpu: int) -> int:
    """Ticks CPU ``cpu`` has spent on anything but idling, from the text of
    ``/proc/stat``: user, nice, system, irq, softirq and steal (time the
    hypervisor gave to someone else)."""
    name = f"cpu{cpu}"
    for line in stat.splitlines():
        fields = line.split()
        if fields and fields[0] == name:
            user, nice, system, _idle, _iowait, irq, softirq, steal = (
                int(v) for v in fields[1:9])
            return user + nice + system + irq + softirq + steal
    raise ValueError(f"no {name} line in /proc/stat")


def cpu_busy_seconds(cpu: int) -> float:
    """Seconds CPU ``cpu`` has been busy since boot, whoever ran on it."""
    with open("/proc/stat", encoding="ascii") as f:
        return parse_cpu_busy_ticks(f.read(), cpu) / CLOCK_TICKS


def tree(pid: int) -> list[int]:
    """``pid`` and its living descendants."""
    found, index = [pid], 0
    while index < len(found):
        parent = found[index]
        index += 1
        try:
            for task in os.listdir(f"/proc/{parent}/task"):
                with open(f"/proc/{parent}/task/{task}/children") as f:
                    found.extend(int(child) for child in f.read().split())
        except OSError:
            continue  # exited meanwhile
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` and its living descendants."""
    return sum(_or_zero(cpu_seconds, p) for p in tree(pid))


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and its living descendants (shared pages
    counted once per process)."""
    return sum(int(_or_zero(rss_bytes, p)) for p in tree(pid))


def _or_zero(read: Callable[[int], float], pid: int) -> float:
    try:
        return read(pid)
    except (OSError, ValueError):
        return 0
