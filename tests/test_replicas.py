"""Several bot processes on one PostgreSQL database behind one webhook URL, as docker-compose.yml runs them.

Real `python -m bot` processes in webhook mode share the fakes on 127.0.0.1 and a throwaway PostgreSQL. The test
plays Telegram (and the proxy in front of the replicas): it posts each update to one replica, alternately, and some
to both, as Telegram does when it retries a webhook delivery that timed out.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.fakes.dashscope import FakeDashScope
from tests.fakes.telegram import Chat, FakeBotAPI, User
from tests.pictures import picture, reencoded
from tests.support.replicas import items_reach, replicas, settled

pytestmark = pytest.mark.slow  # real processes

RPM = 120
"""The account's budget for both processes together: 2 requests per second."""
GROUP = Chat(id=-1007777777771, type="supergroup", title="Replicas")
OTHER = Chat(id=-1007777777772, type="supergroup", title="Replicas too")
ALICE = User(id=11, first_name="Alice", language_code="en")
BOB = User(id=22, first_name="Bob", language_code="en")
JSON = dict[str, Any]


async def assert_each_message_once(dsn: str, messages: list[JSON]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT origin_chat_id, message_id, count(*) AS copies FROM items "
                                "GROUP BY origin_chat_id, message_id")
        jobs = await conn.fetch("SELECT state, count(*) AS n FROM jobs GROUP BY state")
    finally:
        await conn.close()
    assert all(row["copies"] == 1 for row in rows)
    assert {(row["origin_chat_id"], row["message_id"]) for row in rows} == {
        (m["chat"]["id"], m["message_id"]) for m in messages}
    assert {row["state"]: row["n"] for row in jobs} == {"done": len(messages)}


def alerts_by_reply(tg: FakeBotAPI, chat: Chat) -> dict[int, list[str]]:
    replies: dict[int, list[str]] = {}
    for sent in tg.sent_messages(chat.id):
        target = sent["params"]["reply_parameters"]["message_id"]
        replies.setdefault(target, []).append(sent["params"].get("text", ""))
    return replies


def assert_within_budget(ds: FakeDashScope) -> None:
    """Both processes together: never more than RPM requests in a minute, nor RPM/60 in a second (with a little
    slack for the time between a client's start and the fake's reading of the request)."""
    starts = sorted(request.at for request in ds.embed_requests)
    per_second = RPM // 60
    assert all(later - earlier >= 0.9 for earlier, later in zip(starts, starts[per_second:], strict=False)), starts
    assert all(later - earlier >= 59.9 for earlier, later in zip(starts, starts[RPM:], strict=False))


async def test_two_replicas_store_each_item_once_and_alert_once(
        fake_tg: FakeBotAPI, fake_ds: FakeDashScope, postgres_dsn: str, tmp_path: Path) -> None:
    originals = [picture(colour, seed=seed) for seed, colour in enumerate(["red", "green", "blue", "yellow"], 300)]
    async with replicas(fake_tg, fake_ds, postgres_dsn, tmp_path, DASHSCOPE_RPM=str(RPM)) as telegram:
        posted = [fake_tg.send_photo(GROUP, ALICE, data) for data in originals]
        await telegram.deliver_new(both_every=3)
        await settled(postgres_dsn, len(posted))
        reposts = [fake_tg.send_photo(GROUP, BOB, reencoded(data)) for data in originals[:3]]
        album_originals = [picture("red", seed=320), picture("blue", seed=321)]
        posted += [fake_tg.send_photo(OTHER, ALICE, data) for data in album_originals]
        await telegram.deliver_new(both_every=2)
        await settled(postgres_dsn, len(posted) + len(reposts))
        album = [fake_tg.send_photo(OTHER, BOB, data, media_group_id="replicas-album")
                 for data in (reencoded(album_originals[0]), picture("green", seed=322),
                              reencoded(album_originals[1]))]
        await telegram.deliver_new(both_every=2)
        await settled(postgres_dsn, len(posted) + len(reposts) + len(album))
        await asyncio.sleep(1.5)  # past the album debounce: a second alert would have been sent by now
        await assert_each_message_once(postgres_dsn, posted + reposts + album)
    group_alerts = alerts_by_reply(fake_tg, GROUP)
    assert sorted(group_alerts) == sorted(repost["message_id"] for repost in reposts)
    assert all(len(texts) == 1 for texts in group_alerts.values()), group_alerts
    (album_alert,) = [text for texts in alerts_by_reply(fake_tg, OTHER).values() for text in texts]
    assert "Reposts in this album" in album_alert
    assert "item 1:" in album_alert and "item 3:" in album_alert and "item 2:" not in album_alert
    assert_within_budget(fake_ds)


async def test_killing_one_replica_mid_burst_loses_nothing_and_repeats_nothing(
        fake_tg: FakeBotAPI, fake_ds: FakeDashScope, postgres_dsn: str, tmp_path: Path) -> None:
    chats = [Chat(id=-1007777777800 - n, type="supergroup", title=f"Burst {n}") for n in range(4)]
    async with replicas(fake_tg, fake_ds, postgres_dsn, tmp_path, DASHSCOPE_RPM=str(RPM)) as telegram:
        fake_ds.latency = 0.2  # each embedding takes a while: the kill lands while jobs are running
        posted = [fake_tg.send_photo(chat, ALICE, picture(colour, seed=400 + n))
                  for n, (chat, colour) in enumerate((c, k) for c in chats for k in ("red", "green", "blue"))]
        reposts = [fake_tg.send_photo(chat, BOB, reencoded(picture("red", seed=400 + 3 * n)))
                   for n, chat in enumerate(chats)]
        await telegram.deliver_new()
        stored = await items_reach(postgres_dsn, 4)
        assert stored < len(posted) + len(reposts), "the burst ended before the kill"
        victim = telegram.replicas[0]
        victim.process.send_signal(signal.SIGKILL)
        await settled(postgres_dsn, len(posted) + len(reposts))
        await assert_each_message_once(postgres_dsn, posted + reposts)
    for chat, repost in zip(chats, reposts, strict=True):
        assert list(alerts_by_reply(fake_tg, chat)) == [repost["message_id"]]
        assert len(alerts_by_reply(fake_tg, chat)[repost["message_id"]]) == 1
