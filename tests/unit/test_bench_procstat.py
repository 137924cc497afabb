import importlib.util
import os
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


_STATUS = "Name:\tchatio\nVmPeak:\t  200000 kB\nVmRSS:\t   51234 kB\nThreads:\t3\n"


def test_rss_from_status() -> None:
    assert procstat.parse_rss_bytes(_STATUS) == 51234 * 1024


@pytest.mark.parametrize("status", ["Name:\tx\n", "VmRSS:\t12 MB\n"])
def test_status_without_rss_in_kb_is_refused(status: str) -> None:
    with pytest.raises(ValueError):
        procstat.parse_rss_bytes(status)


def test_tree_holds_a_child_and_sums_its_memory() -> None:
    if not Path(f"/proc/{os.getpid()}/task").exists():
        pytest.skip("no /proc")
    import subprocess
    import sys
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in procstat.tree(os.getpid())
        own = procstat.rss_bytes(os.getpid())
        assert procstat.tree_rss_bytes(os.getpid()) > own
        assert procstat.tree_cpu_seconds(os.getpid()) >= procstat.cpu_seconds(
            os.getpid())
    finally:
        child.kill()
        child.wait()


def test_run_queue_wait_from_schedstat() -> None:
    assert procstat.parse_wait_ns("226159803 88617172 568\n") == 88617172
    with pytest.raises(ValueError):
        procstat.parse_wait_ns("1 2")
    if Path(f"/proc/{os.getpid()}/task").exists():
        assert procstat.wait_seconds(os.getpid()) >= 0
