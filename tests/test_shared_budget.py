"""The DashScope request budget is the account's: limiters of several processes admit requests through one shared
record of recent starts, so together they stay under DASHSCOPE_RPM, live traffic first.

With a fake clock, several limiters over one `MemoryWindow` stand for several processes over one database; then the
real thing: two SQLite connections on one file (the bot and an import), two PostgreSQL pools (two replicas).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.dashscope.ratelimit import (
    BACKGROUND_LANE,
    SECOND,
    Lane,
    MemoryWindow,
    RateLimiter,
    Start,
)
from bot.history import EXIT_DONE, parse_args, run
from storage.budget import SqliteWindow
from storage.db import Database
from storage.postgres.budget import PgWindow
from storage.postgres.db import PgDatabase
from tests.conftest import running_bot
from tests.fakes.dashscope import FakeDashScope
from tests.fakes.telegram import Chat, FakeBotAPI, User
from tests.pictures import picture
from tests.support.exports import ExportBuilder
from tests.test_embedding_client import FakeClock

GROUP = Chat(id=-1001234567890, type="supergroup", title="Old group")
BOB = User(id=22, first_name="Bob", language_code="en")

IMPORT = Lane("import", background=True, per_minute=2)
JITTER = 0.3
"""Start times measured in the test trail the window's stamps by a scheduling delay (two cores shared by busy
processes); this much is allowed. Two processes not sharing a window start their requests at the same instant."""
TRANSPORT = 0.5
"""Arrivals at the fake DashScope also trail admission by the request's own sending (an image's upload); with the
import sending one request a second, a live request arriving within half a second of one would be a request the
shared window did not count."""


def _shared(clock: FakeClock, window: MemoryWindow, rpm: int, lane: Lane = BACKGROUND_LANE) -> RateLimiter:
    return RateLimiter(rpm, max_concurrency=10, clock=clock, sleep=clock.sleep, window=window, background_lane=lane)


async def test_two_processes_on_one_window_share_the_minute_and_the_second() -> None:
    clock = FakeClock()
    window = MemoryWindow(clock)
    first, second = _shared(clock, window, 120), _shared(clock, window, 120)
    starts: list[float] = []

    async def call(limiter: RateLimiter) -> None:
        async with limiter:
            starts.append(clock.now)

    await asyncio.gather(*(call(limiter) for _ in range(3) for limiter in (first, second)))
    assert sorted(starts) == [0.0, 0.0, 1.0, 1.0, 2.0, 2.0]  # 2 per second for both, not 2 each


async def test_background_work_elsewhere_holds_back_while_a_live_request_waits() -> None:
    clock = FakeClock()
    window = MemoryWindow(clock)
    bot, importer = _shared(clock, window, 60), _shared(clock, window, 60, IMPORT)
    order: list[str] = []

    async def live(name: str) -> None:
        async with bot:
            order.append(name)

    async def background(name: str) -> None:
        async with importer.background():
            order.append(name)

    # one per second: the live request that had to wait is marked in the window, so the import does not take the
    # next second from it although the import's own process has no live request waiting
    await asyncio.gather(live("live 1"), live("live 2"), background("import 1"))
    assert order == ["live 1", "live 2", "import 1"]


async def test_the_import_lane_keeps_its_own_cap_across_processes() -> None:
    clock = FakeClock()
    window = MemoryWindow(clock)
    imports = [_shared(clock, window, 60, IMPORT) for _ in range(2)]
    starts: list[float] = []

    async def background(limiter: RateLimiter) -> None:
        async with limiter.background():
            starts.append(clock.now)

    await asyncio.gather(*(background(limiter) for limiter in imports for _ in range(3)))
    # two imports at once: IMPORT_RPM=2 for both together, the third start waits for the minute to move on
    assert sum(start < 60 for start in starts) == 2 and len(starts) == 6


class _Unreachable:
    async def take(self, claim: Callable[[Sequence[Start], float], tuple[float, str | None]]) -> float:
        raise OSError("connection refused")


async def test_an_unreachable_database_leaves_live_traffic_its_own_window_and_stops_background_work() -> None:
    clock = FakeClock()
    limiter = RateLimiter(120, max_concurrency=10, clock=clock, sleep=clock.sleep, window=_Unreachable())
    starts: list[float] = []
    for _ in range(3):
        async with limiter:
            starts.append(clock.now)
    assert starts == [0.0, 0.0, 1.0]  # this process's own DASHSCOPE_RPM, per second too

    background = asyncio.ensure_future(_enter_background(limiter))
    for _ in range(50):
        await asyncio.sleep(0)
    assert not background.done() and clock.now > 30  # no background request while the shared record is gone
    background.cancel()


async def _enter_background(limiter: RateLimiter) -> None:
    async with limiter.background():
        pass


async def _hammer(limiter: RateLimiter, *, background: bool, seconds: float, starts: list[tuple[float, str]],
                  name: str, count: int | None = None) -> None:
    """Requests back to back for `seconds` (or `count` requests), each start measured as it happens."""
    end = time.monotonic() + seconds
    sent = 0
    while time.monotonic() < end and (count is None or sent < count):
        entered = limiter.background() if background else limiter
        try:
            await asyncio.wait_for(_start(entered, starts, name), timeout=max(0.01, end - time.monotonic()))
        except TimeoutError:
            return
        sent += 1


async def _start(entered: object, starts: list[tuple[float, str]], name: str) -> None:
    async with entered:  # type: ignore[attr-defined]
        starts.append((time.monotonic(), name))


def _assert_within(starts: Sequence[tuple[float, str]], *, per_minute: int, jitter: float = JITTER) -> None:
    """At most `per_minute`, and one a second (the budget's per-second share at these small RPMs)."""
    times = sorted(at for at, _ in starts)
    assert len(times) <= per_minute
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(gap >= SECOND - jitter for gap in gaps), gaps


@pytest.mark.slow
async def test_the_bot_and_an_import_on_one_sqlite_file_share_the_budget(tmp_path: Path) -> None:
    bot_db, import_db = await Database.open(tmp_path / "bot.db"), await Database.open(tmp_path / "bot.db")
    try:
        rpm = 4  # one per second, a reserve of one for live traffic
        bot = RateLimiter(rpm, max_concurrency=4, window=SqliteWindow(bot_db))
        importer = RateLimiter(rpm, max_concurrency=4, window=SqliteWindow(import_db), background_lane=IMPORT)
        starts: list[tuple[float, str]] = []
        await _hammer(importer, background=True, seconds=4.5, starts=starts, name="import", count=1)
        importing = asyncio.create_task(_hammer(importer, background=True, seconds=4.5, starts=starts, name="import"))
        await _hammer(bot, background=False, seconds=4.5, starts=starts, name="live", count=2)
        await importing
    finally:
        await bot_db.close()
        await import_db.close()
    _assert_within(starts, per_minute=rpm)
    lanes = [name for _, name in sorted(starts)]
    # the import under way, two people ask: their requests take the next two seconds, the import none of them
    # (its own process has no live request waiting: it learns of them from the shared window); then the minute is
    # spent but for the live reserve (4 - 1 = 3 starts), so the import waits
    assert lanes == ["import", "live", "live"]


@pytest.mark.slow
async def test_two_processes_on_postgresql_stay_within_the_budget_together(postgres_dsn: str) -> None:
    first, second = await PgDatabase.open(postgres_dsn), await PgDatabase.open(postgres_dsn)
    try:
        rpm = 3  # one per second, and the minute's three are spent within three seconds
        limiters = [RateLimiter(rpm, max_concurrency=4, window=PgWindow(db)) for db in (first, second)]
        starts: list[tuple[float, str]] = []
        await asyncio.gather(*(_hammer(limiter, background=False, seconds=4.5, starts=starts, name=str(n))
                               for n, limiter in enumerate(limiters) for _ in range(3)))
    finally:
        await first.close()
        await second.close()
    _assert_within(starts, per_minute=rpm)
    assert len(starts) == rpm  # each alone would have taken three


@pytest.mark.slow
async def test_a_history_import_beside_the_bot_answering_search_stays_within_the_account_budget(
        make_settings: Callable[..., Settings], fake_tg: FakeBotAPI, fake_ds: FakeDashScope, tmp_path: Path) -> None:
    rpm = 30  # one request per second; the import may spend 15 a minute, and leaves live traffic 7
    settings = make_settings(DASHSCOPE_RPM=str(rpm))
    export = ExportBuilder(tmp_path / "export")
    for message_id, colour in enumerate(("red", "green", "blue", "red", "green"), start=2):
        export.photo(message_id, picture(colour, seed=40 + message_id))
    folder = export.write()
    async with running_bot(settings, fake_tg, fake_ds) as bot:
        importing = asyncio.create_task(run(parse_args([str(folder)]), settings))
        await bot.tg.wait_for(lambda: fake_ds.embed_requests)  # the import is under way
        for n, words in enumerate(("a red picture", "something blue"), start=1):
            bot.tg.send_text(GROUP, BOB, f"/search {words}")
            await bot.tg.wait_for(lambda n=n: len(bot.tg.sent_messages(GROUP.id)) >= n, timeout=20)  # type: ignore[misc]
        assert await importing == EXIT_DONE
    requests = fake_ds.embed_requests
    texts = [r for r in requests if _only_text(r.json)]
    assert len(texts) == 2 and len(requests) - len(texts) == 5  # both searches and every imported picture
    _assert_within([(r.at, "") for r in requests], per_minute=rpm, jitter=TRANSPORT)


def _only_text(body: Any) -> bool:
    return all(set(content) == {"text"} for content in body["input"]["contents"])
