"""State several bot processes share on PostgreSQL: each test runs two instances on two separate `PgDatabase` pools,
as two processes would: album alerts (one per album, whichever process embedded which item), per-group alert pacing,
and the account pause (one process learns of it, all pause, the operators hear once)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import pytest

from bot.core.albums import AlbumCollector
from bot.core.breaker import CircuitBreaker
from bot.core.delivery import Delivery
from bot.core.health import EmbeddingHealth
from bot.core.repost import AlertPacer
from bot.core.results import AlbumReposts, Audience, Hit
from bot.core.types import ChatRef, FileRef, IncomingMedia, MediaRef, Sender
from storage.models import Item
from storage.postgres.coordination import PgAlbumLedger, PgAlertLedger, PgPause
from storage.postgres.db import PgDatabase

GROUP = ChatRef(id=-1001234567890, type="supergroup", title="Group")
ALBUM = "album-1"
DEBOUNCE = 0.2
FOLLOW = 0.2
"""How often a process takes up the shared pause in these tests (PAUSE_FOLLOW_SECONDS, 2 s, in the bot)."""


@pytest.fixture
async def two_pools(postgres_dsn: str) -> AsyncIterator[tuple[PgDatabase, PgDatabase]]:
    first, second = await PgDatabase.open(postgres_dsn), await PgDatabase.open(postgres_dsn)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


class _Sent:
    """Delivery as the collector uses it: what was sent, in order."""

    def __init__(self) -> None:
        self.decisions: list[Any] = []

    async def send_quietly(self, decision: Any) -> bool:
        self.decisions.append(decision)
        return True


class _Items:
    """The earlier items the album's items repeat."""

    def __init__(self, items: Sequence[Item]) -> None:
        self._items = {item.id: item for item in items}

    async def get_many(self, ids: Sequence[int]) -> dict[int, Item]:
        return {item_id: self._items[item_id] for item_id in ids if item_id in self._items}


def _earlier(item_id: int) -> Item:
    return Item(chat_id=GROUP.id, message_id=item_id, sender_id=7, sender_name="Alice", date=1_600_000_000,
                kind="photo", file_id=f"f{item_id}", file_unique_id=f"u{item_id}", caption=None, model="m@4",
                route="image", id=item_id)


def _incoming(message_id: int) -> IncomingMedia:
    return IncomingMedia(chat=GROUP, message_id=message_id, sender=Sender(22, "Bob", "en"), date=1_700_000_000,
                         media=MediaRef("photo", FileRef(f"f{message_id}", f"u{message_id}")),
                         media_group_id=ALBUM)


async def test_an_album_split_between_two_processes_gets_one_alert_with_every_repost(
        two_pools: tuple[PgDatabase, PgDatabase]) -> None:
    items = _Items([_earlier(1), _earlier(2)])
    sent = _Sent()
    collectors = [AlbumCollector(DEBOUNCE, cast(Delivery, sent), AlertPacer(20, PgAlertLedger(db)),
                                 cast(Any, items), PgAlbumLedger(db)) for db in two_pools]
    first, second = collectors
    # the first process receives all four messages; their jobs run two here, two there
    for message_id in (10, 11, 12, 13):
        await first.expect(_incoming(message_id))
    to = Audience(GROUP, None, "en")
    await first.add(Audience(GROUP, 10, "en"), ALBUM, Hit(_earlier(1), 0.97))
    await first.add(Audience(GROUP, 11, "en"), ALBUM, None)
    await asyncio.sleep(DEBOUNCE * 2)  # the first process is quiet while the second still embeds
    await second.add(Audience(GROUP, 12, "en"), ALBUM, None)
    await second.add(Audience(GROUP, 13, "en"), ALBUM, Hit(_earlier(2), 1.0, identical=True))
    await asyncio.sleep(DEBOUNCE * 4)
    await first.drain()
    await second.drain()

    assert len(sent.decisions) == 1
    alert = sent.decisions[0]
    assert isinstance(alert, AlbumReposts) and alert.to.reply_to == 10 and alert.to.chat == to.chat
    assert [(position, hit.item.id, hit.identical) for position, hit in alert.reposts] == [(1, 1, False),
                                                                                          (4, 2, True)]


async def test_two_processes_alerting_one_group_share_its_pace(two_pools: tuple[PgDatabase, PgDatabase]) -> None:
    pacers = [AlertPacer(5, PgAlertLedger(db)) for db in two_pools]
    granted = await asyncio.gather(*(pacer.try_acquire(GROUP.id) for pacer in pacers for _ in range(6)))
    assert sum(granted) == 5  # the group's five a minute, not five each
    assert await pacers[1].try_acquire(-42)  # another group has its own


async def test_an_account_pause_learnt_by_one_process_pauses_both_and_is_told_once(
        two_pools: tuple[PgDatabase, PgDatabase]) -> None:
    told: list[str | None] = []

    async def alert(code: str | None) -> None:
        told.append(code)

    first, second = (EmbeddingHealth(CircuitBreaker(), alert, PgPause(db)) for db in two_pools)
    following = [asyncio.create_task(health.follow_forever(FOLLOW)) for health in (first, second)]
    try:
        await first.account_failed("Arrearage")
        assert first.account_paused
        await asyncio.sleep(FOLLOW * 2)  # within one follow interval (and a query)
        assert second.account_paused
        await second.account_failed("Arrearage")  # its own request fails too: nobody is told again
        assert told == ["Arrearage"]

        await asyncio.gather(first.api_succeeded(), second.api_succeeded())  # both probes succeed at once
        assert told == ["Arrearage", None]  # resumed, told once
        await asyncio.sleep(FOLLOW * 2)
        assert not first.paused and not second.paused
    finally:
        for task in following:
            task.cancel()
        await asyncio.gather(*following, return_exceptions=True)


async def test_a_pause_lifted_by_another_process_is_taken_up(two_pools: tuple[PgDatabase, PgDatabase]) -> None:
    told: list[str | None] = []

    async def alert(code: str | None) -> None:
        told.append(code)

    first, second = (EmbeddingHealth(CircuitBreaker(), alert, PgPause(db)) for db in two_pools)
    await first.account_failed("InvalidApiKey")
    following = asyncio.create_task(second.follow_forever(FOLLOW))
    try:
        await asyncio.sleep(FOLLOW * 2)
        await second.api_succeeded()  # the second process's probe
        following_first = asyncio.create_task(first.follow_forever(FOLLOW))
        await asyncio.sleep(FOLLOW * 2)
        following_first.cancel()
        assert not first.paused and told == ["InvalidApiKey", None]
    finally:
        following.cancel()
        await asyncio.gather(following, return_exceptions=True)


class _DatabaseDown:
    async def pause(self, code: str) -> bool:
        raise OSError("connection refused")

    async def resume(self) -> bool:
        raise OSError("connection refused")

    async def paused_code(self) -> str | None:
        raise OSError("connection refused")


async def test_with_the_database_down_a_process_pauses_and_tells_on_its_own() -> None:
    told: list[str | None] = []

    async def alert(code: str | None) -> None:
        told.append(code)

    health = EmbeddingHealth(CircuitBreaker(), alert, _DatabaseDown())
    await health.account_failed("InvalidApiKey")
    await health.account_failed("InvalidApiKey")
    assert health.account_paused and told == ["InvalidApiKey"]  # the operators may hear twice, never not at all
    await health.api_succeeded()
    assert not health.paused and told == ["InvalidApiKey", None]
