"""The node's runtime tuning is applied by both ways of running a node."""
from __future__ import annotations

import gc
import subprocess
import sys

from chatio import runtime


def test_tuning_sets_the_documented_thresholds() -> None:
    before = gc.get_threshold()
    try:
        runtime.tune_garbage_collector()
        assert gc.get_threshold() == (runtime.GEN0_THRESHOLD,
                                      runtime.GEN1_THRESHOLD,
                                      runtime.GEN2_THRESHOLD)
    finally:
        gc.set_threshold(*before)


def test_chatio_serve_and_the_gunicorn_worker_tune_the_collector() -> None:
    probe = (
        "import gc, chatio.cli as cli, chatio.gunicorn_worker as w, inspect;"
        "assert 'tune_garbage_collector()' in inspect.getsource(cli._serve);"
        "assert 'tune_garbage_collector()' in "
        "inspect.getsource(w.BacklogWorker.init_process)")
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=60)
