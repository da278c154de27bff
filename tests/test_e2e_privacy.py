"""People's data end to end: /forget, /forget me, /mydata, /purge, retention, and originals Telegram no longer serves.

Each command with the right person, the wrong person, and a confirmation left unpressed; what deleting means is
checked where it lives (the database rows, the index, the file's bytes, a replayed update, a restart).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from tests.conftest import RunningBot, running_bot, sqlite_only
from tests.fakes.telegram import Chat, FakeBotAPI, User
from tests.pictures import picture
from tests.support.storage import rows_mentioning, run_sql

pytestmark = pytest.mark.slow

BASIC = Chat(id=-4242, type="group", title="Basic")
GROUP = Chat(id=-1001234567890, type="supergroup", title="Group")
OTHER = Chat(id=-1009876543210, type="supergroup", title="Other")
ALICE = User(id=11, first_name="Alice", language_code="en")
BOB = User(id=22, first_name="Bob", language_code="en")
CAROL = User(id=33, first_name="Carol", language_code="en")
OPERATOR = User(id=999, first_name="Op", language_code="en")
SECRET = "alice-private-caption-7f3a"


def private(user: User) -> Chat:
    return Chat(id=user.id, type="private", first_name=user.first_name)


def new_messages(bot: RunningBot, chat_id: int, seen: int) -> list[dict[str, Any]]:
    return bot.tg.sent_messages(chat_id)[seen:]


async def command(bot: RunningBot, chat: Chat, user: User, text: str, **options: Any) -> dict[str, Any]:
    """Send a command and return the bot's first answer to it."""
    seen = len(bot.tg.sent_messages(chat.id))
    bot.tg.send_text(chat, user, text, **options)
    await bot.settle()
    answers = await bot.tg.wait_for(lambda: new_messages(bot, chat.id, seen))
    return answers[0]


def text_of(message: dict[str, Any]) -> str:
    params = message["params"]
    return str(params.get("text") or params.get("caption") or "")


def buttons(message: dict[str, Any]) -> list[str]:
    markup = message["params"].get("reply_markup") or {}
    if isinstance(markup, str):
        markup = json.loads(markup)
    return [button["callback_data"] for row in markup.get("inline_keyboard", []) for button in row]


async def press(bot: RunningBot, message: dict[str, Any], user: User, data: str) -> str:
    """Press a button; returns the toast the bot answered the press with."""
    query = bot.tg.press_button(message, user, data)
    await bot.settle()
    answers = await bot.tg.wait_for(
        lambda: [c for c in bot.tg.calls("answerCallbackQuery") if c["callback_query_id"] == query["id"]])
    return str(answers[0].get("text"))


async def post(bot: RunningBot, chat: Chat, user: User, seed: int, **options: Any) -> dict[str, Any]:
    posted = bot.tg.send_photo(chat, user, picture("red", seed=seed), **options)
    await bot.settle()
    return posted


async def stored(bot: RunningBot, chat: Chat, message: dict[str, Any]) -> bool:
    return await bot.services.store.items.by_message(chat.id, message["message_id"]) is not None


def db_path_of(bot: RunningBot) -> Path:
    return bot.services.settings.database_path


# ---- /forget (reply) -------------------------------------------------------------------------------------------


async def test_forget_reply_by_poster_deletes_the_item_everywhere(bot: RunningBot) -> None:
    photo = await post(bot, GROUP, ALICE, seed=1, caption=SECRET)
    item = await bot.services.store.items.by_message(GROUP.id, photo["message_id"])
    assert item is not None and await bot.services.indexes.count(GROUP.id) == 2  # media and caption vectors
    answer = await command(bot, GROUP, ALICE, "/forget", reply_to=photo)
    assert "Deleted: 1" in text_of(answer)
    assert not await stored(bot, GROUP, photo)
    assert await bot.services.indexes.count(GROUP.id) == 0
    assert await bot.services.store.cache.get(item.file_unique_id, item.model) is None


async def test_forget_reply_by_someone_else_is_refused_and_by_an_admin_allowed(bot: RunningBot) -> None:
    bot.tg.set_member_status(GROUP.id, BOB.id, "member")
    bot.tg.set_member_status(GROUP.id, CAROL.id, "administrator")
    photo = await post(bot, GROUP, ALICE, seed=2)
    refusal = await command(bot, GROUP, BOB, "/forget", reply_to=photo)
    assert "only the person who posted this or an admin" in text_of(refusal)
    assert await stored(bot, GROUP, photo)
    done = await command(bot, GROUP, CAROL, "/forget", reply_to=photo)
    assert "Deleted: 1" in text_of(done)
    assert not await stored(bot, GROUP, photo)


