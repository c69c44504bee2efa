"""FakeClock moves only when told, fires timers in order, and lets woken tasks schedule more."""

from __future__ import annotations

import asyncio

import pytest

from resilience import FakeClock, SystemClock


async def test_sleepers_wake_in_time_order_and_only_when_due(clock: FakeClock) -> None:
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, delay: float) -> None:
        await clock.sleep(delay)
        woke.append((name, clock.monotonic()))

    tasks = [asyncio.create_task(sleeper(n, d)) for n, d in [("b", 2.0), ("a", 1.0), ("c", 3.0)]]
    await clock.advance(1.5)
    assert woke == [("a", 1.0)]
    await clock.advance(10)
    assert woke == [("a", 1.0), ("b", 2.0), ("c", 3.0)]
    assert clock.monotonic() == 11.5
    await asyncio.gather(*tasks)


async def test_a_timer_scheduled_by_a_woken_task_fires_within_the_same_advance(
    clock: FakeClock,
) -> None:
    times: list[float] = []

    async def chain() -> None:
        for _ in range(3):
            await clock.sleep(1.0)
            times.append(clock.monotonic())

    task = asyncio.create_task(chain())
    await clock.advance(3.0)
    assert times == [1.0, 2.0, 3.0]
    await task


async def test_cancelled_sleep_leaves_no_timer(clock: FakeClock) -> None:
    task = asyncio.create_task(clock.sleep(5))
    await clock.settle()
    assert clock.pending() == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.pending() == 0


async def test_run_until_idle_jumps_to_the_last_timer(clock: FakeClock) -> None:
    task = asyncio.create_task(clock.sleep(42))
    await clock.run_until_idle()
    assert task.done()
    assert clock.monotonic() == 42


async def test_negative_advance_is_refused(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="seconds"):
        await clock.advance(-1)


async def test_system_clock_follows_the_loop() -> None:
    sc = SystemClock()
    loop = asyncio.get_running_loop()
    before = loop.time()
    assert before <= sc.monotonic() <= loop.time()
    fired = asyncio.Event()
    sc.call_at(sc.monotonic(), fired.set)
    await asyncio.wait_for(fired.wait(), 1)
