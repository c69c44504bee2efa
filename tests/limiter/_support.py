"""What the limiter's property tests share: random traffic driven on a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from resilience import FakeClock


async def drive(
    clock: FakeClock,
    arrivals: Sequence[tuple[float, float | None]],
    start: Callable[[int], Coroutine[Any, Any, None]],
) -> list[BaseException | None]:
    """Start call ``i`` after each ``(gap, cancel_after)`` of ``arrivals``
    (cancelling it that long after it started, when given), run the clock
    until nothing is left to do, and return each task's outcome."""

    async def cancel_later(task: asyncio.Task[None], after: float) -> None:
        await clock.sleep(after)
        task.cancel()

    async def arrive() -> list[asyncio.Task[None]]:
        tasks = []
        for i, (gap, cancel) in enumerate(arrivals):
            await clock.sleep(gap)
            task = asyncio.create_task(start(i))
            tasks.append(task)
            if cancel is not None:
                tasks.append(asyncio.create_task(cancel_later(task, cancel)))
        return tasks

    driver = asyncio.create_task(arrive())
    await clock.run_until_idle()
    results = await asyncio.gather(*driver.result(), return_exceptions=True)
    return [r if isinstance(r, BaseException) else None for r in results]