async def test_forget_without_a_reply_explains_itself_and_of_a_text_finds_nothing(bot: RunningBot) -> None:
    answer = await command(bot, GROUP, ALICE, "/forget")
    assert "/forget me" in text_of(answer)
    words = bot.tg.send_text(GROUP, ALICE, "just words")
    assert "nothing to delete" in text_of(await command(bot, GROUP, ALICE, "/forget", reply_to=words))


# ---- /forget me ------------------------------------------------------------------------------------------------


async def test_forget_me_in_a_group_needs_the_same_persons_press(bot: RunningBot) -> None:
    mine = [await post(bot, GROUP, ALICE, seed=s) for s in (3, 4)]
    bobs = await post(bot, GROUP, BOB, seed=5)
    ask = await command(bot, GROUP, ALICE, "/forget me")
    assert "Delete all 2 item(s)" in text_of(ask)
    yes, no = buttons(ask)
    assert yes.startswith("p:") and len(yes.encode()) <= 64

    assert await press(bot, ask, BOB, yes) == "This button is not for you."
    assert all([await stored(bot, GROUP, m) for m in mine])  # not pressed by Alice: nothing deleted

    seen = len(bot.tg.sent_messages(GROUP.id))
    assert await press(bot, ask, ALICE, yes) == "Done."
    result = await bot.tg.wait_for(lambda: new_messages(bot, GROUP.id, seen))
    assert "Deleted: 2" in text_of(result[0])
    assert not any([await stored(bot, GROUP, m) for m in mine])
    assert await stored(bot, GROUP, bobs)
    assert await press(bot, ask, ALICE, yes) == "This request has expired or was already answered."
    assert no.startswith("p:n:")


async def test_forget_me_cancelled_deletes_nothing(bot: RunningBot) -> None:
    photo = await post(bot, GROUP, ALICE, seed=6)
    ask = await command(bot, GROUP, ALICE, "/forget me")
    _yes, no = buttons(ask)
    assert await press(bot, ask, ALICE, no) == "Cancelled: nothing was deleted."
    assert await stored(bot, GROUP, photo)


async def test_forget_me_in_private_covers_every_chat_with_counts(bot: RunningBot) -> None:
    in_group = [await post(bot, GROUP, ALICE, seed=s) for s in (7, 8)]
    in_other = await post(bot, OTHER, ALICE, seed=9)
    bobs = await post(bot, OTHER, BOB, seed=10)
    ask = await command(bot, private(ALICE), ALICE, "/forget me")
    assert "Delete all 3 item(s) you posted, in every chat" in text_of(ask)
    seen = len(bot.tg.sent_messages(ALICE.id))
    assert await press(bot, ask, ALICE, buttons(ask)[0]) == "Done."
    result = text_of((await bot.tg.wait_for(lambda: new_messages(bot, ALICE.id, seen)))[0])
    assert f"chat {GROUP.id}: 2" in result and f"chat {OTHER.id}: 1" in result
    assert not any([await stored(bot, GROUP, m) for m in in_group]) and not await stored(bot, OTHER, in_other)
    assert await stored(bot, OTHER, bobs)


async def test_after_forget_me_nothing_returns_the_items_not_even_after_a_restart_or_a_replay(
        make_settings: Any, fake_tg: FakeBotAPI, fake_ds: Any) -> None:
    settings: Settings = make_settings()
    async with running_bot(settings, fake_tg, fake_ds) as bot:
        photo = picture("blue", seed=11)
        original = bot.tg.send_photo(GROUP, ALICE, photo, file_unique_id="alice-file", caption="sunset beach")
        await bot.settle()
        ask = await command(bot, GROUP, ALICE, "/forget me")
        await press(bot, ask, ALICE, buttons(ask)[0])
        seen = len(bot.tg.sent_messages(GROUP.id))
        bot.tg.send_photo(GROUP, BOB, photo, file_unique_id="alice-file")  # the same file again: no repost alert
        await bot.settle()
        assert new_messages(bot, GROUP.id, seen) == []
    async with running_bot(settings, fake_tg, fake_ds) as bot:
        bot.tg.push_update({"message": original})  # Telegram delivers Alice's old update again
        await bot.settle()
        assert not await stored(bot, GROUP, original)
        search = await command(bot, GROUP, CAROL, "/search sunset beach")
        assert str(original["photo"][-1]["file_id"]) not in json.dumps(search["params"])
        similar = await command(bot, GROUP, CAROL, "/similar", reply_to=original)
        assert str(original["photo"][-1]["file_id"]) not in json.dumps(similar["params"])
        reposted = bot.tg.send_photo(GROUP, ALICE, photo, file_unique_id="alice-file")  # posted again: a new item
        await bot.settle()
        assert await stored(bot, GROUP, reposted)


