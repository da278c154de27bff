"""Client-side request budget, so the bot stays under DashScope's quota instead of collecting 429s.

The quota is per account, not per process: the bot, its replicas and a `python -m bot import-history` beside them
spend one budget. So the record of recent request starts lives where all of them see it, a `SharedWindow` (a table
in the database, `storage/budget.py` and `storage/postgres/budget.py`), and each request is admitted by one short
transaction on it. The rules (which request may start now, and how long another must wait) are decided here, once,
by a `Claim` the window calls inside its transaction; the window only keeps the record and the lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

log = logging.getLogger(__name__)

MINUTE = 60.0
SECOND = 1.0
BACKGROUND_POLL = 0.05
"""How often lowest-priority work looks for spare budget; short next to a request's own duration."""
LIVE = "live"
WAITING = "waiting"
"""Not a request: the mark of a live request that had to wait, so background work in any process holds back."""
BACKGROUND = "background"
LIVE_GRACE = 2 * SECOND
"""How long a live request's waiting mark holds background work back: past the longest per-second wait, so the
live request, waking when its second comes, finds that second still free."""

Start = tuple[float, str]
"""When a request started (seconds, by the window's clock) and its lane (`live`, `background`, `import`, …)."""
Decision = tuple[float, str | None]
"""Seconds to wait (0: start now), and the lane to record at the window's now (None: record nothing)."""


class SharedWindow(Protocol):
    """The request starts of the last minute, shared by every process spending the account's budget."""

    async def take(self, claim: Callable[[Sequence[Start], float], Decision]) -> float:
        """In one transaction that excludes every other taker: call `claim(starts of the last minute, now)`,
        record what it decides, and return its wait."""
        ...


@dataclass(frozen=True)
class Lane:
    """Who spends: the live bot, or background work (re-embedding, an import) that only takes what live traffic
    leaves, optionally under a cap of its own (IMPORT_RPM) counted over every process in the same lane."""

    name: str = LIVE
    background: bool = False
    per_minute: int | None = None


BACKGROUND_LANE = Lane(BACKGROUND, background=True)
"""Re-embedding after a model switch, in the bot's own process."""


@dataclass(frozen=True)
class Claim:
    """The admission rule of one request, applied to the shared record of recent starts."""

    lane: Lane
    per_minute: int
    per_second: int
    reserve: int

    def __call__(self, starts: Sequence[Start], now: float) -> Decision:
        recent = sorted(at for at, lane in starts if lane != WAITING and at > now - MINUTE)
        wait = _window_wait(recent, now, self.per_minute, MINUTE)
        wait = max(wait, _window_wait(recent, now, self.per_second, SECOND))
        if not self.lane.background:
            return (0.0, LIVE) if wait <= 0 else (wait, WAITING)
        if any(lane == WAITING and at > now - LIVE_GRACE for at, lane in starts):
            return BACKGROUND_POLL, None
        wait = max(wait, _window_wait(recent, now, self.per_minute - self.reserve, MINUTE))
        if self.lane.per_minute is not None:
            own = sorted(at for at, lane in starts if lane == self.lane.name and at > now - MINUTE)
            wait = max(wait, _window_wait(own, now, self.lane.per_minute, MINUTE))
        return (0.0, self.lane.name) if wait <= 0 else (max(wait, BACKGROUND_POLL), None)


def _window_wait(starts: Sequence[float], now: float, limit: int, span: float) -> float:
    """Seconds until one more start fits `limit` starts per `span` (0 when it fits now); `starts` ascending."""
    if limit < 1:
        return span
    if len(starts) < limit:
        return 0.0
    return max(0.0, starts[-limit] + span - now)


