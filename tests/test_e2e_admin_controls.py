"""Admins in control, end to end: alert buttons, settings buttons, alert styles, the leeway, the chat language."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.config import Settings
from tests.conftest import RunningBot, running_bot
from tests.fakes.dashscope import FakeDashScope
from tests.fakes.telegram import Chat, FakeBotAPI, User
from tests.pictures import picture

pytestmark = pytest.mark.slow

GROUP = Chat(id=-1001234567890, type="supergroup", title="Cats")
ALICE = User(id=11, first_name="Alice", language_code="en")
BOB = User(id=22, first_name="Bob", language_code="en")
CAROL = User(id=33, first_name="Carol", language_code="en")
DAVE = User(id=44, first_name="Dave", language_code="en")
ADMIN = User(id=55, first_name="Ada", language_code="en")


def members(tg: FakeBotAPI) -> None:
    for user in (ALICE, BOB, CAROL, DAVE):
        tg.set_member_status(GROUP.id, user.id, "member")
    tg.set_member_status(GROUP.id, ADMIN.id, "administrator")


async def alert_for(bot: RunningBot, photo: bytes, file_id: str, *, first: User = ALICE,
                    second: User = BOB) -> dict[str, Any]:
    """Two posts of the same file by two people: the second is called out; the alert is returned."""
    bot.tg.send_photo(GROUP, first, photo, file_unique_id=file_id)
    await bot.settle()
    before = len(bot.tg.sent_messages(GROUP.id))
    bot.tg.send_photo(GROUP, second, photo, file_unique_id=file_id)
    await bot.settle()
    (alert,) = bot.tg.sent_messages(GROUP.id)[before:]
    return alert


def button(message: dict[str, Any], label: str) -> str:
    rows = message["params"]["reply_markup"]["inline_keyboard"]
    return next(str(b["callback_data"]) for row in rows for b in row if b["text"].removeprefix("✓ ") == label)


async def press(bot: RunningBot, message: dict[str, Any], user: User, label: str) -> str:
    """Press a button and return the toast it was answered with."""
    answered = len(bot.tg.calls("answerCallbackQuery"))
    bot.tg.press_button(message, user, button(message, label))
    await bot.settle()
    calls = await bot.tg.wait_for(lambda: bot.tg.calls("answerCallbackQuery")[answered:])
    return str(calls[0].get("text", ""))


def group_texts(bot: RunningBot, since: int = 0) -> list[str]:
    return [str(m["params"].get("text") or m["params"].get("caption") or "")
            for m in bot.tg.sent_messages(GROUP.id)[since:]]


async def test_the_poster_dismisses_an_alert_and_the_pair_is_never_called_out_again(bot: RunningBot) -> None:
    members(bot.tg)
    photo = picture("red", seed=1)
    alert = await alert_for(bot, photo, "meme-1")
    assert await press(bot, alert, BOB, "Not a repost") == "Noted: not a repost."
    (edit,) = bot.tg.calls("editMessageText")
    assert "Not a repost" in edit["text"] and "Bob" in edit["text"] and "identical" in edit["text"]
    assert "reply_markup" not in edit  # the buttons are gone
    before = len(bot.tg.sent_messages(GROUP.id))
    bot.tg.send_photo(GROUP, CAROL, photo, file_unique_id="meme-1")
    await bot.settle()
    assert bot.tg.sent_messages(GROUP.id)[before:] == []
    stats = await bot.services.store.stats.chat_stats(GROUP.id)
    assert stats.alerts_dismissed == 1 and stats.reposts_called == 1


async def test_a_stranger_is_refused_and_nothing_changes(bot: RunningBot) -> None:
    members(bot.tg)
    alert = await alert_for(bot, picture("blue", seed=2), "f-2")
    toast = await press(bot, alert, CAROL, "Not a repost")
    assert toast == "Only the two posters and the chat's admins can dismiss this alert."
    assert bot.tg.calls("editMessageText") == []
    assert await bot.services.store.feedback.dismissals(GROUP.id) == []
    assert await press(bot, alert, BOB, "Ignore this picture") == "Only the chat's admins can do this."


async def test_an_admin_ignores_a_picture_and_its_likes_stop_alerting(bot: RunningBot) -> None:
    members(bot.tg)
    photo = picture("green", seed=3)
    alert = await alert_for(bot, photo, "template")
    assert await press(bot, alert, ADMIN, "Ignore this picture") == "Added to this chat's ignore list."
    (edit,) = bot.tg.calls("editMessageText")
    assert "Ignored" in edit["text"] and "Ada" in edit["text"]
    before = len(bot.tg.sent_messages(GROUP.id))
    bot.tg.send_photo(GROUP, DAVE, photo, file_unique_id="template")
    await bot.settle()
    assert bot.tg.sent_messages(GROUP.id)[before:] == []
    assert (await bot.services.store.stats.chat_stats(GROUP.id)).ignored == 1


async def test_presses_work_after_a_restart_and_their_effect_survives_one(
        make_settings: Any, fake_tg: FakeBotAPI, fake_ds: FakeDashScope) -> None:
    settings: Settings = make_settings()
    members(fake_tg)
    dismissed, ignored = picture("red", seed=4), picture("blue", seed=5)
    async with running_bot(settings, fake_tg, fake_ds) as bot:
        first_alert = await alert_for(bot, dismissed, "d-4")
        second_alert = await alert_for(bot, ignored, "i-5", first=CAROL, second=DAVE)
    async with running_bot(settings, fake_tg, fake_ds) as bot:  # an alert from before the restart
        assert await press(bot, first_alert, ALICE, "Not a repost") == "Noted: not a repost."
        assert await press(bot, second_alert, ADMIN, "Ignore this picture") == "Added to this chat's ignore list."
    async with running_bot(settings, fake_tg, fake_ds) as bot:
        before = len(bot.tg.sent_messages(GROUP.id))
        bot.tg.send_photo(GROUP, BOB, dismissed, file_unique_id="d-4")
        bot.tg.send_photo(GROUP, BOB, ignored, file_unique_id="i-5")
        await bot.settle()
        assert bot.tg.sent_messages(GROUP.id)[before:] == []


async def test_a_press_on_an_alert_whose_data_was_purged_is_answered_politely(bot: RunningBot) -> None:
    members(bot.tg)
    alert = await alert_for(bot, picture("red", seed=6), "p-6")
    await bot.services.store.chats.purge(GROUP.id)
    assert await press(bot, alert, BOB, "Not a repost") == (
        "Sorry, this alert's media is no longer stored (the chat's data was deleted).")
    assert bot.tg.calls("editMessageText") == []


async def test_reaction_style_reacts_and_off_stays_silent(bot: RunningBot) -> None:
    members(bot.tg)
    bot.tg.send_text(GROUP, ADMIN, "/settings alert reaction")
    await bot.settle()
    before = len(bot.tg.sent_messages(GROUP.id))
    photo = picture("red", seed=7)
    bot.tg.send_photo(GROUP, ALICE, photo, file_unique_id="r-7")
    await bot.settle()
    repost = bot.tg.send_photo(GROUP, BOB, photo, file_unique_id="r-7")
    await bot.settle()
    assert bot.tg.sent_messages(GROUP.id)[before:] == []  # no message: a reaction on the repost
    (reaction,) = bot.tg.calls("setMessageReaction")
    assert int(reaction["message_id"]) == repost["message_id"] and "👀" in str(reaction["reaction"])

    bot.tg.send_text(GROUP, ADMIN, "/settings alert off")
    await bot.settle()
    before = len(bot.tg.sent_messages(GROUP.id))
    again = bot.tg.send_photo(GROUP, CAROL, photo, file_unique_id="r-7")
    await bot.settle()
    assert bot.tg.sent_messages(GROUP.id)[before:] == [] and len(bot.tg.calls("setMessageReaction")) == 1
    assert await bot.services.store.items.by_message(GROUP.id, again["message_id"]) is not None  # still indexed


async def test_own_reposts_within_the_leeway_are_not_called_out(bot: RunningBot) -> None:
    members(bot.tg)
    photo = picture("blue", seed=8)
    bot.tg.send_photo(GROUP, ALICE, photo, file_unique_id="own-8")
    await bot.settle()
    bot.tg.send_photo(GROUP, ALICE, photo, file_unique_id="own-8")  # default leeway: 24 h
    await bot.settle()
    assert bot.tg.sent_messages(GROUP.id) == []
    bot.tg.send_text(GROUP, ADMIN, "/settings leeway 0")
    await bot.settle()
    before = len(bot.tg.sent_messages(GROUP.id))
    bot.tg.send_photo(GROUP, ALICE, photo, file_unique_id="own-8")
    await bot.settle()
    (alert,) = group_texts(bot, before)
    assert "identical" in alert and "Alice" in alert


async def test_settings_buttons_change_at_once_and_refuse_non_admins(bot: RunningBot) -> None:
    members(bot.tg)
    bot.tg.send_text(GROUP, ADMIN, "/settings")
    await bot.settle()
    (view,) = bot.tg.sent_messages(GROUP.id)
    assert "Repost threshold: 95%" in view["params"]["text"]
    assert await press(bot, view, BOB, "Reaction") == "Only the chat's admins can do this."
    assert (await bot.services.store.chats.settings(GROUP.id)).alert_style == "reply"
    assert await press(bot, view, ADMIN, "Reaction") == "✅ Changed: alert style reaction."
    assert await press(bot, view, ADMIN, "Strict 97%") == "✅ Changed: repost threshold 97%."
    settings = await bot.services.store.chats.settings(GROUP.id)
    assert settings.alert_style == "reaction" and settings.repost_threshold == pytest.approx(0.97)
    edits = bot.tg.calls("editMessageText")
    assert "Repost threshold: 97%" in edits[-1]["text"] and "✓ Strict 97%" in str(edits[-1]["reply_markup"])
    bot.tg.send_text(GROUP, ADMIN, "/stats")
    await bot.settle()
    assert "alerts reaction" in group_texts(bot)[-1] and "threshold 97%" in group_texts(bot)[-1]


async def test_out_of_range_values_say_the_valid_range(bot: RunningBot) -> None:
    members(bot.tg)
    bot.tg.send_text(GROUP, ADMIN, "/settings threshold 200")
    bot.tg.send_text(GROUP, ADMIN, "/settings leeway 1000")
    await bot.settle()
    texts = group_texts(bot)
    assert any("between 50 and 100" in text for text in texts)
    assert any("between 0 and 720 hours" in text for text in texts)


async def test_ignore_list_undo_from_settings(bot: RunningBot) -> None:
    members(bot.tg)
    photo = picture("green", seed=9)
    alert = await alert_for(bot, photo, "u-9")
    await press(bot, alert, ADMIN, "Ignore this picture")
    await press(bot, alert, ALICE, "Not a repost")
    bot.tg.send_text(GROUP, ADMIN, "/settings")
    await bot.settle()
    view = bot.tg.sent_messages(GROUP.id)[-1]
    await press(bot, view, ADMIN, "Ignore list (1)")
    lists = bot.tg.calls("editMessageText")[-1]
    assert "#1 photos, added by Ada" in lists["text"] and "#2 by Alice" in lists["text"]
    listing = {**view, "params": {**view["params"], "reply_markup": _json(lists["reply_markup"])}}
    await press(bot, listing, ADMIN, "Undo #1")
    await press(bot, listing, ADMIN, "Undo #2")
    assert await bot.services.store.feedback.ignored(GROUP.id) == []
    assert await bot.services.store.feedback.dismissals(GROUP.id) == []
    before = len(bot.tg.sent_messages(GROUP.id))
    bot.tg.send_photo(GROUP, CAROL, photo, file_unique_id="u-9")
    await bot.settle()
    assert len(group_texts(bot, before)) == 1  # called out again


async def test_chat_language_for_group_alerts(bot: RunningBot) -> None:
    members(bot.tg)
    bot.tg.send_text(GROUP, ADMIN, "/settings language zh")
    await bot.settle()
    before = len(bot.tg.sent_messages(GROUP.id))
    photo = picture("red", seed=10)
    bot.tg.send_photo(GROUP, ALICE, photo, file_unique_id="zh-10")
    await bot.settle()
    bot.tg.send_photo(GROUP, BOB, photo, file_unique_id="zh-10")  # Bob's app is in English
    await bot.settle()
    (alert,) = bot.tg.sent_messages(GROUP.id)[before:]
    assert "重复发布" in alert["params"]["text"] and "不是重复" in str(alert["params"]["reply_markup"])


def _json(value: Any) -> Any:
    """reply_markup as the bot sent it: form fields carry objects as JSON text."""
    return json.loads(value) if isinstance(value, str) else value


async def test_a_typed_threshold_is_previewed_without_an_api_call_and_applied_by_its_button(bot: RunningBot) -> None:
    members(bot.tg)
    photo = picture("red", seed=11)
    await alert_for(bot, photo, "t-11")
    requests = len(bot.ds.embed_requests)
    bot.tg.send_text(GROUP, ADMIN, "/settings threshold 90")
    await bot.settle()
    preview = bot.tg.sent_messages(GROUP.id)[-1]
    text = preview["params"]["text"]
    assert "Threshold 90%?" in text and "(now 95%)" in text
    assert "1 would have been called out at 90%, 1 at 95%" in text
    assert "• identical ✓ Bob" in text and "Alice" in text  # the borderline pair: the very same file
    assert len(bot.ds.embed_requests) == requests  # computed from stored vectors only
    assert (await bot.services.store.chats.settings(GROUP.id)).repost_threshold is None
    assert await press(bot, preview, ADMIN, "Apply 90%") == "✅ Changed: repost threshold 90%."
    assert (await bot.services.store.chats.settings(GROUP.id)).repost_threshold == pytest.approx(0.90)


@pytest.mark.parametrize(("privacy_mode", "status", "sees"), [
    (False, "member", True), (True, "administrator", True), (True, "member", False)])
async def test_the_greeting_says_whether_the_bot_sees_the_media(
        make_settings: Any, fake_ds: FakeDashScope, privacy_mode: bool, status: str, sees: bool) -> None:
    with FakeBotAPI(privacy_mode=privacy_mode) as tg:
        settings: Settings = make_settings(TELEGRAM_API_URL=tg.root)
        async with running_bot(settings, tg, fake_ds) as bot:
            tg.my_chat_member(GROUP, ADMIN, "left", status)
            await bot.settle()
            tg.my_chat_member(GROUP, ADMIN, status, "administrator")  # a promotion is no new arrival
            await bot.settle()
            (greeting,) = tg.sent_messages(GROUP.id)
    text = greeting["params"]["text"]
    assert "reposted photos" in text and "/settings" in text
    assert ("I can see the media posted here" in text) is sees
    assert ("make me an admin, or turn off my privacy mode in @BotFather" in text) is not sees


async def test_plain_text_in_private_gets_a_hint(bot: RunningBot) -> None:
    private = Chat(id=ALICE.id, type="private", first_name="Alice")
    bot.tg.send_text(private, ALICE, "hello?")
    await bot.settle()
    (hint,) = bot.tg.sent_messages(private.id)
    assert hint["params"]["text"] == "Send me a photo, video or GIF to find similar ones, or see /help."


async def test_stats_speak_chinese_throughout_and_show_feedback(bot: RunningBot) -> None:
    members(bot.tg)
    li = User(id=66, first_name="李", language_code="zh-hans")
    bot.tg.set_member_status(GROUP.id, li.id, "administrator")
    alert = await alert_for(bot, picture("red", seed=12), "zh-12")
    await press(bot, alert, BOB, "Not a repost")
    bot.tg.send_text(GROUP, li, "/stats")
    await bot.settle()
    text = group_texts(bot)[-1]
    assert "媒体数：2（图片 2）" in text and "向量化方式：图片 2" in text and "已撤销提醒：1 · 忽略列表：0" in text
    assert "重复发布最多：Bob (1)" in text and "阈值 95%" in text
    for raw in ("photo", "image", "Items", ".0 ", "reply"):
        assert raw not in text