# ---- what deleting leaves in the file --------------------------------------------------------------------------


@sqlite_only  # the bytes of SQLite's file (secure_delete); PostgreSQL's dead rows are autovacuum's (README)
async def test_deleted_captions_are_gone_from_the_database_file(bot: RunningBot) -> None:
    photo = await post(bot, GROUP, ALICE, seed=12, caption=SECRET)
    await post(bot, GROUP, BOB, seed=13, caption="bob keeps this")
    await command(bot, GROUP, ALICE, "/forget", reply_to=photo)
    path = db_path_of(bot)
    files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
    everything = b"".join(p.read_bytes() for p in files)
    assert b"bob keeps this" in everything  # the search does find captions that are still stored
    assert SECRET.encode() not in everything


# ---- /mydata ---------------------------------------------------------------------------------------------------


async def test_mydata_in_private_summarises_and_sends_the_list_without_vectors(bot: RunningBot) -> None:
    await post(bot, GROUP, ALICE, seed=14, caption=SECRET)
    await post(bot, OTHER, ALICE, seed=15)
    seen = len(bot.tg.sent_messages(ALICE.id))
    bot.tg.send_text(private(ALICE), ALICE, "/mydata")
    await bot.settle()
    sent = await bot.tg.wait_for(lambda: new_messages(bot, ALICE.id, seen)[1:] and new_messages(bot, ALICE.id, seen))
    summary, document = sent[0], sent[1]
    assert "2 item(s)" in text_of(summary) and f"chat {GROUP.id}: photo 1" in text_of(summary)
    assert "captions stored: 1" in text_of(summary)
    assert document["method"] == "sendDocument"
    exported = json.loads(bot.tg.file_bytes(document["document"]["file_id"]))
    assert {row["chat_id"] for row in exported["items"]} == {GROUP.id, OTHER.id}
    assert {row["caption"] for row in exported["items"]} == {SECRET, None}
    assert set(exported["items"][0]) == {"chat_id", "message_id", "date", "kind", "caption"}


async def test_mydata_in_a_group_points_to_the_private_chat(bot: RunningBot) -> None:
    await post(bot, GROUP, ALICE, seed=16, caption=SECRET)
    answer = await command(bot, GROUP, ALICE, "/mydata")
    assert "private chat" in text_of(answer) and SECRET not in text_of(answer)


# ---- /purge ----------------------------------------------------------------------------------------------------


async def test_purge_needs_an_admin_to_ask_and_an_admin_to_press_and_leaves_no_rows(bot: RunningBot) -> None:
    bot.tg.set_member_status(GROUP.id, ALICE.id, "administrator")
    bot.tg.set_member_status(GROUP.id, CAROL.id, "administrator")
    bot.tg.set_member_status(GROUP.id, BOB.id, "member")
    await post(bot, GROUP, BOB, seed=17, caption="bob's")
    await command(bot, GROUP, ALICE, "/settings threshold 90")
    refused = await command(bot, GROUP, BOB, "/purge")
    assert "only the admins" in text_of(refused)
    ask = await command(bot, GROUP, ALICE, "/purge")
    yes = buttons(ask)[0]
    assert await press(bot, ask, BOB, yes) == "This button is not for you."
    assert await rows_mentioning(bot.services.store, GROUP.id)  # not pressed by an admin: all still there
    seen = len(bot.tg.sent_messages(GROUP.id))
    assert await press(bot, ask, CAROL, yes) == "Done."
    result = await bot.tg.wait_for(lambda: new_messages(bot, GROUP.id, seen))
    assert "is deleted" in text_of(result[0])
    assert await rows_mentioning(bot.services.store, GROUP.id) == {}
    stats = await command(bot, GROUP, ALICE, "/stats")
    assert "Items: 0" in text_of(stats) and "Index: 0 searchable vectors" in text_of(stats)


async def test_purge_by_id_from_private_is_for_operators_only(bot: RunningBot) -> None:
    photo = await post(bot, OTHER, BOB, seed=18)
    refused = await command(bot, private(ALICE), ALICE, f"/purge {OTHER.id}")
    assert "only the admins" in text_of(refused)
    ask = await command(bot, private(OPERATOR), OPERATOR, f"/purge {OTHER.id}")
    assert str(OTHER.id) in text_of(ask) and await stored(bot, OTHER, photo)
    assert await press(bot, ask, OPERATOR, buttons(ask)[0]) == "Done."
    assert await rows_mentioning(bot.services.store, OTHER.id) == {}


# ---- retention -------------------------------------------------------------------------------------------------


