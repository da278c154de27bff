"""Telegram's own changes to a chat, end to end: a group becoming a supergroup, the bot removed and re-added."""

from __future__ import annotations

import time
from typing import Any

from tests.conftest import RunningBot
from tests.fakes.telegram import Chat, User
from tests.pictures import picture, reencoded
from tests.test_e2e_core import texts
from tests.test_e2e_media import search, stored

BASIC = Chat(id=-4243, type="group", title="Basic")
SUPERGROUP_ID = -1007777777777
GROUP = Chat(id=-1007777777778, type="supergroup", title="Leaving")
ALICE = User(id=11, first_name="Alice", language_code="en")
BOB = User(id=22, first_name="Bob", language_code="en")
DAY = 86400


async def test_migration_moves_items_settings_and_queued_work_to_the_supergroup(bot: RunningBot) -> None:
    bot.tg.set_member_status(BASIC.id, ALICE.id, "creator")
    red = picture("red", seed=80)
    original = bot.tg.send_photo(BASIC, ALICE, red)
    bot.tg.send_text(BASIC, ALICE, "/settings stickers on")
    await bot.settle()
    bot.ds.latency = 0.8  # the repost below is still being embedded when the group migrates
    repost = bot.tg.send_photo(BASIC, BOB, reencoded(red))
    await bot.tg.wait_for(lambda: bot.ds.embed_requests[1:])
    supergroup = bot.tg.migrate_chat(BASIC, SUPERGROUP_ID, by_user=ALICE)
    alert = await bot.tg.wait_for(lambda: bot.tg.sent_messages(SUPERGROUP_ID))
    await bot.settle()
    bot.ds.latency = 0.0

    assert "Possible repost" in alert[0]["params"]["caption"] and "Alice" in alert[0]["params"]["caption"]
    assert alert[0]["params"]["reply_parameters"]["message_id"] == repost["message_id"]
    assert [r.params["chat_id"] for r in bot.tg.failed_requests()] == [BASIC.id]  # refused: ChatMigrated
    store = bot.services.store
    assert await store.items.counts_by_kind(SUPERGROUP_ID) == {"photo": 2}
    assert await store.items.counts_by_kind(BASIC.id) == {}
    jobs = await store.jobs.counts()
    assert jobs["failed"] == jobs["pending"] == jobs["running"] == 0
    assert (await store.chats.settings(SUPERGROUP_ID)).alert_stickers
    assert (await store.stats.chat_stats(SUPERGROUP_ID)).reposts_called == 1

    items = [await stored(bot, BASIC, message) for message in (original, repost)]  # found by their old address
    assert {item.chat_id for item in items} == {SUPERGROUP_ID}
    (found,) = await search(bot, supergroup, ALICE, "red")  # the picture and its re-encode are one result
    assert found in {item.file_id for item in items} and "and 1 copy" in texts(bot.tg.sent_messages(SUPERGROUP_ID))
    assert "t.me" not in texts(bot.tg.sent_messages(SUPERGROUP_ID))  # a basic group's messages have no links


def raw_photo_message(bot: RunningBot, chat: Chat, user: User, data: bytes) -> dict[str, Any]:
    """A message as Telegram might still deliver it while the removal is being processed."""
    file = bot.tg.add_file(data)
    size = {"file_id": file.file_id, "file_unique_id": file.file_unique_id, "file_size": file.file_size,
            "width": 640, "height": 480}
    return {"message_id": 999, "date": int(time.time()), "chat": chat.to_dict(), "from": user.to_dict(),
            "photo": [size]}


async def test_removed_chat_is_not_served_restored_when_re_added_and_purged_after_retention(
        bot: RunningBot) -> None:
    bot.tg.send_photo(GROUP, ALICE, picture("green", seed=81))
    await bot.settle()
    store = bot.services.store

    bot.tg.my_chat_member(GROUP, ALICE, "member", "left")
    await bot.settle()
    assert not await store.chats.is_active(GROUP.id)
    late = raw_photo_message(bot, GROUP, BOB, picture("blue", seed=82))
    bot.tg.push_update({"message": late})
    await bot.settle()
    assert await store.items.by_message(GROUP.id, late["message_id"]) is None
    assert len(bot.ds.embed_requests) == 1 and bot.tg.sent_messages(GROUP.id) == []
    assert await bot.services.lifecycle.purge_expired() == []  # within the retention period: kept

    bot.tg.my_chat_member(GROUP, ALICE, "left", "member")
    await bot.settle()
    assert await store.chats.is_active(GROUP.id)
    assert len(await search(bot, GROUP, ALICE, "green")) == 1

    await store.chats.mark_removed(GROUP.id, int(time.time()) - 31 * DAY)
    assert await bot.services.lifecycle.purge_expired() == [GROUP.id]
    assert await store.items.counts_by_kind(GROUP.id) == {}
    bot.tg.my_chat_member(GROUP, ALICE, "left", "member")
    await bot.settle()
    assert await search(bot, GROUP, ALICE, "green") == []
