import asyncio

from chatio.transport.lanes import SerialLanes
from chatio.ratelimit import MemoryRateLimiter
from chatio.settings import Rate


def test_bucket_allows_burst_then_reports_wait() -> None:
    now = [100.0]
    limiter = MemoryRateLimiter(Rate(2, 3), clock=lambda: now[0])
    assert [limiter.take("u") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("u") == 0.5
    assert limiter.take("other") == 0
    now[0] += 0.5
    assert limiter.take("u") == 0


def test_disabled_rate_never_limits() -> None:
    limiter = MemoryRateLimiter(Rate(0, 0))
    assert all(limiter.take("u") == 0 for _ in range(1000))


async def test_lane_runs_jobs_in_order_and_keys_concurrently() -> None:
    lanes = SerialLanes()
    seen: list[str] = []
    release = asyncio.Event()

    def job(name: str, wait: bool = False):
        async def run() -> None:
            if wait:
                await release.wait()
            seen.append(name)
        return run

    lanes.submit("a", job("a1", wait=True))
    lanes.submit("a", job("a2"))
    lanes.submit("b", job("b1"))
    await lanes.wait_idle("b")
    assert seen == ["b1"]
    release.set()
    await lanes.wait_all()
    assert seen == ["b1", "a1", "a2"] and len(lanes) == 0


async def test_failing_job_does_not_stop_its_lane() -> None:
    lanes = SerialLanes()
    seen: list[int] = []

    async def boom() -> None:
        raise RuntimeError("handler bug")

    async def ok() -> None:
        seen.append(1)

    lanes.submit("k", boom)
    lanes.submit("k", ok)
    await lanes.wait_all()
    assert seen == [1]


async def test_backlog_counts_waiting_jobs() -> None:
    lanes = SerialLanes()
    release = asyncio.Event()

    async def blocked() -> None:
        await release.wait()

    async def quick() -> None:
        pass

    lanes.submit("k", blocked)
    for _ in range(3):
        lanes.submit("k", quick)
    assert lanes.backlog("k") == 4 and lanes.backlog("other") == 0
    release.set()
    await lanes.wait_idle("k")
    assert lanes.backlog("k") == 0