async def test_retention_setting_deletes_older_items_in_the_sweep(bot: RunningBot) -> None:
    bot.tg.set_member_status(GROUP.id, ALICE.id, "administrator")
    old = await post(bot, GROUP, ALICE, seed=19)
    recent = await post(bot, GROUP, ALICE, seed=20)
    shown = await command(bot, GROUP, ALICE, "/settings retention 365")
    assert "older than 365 days are deleted" in text_of(shown)
    a_year_and_more = int(time.time()) - 400 * 86400
    # The post is backdated: the fake Bot API dates messages now.
    await run_sql(bot.services.store, "UPDATE items SET date = $1 WHERE message_id = $2", a_year_and_more,
                  old["message_id"])
    assert await bot.services.lifecycle.expire_items() == 1
    assert not await stored(bot, GROUP, old) and await stored(bot, GROUP, recent)
    off = await command(bot, GROUP, ALICE, "/settings retention off")
    assert "kept until deleted" in text_of(off)
    assert (await command(bot, GROUP, ALICE, "/settings retention soon"))["params"]["text"].startswith(
        "Retention is a number of days")


# ---- originals Telegram no longer serves ------------------------------------------------------------------------


async def test_a_deleted_original_is_skipped_for_the_next_match_and_never_tried_again(bot: RunningBot) -> None:
    # Alerts re-send the original's media only where no link can point at it: a basic group.
    photo = picture("green", seed=21)
    alices = bot.tg.send_photo(BASIC, ALICE, photo, file_unique_id="same")
    await bot.settle()
    bobs = bot.tg.send_photo(BASIC, BOB, photo, file_unique_id="same")
    await bot.settle()
    gone = alices["photo"][-1]["file_id"]
    shown_before = len([c for c in bot.tg.calls("sendPhoto") if c.get("photo") == gone])  # Bob's alert showed it
    bot.tg.lose_file(gone)

    seen = len(bot.tg.sent_messages(BASIC.id))
    bot.tg.send_photo(BASIC, CAROL, photo, file_unique_id="same")
    await bot.settle()
    alert = (await bot.tg.wait_for(lambda: new_messages(bot, BASIC.id, seen)))[0]
    assert alert["params"]["photo"] == bobs["photo"][-1]["file_id"] and "Bob" in text_of(alert)

    bot.tg.send_photo(BASIC, CAROL, photo, file_unique_id="same")
    await bot.settle()
    tries = [c for c in bot.tg.calls("sendPhoto") if c.get("photo") == gone]
    assert len(tries) == shown_before + 1  # one refused try, then never again
    bot.tg.set_member_status(BASIC.id, ALICE.id, "administrator")
    stats = await command(bot, BASIC, ALICE, "/stats")
    assert "originals deleted from Telegram: 1" in text_of(stats)


# ---- what is stored, in the open -------------------------------------------------------------------------------


async def test_privacy_and_help_say_what_is_stored_how_long_and_how_to_delete(bot: RunningBot) -> None:
    li = User(id=44, first_name="李", language_code="zh-hans")
    english = text_of(await command(bot, GROUP, ALICE, "/privacy"))
    assert "caption" in english and "How long" in english and "/forget me" in english and "/purge" in english
    assert "for 7 days after it was handled" in english and "(30 days on this bot)" in english
    chinese = text_of(await command(bot, GROUP, li, "/privacy"))
    assert "保存多久" in chinese and "/forget me" in chinese
    help_text = text_of(await command(bot, private(ALICE), ALICE, "/help"))
    assert "/forget" in help_text and "/mydata" in help_text and "/privacy" in help_text
    menu = {c["command"] for c in bot.tg.calls("setMyCommands")[0]["commands"]}
    assert {"forget", "mydata", "purge", "privacy"} <= menu


async def test_forget_of_a_message_still_queued_removes_its_job_and_it_is_never_stored(bot: RunningBot) -> None:
    bot.ds.fail_next(401, "InvalidApiKey", "Invalid API-key provided.")  # embedding pauses: the job stays queued
    photo = bot.tg.send_photo(GROUP, ALICE, picture("red", seed=22), caption=SECRET)
    await bot.tg.wait_for(lambda: bot.ds.embed_requests)
    await bot.tg.wait_for(lambda: bot.services.health.account_paused)
    seen = len(bot.tg.sent_messages(GROUP.id))
    bot.tg.send_text(GROUP, ALICE, "/forget", reply_to=photo)
    answer = (await bot.tg.wait_for(lambda: new_messages(bot, GROUP.id, seen)))[0]
    assert "Deleted: 1" in text_of(answer)
    assert sum((await bot.services.store.jobs.counts(GROUP.id)).values()) == 0
    assert await bot.services.store.items.is_forgotten(GROUP.id, photo["message_id"])
    assert not await stored(bot, GROUP, photo)
