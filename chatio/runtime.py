"""Process-wide tuning for a node's Python runtime.

``tune_garbage_collector`` raises the allocation count that triggers
CPython's cyclic collector from 700 to 50,000. A node allocates many
short-lived objects for each connection and event, so with the default the
collector ran hundreds of times a second during a burst of connects, each
time scanning objects that every open connection keeps alive: connects per
second halved and varied by 1.7x between runs (docs/performance.md).
Reference counting still frees everything without cycles at once; only
cyclic garbage waits a little longer.
"""
from __future__ import annotations

import gc

# Allocations between collections of the youngest generation, and how many
# of those before the next older one is collected too.
GEN0_THRESHOLD = 50_000
GEN1_THRESHOLD = 50
GEN2_THRESHOLD = 100


def tune_garbage_collector() -> None:
    """Set the collector's thresholds for a long-running node."""
    gc.set_threshold(GEN0_THRESHOLD, GEN1_THRESHOLD, GEN2_THRESHOLD)
