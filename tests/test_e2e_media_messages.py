"""How media is posted, end to end: captions, albums, forwards, edits and channel posts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import RunningBot
from tests.fakes.telegram import Chat, User
from tests.pictures import picture, reencoded
from tests.test_e2e_media import search, stored

GROUP = Chat(id=-1005555555551, type="supergroup", title="Harbour")
CHANNEL = Chat(id=-1005555555552, type="channel", title="News")
ALICE = User(id=11, first_name="Alice", language_code="en")
BOB = User(id=22, first_name="Bob", language_code="en")
CAROL = User(id=33, first_name="Carol", language_code="en")


def largest(message: dict[str, Any]) -> dict[str, Any]:
    photo: dict[str, Any] = message["photo"][-1]
    return photo


async def test_caption_alone_finds_the_picture(bot: RunningBot) -> None:
    harbour = bot.tg.send_photo(GROUP, ALICE, picture("green", seed=60), caption="sunset over the harbour")
    bot.tg.send_photo(GROUP, BOB, picture("green", seed=61))
    await bot.settle()
    contents = bot.ds.embed_requests[0].json["input"]["contents"]
    assert contents[1] == {"text": "sunset over the harbour"}  # embedded next to the picture, same request
    assert await search(bot, GROUP, ALICE, "harbour") == [largest(harbour)["file_id"]]


async def test_item_matched_by_picture_and_caption_is_shown_once(bot: RunningBot) -> None:
    car = bot.tg.send_photo(GROUP, ALICE, picture("red", seed=62), caption="red car at the harbour")
    other = bot.tg.send_photo(GROUP, BOB, picture("red", seed=63))
    await bot.settle()
    found = await search(bot, GROUP, ALICE, "red car")
    assert sorted(found) == sorted([largest(car)["file_id"], largest(other)["file_id"]])


async def test_album_with_two_reposts_gives_one_alert_listing_both(bot: RunningBot) -> None:
    first, second = picture("red", seed=64), picture("blue", seed=65)
    bot.tg.send_photo(GROUP, ALICE, first)
    bot.tg.send_photo(GROUP, ALICE, second)
    await bot.settle()
    album = [
        bot.tg.send_photo(GROUP, BOB, data, media_group_id="album-1")
        for data in (reencoded(first), picture("yellow", seed=66), reencoded(second))
    ]
    await bot.settle()
    alerts = await bot.tg.wait_for(lambda: bot.tg.sent_messages(GROUP.id))
    await asyncio.sleep(0.6)  # past the debounce: nothing else may follow
    assert len(bot.tg.sent_messages(GROUP.id)) == 1
    text = alerts[0]["params"]["text"]
    assert "Reposts in this album" in text
    assert "item 1:" in text and "item 3:" in text and "item 2:" not in text
    assert text.count("Alice") == 2
    assert alerts[0]["params"]["reply_parameters"]["message_id"] == album[0]["message_id"]
    assert await bot.services.store.items.counts_by_kind(GROUP.id) == {"photo": 5}


@pytest.mark.slow  # waits out deadlines, debounces or batch windows in real time
async def test_album_embedded_slower_than_the_debounce_still_gives_one_alert(bot: RunningBot) -> None:
    first, last = picture("red", seed=72), picture("blue", seed=73)
    bot.tg.send_photo(GROUP, ALICE, first)
    bot.tg.send_photo(GROUP, ALICE, last)
    await bot.settle()
    bot.ds.latency = 0.4  # each item takes longer than the 0.3 s debounce (a chat's jobs run one at a time)
    fresh = [picture("yellow", seed=seed) for seed in range(74, 76)]
    for data in (reencoded(first), *fresh, reencoded(last)):
        bot.tg.send_photo(GROUP, BOB, data, media_group_id="album-2")
    await bot.settle()
    alerts = await bot.tg.wait_for(lambda: bot.tg.sent_messages(GROUP.id))
    await asyncio.sleep(0.6)
    assert len(bot.tg.sent_messages(GROUP.id)) == 1
    text = alerts[0]["params"]["text"]
    assert "item 1:" in text and "item 4:" in text


async def test_forwarded_media_is_indexed_and_credited_to_the_forwarder(bot: RunningBot) -> None:
    origin = {"type": "user", "sender_user": CAROL.to_dict(), "date": 1_700_000_000}
    photo = picture("blue", seed=67)
    forwarded = bot.tg.send_photo(GROUP, BOB, photo, forward_origin=origin)
    await bot.settle()
    item = await stored(bot, GROUP, forwarded)
    assert (item.sender_id, item.sender_name) == (BOB.id, "Bob")
    bot.tg.send_photo(GROUP, ALICE, reencoded(photo))
    alert = await bot.tg.wait_for(lambda: bot.tg.sent_messages(GROUP.id))
    text = alert[0]["params"]["text"]  # a text alert: the link shows the original
    assert "Bob" in text and "Carol" not in text


async def test_edit_replacing_the_media_re_embeds_it(bot: RunningBot) -> None:
    original = bot.tg.send_photo(GROUP, ALICE, picture("red", seed=68))
    await bot.settle()
    edited = bot.tg.send_photo(GROUP, ALICE, picture("blue", seed=69), edited_from=original)
    await bot.settle()
    item = await stored(bot, GROUP, original)
    assert item.file_unique_id == largest(edited)["file_unique_id"] != largest(original)["file_unique_id"]
    assert item.file_id == largest(edited)["file_id"]
    assert await bot.services.store.items.counts_by_kind(GROUP.id) == {"photo": 1}
    assert len(bot.ds.embed_requests) == 2
    assert await search(bot, GROUP, ALICE, "blue") == [item.file_id]
    assert await search(bot, GROUP, ALICE, "red") == []


async def test_edited_caption_replaces_the_old_one_in_search(bot: RunningBot) -> None:
    original = bot.tg.send_photo(GROUP, ALICE, picture("green", seed=70), caption="old harbour")
    await bot.settle()
    bot.tg.edit_message(original, caption="mountain lake")
    await bot.settle()
    item = await stored(bot, GROUP, original)
    assert item.caption == "mountain lake"
    assert await search(bot, GROUP, ALICE, "mountain") == [item.file_id]
    assert await search(bot, GROUP, ALICE, "harbour") == []


async def test_channel_repost_is_counted_but_never_answered_in_the_channel(bot: RunningBot) -> None:
    photo = picture("yellow", seed=71)
    first = bot.tg.send_photo(CHANNEL, None, photo)
    await bot.settle()
    bot.tg.send_photo(CHANNEL, None, reencoded(photo))
    await bot.settle()
    assert bot.tg.sent_messages(CHANNEL.id) == []
    item = await stored(bot, CHANNEL, first)
    assert item.sender_name == "News"
    stats = await bot.services.store.stats.chat_stats(CHANNEL.id)
    assert stats.items_by_kind == {"photo": 2} and stats.reposts_called == 1
