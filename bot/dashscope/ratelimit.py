"""Client-side request budget, so the bot stays under DashScope's quota instead of collecting 429s."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType

MINUTE = 60.0
SECOND = 1.0
BACKGROUND_POLL = 0.05
"""How often lowest-priority work looks for spare budget; short next to a request's own duration."""


class RateLimiter:
    """Sliding-window budget per minute *and* per second, plus a cap on requests in flight.

    DashScope enforces the per-minute quota per second as well (quota / 60), so a burst of 20 requests
    at the start of a minute is throttled even though the minute's budget allows it.

    Usage: ``async with limiter: await send()``; background work (re-embedding) uses
    ``async with limiter.background():`` and only takes what live traffic leaves.
    """

    def __init__(
        self,
        requests_per_minute: int,
        max_concurrency: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if requests_per_minute < 1 or max_concurrency < 1:
            raise ValueError("requests_per_minute and max_concurrency must be at least 1")
        self.per_minute = requests_per_minute
        self.per_second = max(1, requests_per_minute // 60)
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque()
        self._slots = asyncio.Semaphore(max_concurrency)
        self._turn = asyncio.Lock()
        self.background_reserve = requests_per_minute // 4
        """Requests per minute background work always leaves free, so a burst of live traffic starts at once."""
        self._live_waiting = 0

    async def __aenter__(self) -> None:
        self._live_waiting += 1
        try:
            await self._enter()
        finally:
            self._live_waiting -= 1

    @contextlib.asynccontextmanager
    async def background(self) -> AsyncIterator[None]:
        """Lowest priority: start only while no live request waits and the minute keeps its reserve free."""
        while self._live_waiting or not self._background_fits(self._clock()):
            await self._sleep(BACKGROUND_POLL)
        await self._enter()
        try:
            yield
        finally:
            self._slots.release()

    async def _enter(self) -> None:
        await self._slots.acquire()
        try:
            await self._wait_for_budget()
        except BaseException:
            self._slots.release()
            raise

    def _background_fits(self, now: float) -> bool:
        return (self._wait_needed(now) == 0
                and len(self._starts) < self.per_minute - self.background_reserve)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._slots.release()

    async def _wait_for_budget(self) -> None:
        # The lock makes waiters take their turn in arrival order instead of racing for each freed slot.
        async with self._turn:
            while (wait := self._wait_needed(self._clock())) > 0:
                await self._sleep(wait)
            self._starts.append(self._clock())

    def _wait_needed(self, now: float) -> float:
        """Seconds until one more request fits both windows (0 when it fits now)."""
        while self._starts and self._starts[0] <= now - MINUTE:
            self._starts.popleft()
        waits = [0.0]
        if len(self._starts) >= self.per_minute:
            waits.append(self._starts[-self.per_minute] + MINUTE - now)
        if len(self._starts) >= self.per_second:
            waits.append(self._starts[-self.per_second] + SECOND - now)
        return max(waits)
