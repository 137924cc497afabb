import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "bench" / "procstat.py"
_spec = importlib.util.spec_from_file_location("bench_procstat", _PATH)
assert _spec is not None and _spec.loader is not None
procstat = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(procstat)

# Fields after the name: state ppid pgrp session tty tpgid flags minflt
# cminflt majflt cmajflt utime stime cutime cstime ...
_TAIL = "S 1 1 1 0 -1 4194560 100 0 0 0 250 75 9 9 20 0 3 0"


def test_utime_plus_stime_in_ticks() -> None:
    assert procstat.parse_cpu_ticks(f"4242 (chatio) {_TAIL}\n") == 325


def test_command_name_with_spaces_and_parentheses() -> None:
    line = f"4242 (we (ird) ) name) {_TAIL}"
    assert procstat.parse_cpu_ticks(line) == 325


@pytest.mark.parametrize("line", ["", "4242 chatio S 1", "4242 (x) S 1 1"])
def test_malformed_lines_are_refused(line: str) -> None:
    with pytest.raises(ValueError):
        procstat.parse_cpu_ticks(line)


def test_own_cpu_time_is_readable() -> None:
    if not Path(f"/proc/{os.getpid()}/stat").exists():
        pytest.skip("no /proc")
    assert procstat.cpu_seconds(os.getpid()) >= 0


_STATUS = ("Name:\tchatio\nVmPeak:\t  200000 kB\nVmRSS:\t   51234 kB\n"
           "Threads:\t3\n")


def test_rss_from_status() -> None:
    assert procstat.parse_rss_bytes(_STATUS) == 51234 * 1024


@pytest.mark.parametrize("status", ["Name:\tx\n", "VmRSS:\t12 MB\n"])
def test_status_without_rss_in_kb_is_refused(status: str) -> None:
    with pytest.raises(ValueError):
        procstat.parse_rss_bytes(status)


def test_tree_holds_a_child_and_sums_its_memory() -> None:
    if not Path(f"/proc/{os.getpid()}/task").exists():
        pytest.skip("no /proc")
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; print(flush=True); "
         "time.sleep(30)"], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        child.stdout.readline()  # started: its memory no longer grows
        assert child.pid in procstat.tree(os.getpid())
        # Each side is read after the other, so the comparisons hold
        # however the counters move meanwhile.
        own_cpu = procstat.cpu_seconds(os.getpid())
        assert procstat.tree_cpu_seconds(os.getpid()) >= own_cpu
        child_rss = procstat.rss_bytes(child.pid)
        assert child_rss > 0
        assert procstat.tree_rss_bytes(os.getpid()) > child_rss
    finally:
        child.kill()
        child.wait()


def test_busy_ticks_of_one_cpu_from_proc_stat() -> None:
    stat = ("cpu  164680 311 23653 251730 788 0 7015 1738 0 0\n"
            "cpu0 90545 85 12759 115858 435 0 4557 716 0 0\n"
            "cpu1 74135 225 10894 135872 353 0 2457 1022 0 0\n")
    assert procstat.parse_cpu_busy_ticks(stat, 0) == (
        90545 + 85 + 12759 + 4557 + 716)
    assert procstat.parse_cpu_busy_ticks(stat, 1) == (
        74135 + 225 + 10894 + 2457 + 1022)
    with pytest.raises(ValueError):
        procstat.parse_cpu_busy_ticks(stat, 2)
    if Path("/proc/stat").exists():
        assert procstat.cpu_busy_seconds(0) > 0
