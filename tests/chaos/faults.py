"""Seeded random faults against a :class:`~chaos.cluster.ChaosCluster`, one
at a time: kill -9 of a node, SIGTERM of a node, a Redis restart, and a
network stall of a node (SIGSTOP, then SIGCONT)."""
from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence

from .cluster import STOP_TIMEOUT, ChaosCluster

KILL = "kill"
TERM = "term"
REDIS = "redis"
STALL = "stall"
KINDS = (KILL, TERM, REDIS, STALL)
LABELS = {KILL: "kill -9 of a node", TERM: "SIGTERM of a node",
          REDIS: "Redis restart", STALL: "network stall of a node"}


class FaultScheduler:
    """Draws faults from a shuffled bag of ``kinds`` (so that every kind
    comes up once per round), waits ``gap`` seconds (uniform) between them,
    and counts each fault the cluster recovered from."""

    def __init__(self, cluster: ChaosCluster, rng: random.Random,
                 kinds: Sequence[str] = KINDS, gap: tuple[float, float] = (5, 15),
                 down: tuple[float, float] = (0.5, 3),
                 stall: tuple[float, float] = (2, 12),
                 log: Callable[[str], None] = print) -> None:
        self.cluster = cluster
        self.rng = rng
        self.kinds = list(kinds)
        self.gap = gap
        self.down = down
        self.stall_for = stall
        self.log = log
        self.survived: Counter[str] = Counter()
        self.failures: list[str] = []
        #: Wall-clock time (``time.time()``) the last fault was recovered from.
        self.last_fault_end = time.time()
        self._bag: list[str] = []
        self._started = time.monotonic()

    async def run(self, duration: float) -> None:
        """Faults until ``duration`` seconds have passed (the last one is
        always seen through to its recovery)."""
        self._started = time.monotonic()
        end = self._started + duration
        while True:
            await asyncio.sleep(self.rng.uniform(*self.gap))
            if time.monotonic() >= end:
                return
            await self.inject(self._next_kind())

    def _next_kind(self) -> str:
        if not self._bag:
            self._bag = list(self.kinds)
            self.rng.shuffle(self._bag)
        return self._bag.pop()

    async def inject(self, kind: str) -> None:
        """One fault and the recovery from it."""
        node = self.rng.choice(self.cluster.nodes)
        name = self.cluster.name(node)
        down = round(self.rng.uniform(*self.down), 1)
        began = time.monotonic()
        try:
            if kind == KILL:
                node.kill()
                what = f"kill -9 {name}, down {down:g} s"
                await asyncio.sleep(down)
                await node.start()
            elif kind == TERM:
                code = await node.terminate(STOP_TIMEOUT)
                what = f"SIGTERM {name} (exit {code}), down {down:g} s"
                await asyncio.sleep(down)
                await node.start()
            elif kind == REDIS:
                what = await self.cluster.redis.restart(down, self.rng)
            else:
                seconds = round(self.rng.uniform(*self.stall_for), 1)
                what = f"SIGSTOP {name} for {seconds:g} s"
                self.cluster.stall(node)
                try:
                    await asyncio.sleep(seconds)
                finally:
                    self.cluster.resume(node)
        except Exception as exc:  # a fault the cluster did not come back from
            self.failures.append(f"{LABELS[kind]} ({name}): {exc}")
            self.log(f"[{self._clock(began)}] {LABELS[kind]} on {name} FAILED: "
                     f"{str(exc).splitlines()[0]}")
            await self._revive()
            return
        self.last_fault_end = time.time()
        self.survived[kind] += 1
        self.log(f"[{self._clock(began)}] {what}; back after "
                 f"{time.monotonic() - began:.1f} s")

    async def _revive(self) -> None:
        """Whatever a failed fault left down is started again."""
        await asyncio.to_thread(self.cluster.redis.revive)
        for node in self.cluster.nodes:
            if node.proc is not None and node.proc.poll() is None:
                self.cluster.resume(node)
            if not node.running:
                await node.start()
        self.last_fault_end = time.time()

    def _clock(self, at: float) -> str:
        return f"{at - self._started:7.1f}s"
