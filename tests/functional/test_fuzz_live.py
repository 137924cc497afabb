"""A 20,000-packet fuzz run against a real node; ``make fuzz`` runs 100,000.

The seed is fixed so a failure replays (``python tests/fuzz/live.py --seed
SEED --packets 20000``); ``CHATIO_FUZZ_SEED`` picks another.
"""
from __future__ import annotations

import os

import pytest

from fuzz.live import run

PACKETS = 20_000
SEED = int(os.environ.get("CHATIO_FUZZ_SEED", "20000"))


@pytest.mark.timeout(240)
async def test_a_fuzzed_node_stays_healthy(tmp_path):
    report = await run(PACKETS, SEED, tmp_path, max_seconds=100.0,
                       do_triage=False)
    assert report.stats.total_packets >= PACKETS
    if not report.ok:
        pytest.fail(report.render(), pytrace=False)