class MemoryWindow:
    """The record kept in this process only: the truth where this process is the only spender (unit tests, a
    client built on its own), and the limiter's fallback while the shared record cannot be reached."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._starts: list[Start] = []

    async def take(self, claim: Callable[[Sequence[Start], float], Decision]) -> float:
        now = self._clock()
        self._starts = [(at, lane) for at, lane in self._starts if at > now - MINUTE]
        wait, record = claim(self._starts, now)
        if record is not None:
            self._starts.append((now, record))
        return wait

    def note(self, lane: str) -> None:
        """A start admitted by the shared window, kept so a fallback knows what this process spent."""
        now = self._clock()
        self._starts = [(at, kept) for at, kept in self._starts if at > now - MINUTE]
        self._starts.append((now, lane))


class RateLimiter:
    """Sliding-window budget per minute *and* per second, plus a cap on requests in flight (per process).

    DashScope enforces the per-minute quota per second as well (quota / 60), so a burst of 20 requests
    at the start of a minute is throttled even though the minute's budget allows it.

    Usage: ``async with limiter: await send()``; background work (re-embedding, an import) uses
    ``async with limiter.background():`` and only takes what live traffic leaves: never while a live request waits
    (in this process, or marked waiting in the shared window by another), and never the minute's last quarter.

    When the shared window fails (the database is unreachable or locked past its timeout), live requests fall back
    to this process's own record, which has seen every start this process made: the bot keeps answering, each
    process within DASHSCOPE_RPM on its own, until the database answers again. Background work waits instead.
    """

    def __init__(
        self,
        requests_per_minute: int,
        max_concurrency: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        *,
        window: SharedWindow | None = None,
        background_lane: Lane = BACKGROUND_LANE,
    ) -> None:
        if requests_per_minute < 1 or max_concurrency < 1:
            raise ValueError("requests_per_minute and max_concurrency must be at least 1")
        self.per_minute = requests_per_minute
        self.per_second = max(1, requests_per_minute // 60)
        self._sleep = sleep
        self._local = MemoryWindow(clock)
        self._window: SharedWindow = window if window is not None else self._local
        self._slots = asyncio.Semaphore(max_concurrency)
        self._turn = asyncio.Lock()
        self.background_reserve = requests_per_minute // 4
        """Requests per minute background work always leaves free, so a burst of live traffic starts at once."""
        self._live = self._claim(Lane())
        self._background = self._claim(background_lane)
        self._live_waiting = 0
        self._degraded = False

    def _claim(self, lane: Lane) -> Claim:
        return Claim(lane, self.per_minute, self.per_second, self.background_reserve)

    async def __aenter__(self) -> None:
        self._live_waiting += 1
        try:
            await self._enter(self._live)
        finally:
            self._live_waiting -= 1

    @contextlib.asynccontextmanager
    async def background(self) -> AsyncIterator[None]:
        """Lowest priority: start only while no live request waits and the minute keeps its reserve free."""
        await self._enter(self._background)
        try:
            yield
        finally:
            self._slots.release()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._slots.release()

    async def _enter(self, claim: Claim) -> None:
        """Returns holding a slot, with the request's start recorded."""
        if claim.lane.background:
            await self._enter_background(claim)
            return
        await self._slots.acquire()
        try:
            # The lock makes this process's live waiters take their turn in arrival order instead of racing for
            # each freed slot.
            async with self._turn:
                while (wait := await self._take(claim)) > 0:
                    await self._sleep(wait)
        except BaseException:
            self._slots.release()
            raise

    async def _enter_background(self, claim: Claim) -> None:
        """Holds no slot and no turn while it waits, so a live request arriving meanwhile goes first."""
        while True:
            while self._live_waiting:
                await self._sleep(BACKGROUND_POLL)
            await self._slots.acquire()
            try:
                async with self._turn:
                    wait = await self._take(claim)
            except BaseException:
                self._slots.release()
                raise
            if wait <= 0:
                return
            self._slots.release()
            await self._sleep(wait)

    async def _take(self, claim: Claim) -> float:
        if self._window is self._local:
            return await self._local.take(claim)
        try:
            decision: list[str | None] = []
            wait = await self._window.take(_Recording(claim, decision))
        except Exception as exc:  # any failure of the shared record degrades the same way
            return await self._fallback(claim, exc)
        if self._degraded:
            self._degraded = False
            log.warning("shared request budget reachable again")
        if decision and decision[0] is not None and decision[0] != WAITING:
            self._local.note(decision[0])
        return wait

    async def _fallback(self, claim: Claim, exc: Exception) -> float:
        if not self._degraded:
            self._degraded = True
            log.warning("shared request budget unreachable: live requests use this process's own window",
                        extra={"error_class": type(exc).__name__})
        if claim.lane.background:
            return SECOND
        return await self._local.take(claim)


@dataclass
class _Recording:
    """Passes the claim through and remembers what it decided to record, for the process's own record."""

    claim: Claim
    decided: list[str | None]

    def __call__(self, starts: Sequence[Start], now: float) -> Decision:
        wait, record = self.claim(starts, now)
        self.decided[:] = [record]
        return wait, record
