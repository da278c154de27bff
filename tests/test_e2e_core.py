"""Behaviour in chats, end to end: real PTB against the fake Bot API, real client against the fake DashScope."""

from __future__ import annotations

from typing import Any

from tests.conftest import API_KEY, TOKEN, RunningBot
from tests.fakes.telegram import Chat, User
from tests.pictures import picture, reencoded

GROUP = Chat(id=-1001234567890, type="supergroup", title="Cats & <Dogs>")
PUBLIC = Chat(id=-1009876543210, type="supergroup", title="Public", username="publicpics")
BASIC = Chat(id=-4242, type="group", title="Basic")
ALICE = User(id=11, first_name="Alice", language_code="en")
BOB = User(id=22, first_name="Bob", language_code="en")
LI = User(id=33, first_name="李", language_code="zh-hans")


def texts(sent: list[dict[str, Any]]) -> str:
    """Everything readable the bot sent: message texts and media captions."""
    parts = []
    for message in sent:
        params = message["params"]
        parts.append(str(params.get("text") or params.get("caption") or ""))
        for media in params.get("media") or []:
            parts.append(str(media.get("caption") or ""))
    return "\n".join(parts)


def answers_to(bot: RunningBot, chat: Chat, message: dict[str, Any]) -> list[dict[str, Any]]:
    """What the bot sent in reply to that message (alerts to other messages aside)."""
    return [m for m in bot.tg.sent_messages(chat.id)
            if (m["params"].get("reply_parameters") or {}).get("message_id") == message["message_id"]]


async def test_commands_menu_registered_in_english_and_chinese(bot: RunningBot) -> None:
    calls = bot.tg.calls("setMyCommands")
    languages = {call.get("language_code") for call in calls}
    assert languages == {None, "zh"}
    names = {c["command"] for c in calls[0]["commands"]}
    assert {"similar", "search", "stats", "settings", "help"} <= names


async def test_help_says_what_is_stored_and_privacy_mode(bot: RunningBot) -> None:
    private = Chat(id=ALICE.id, type="private", first_name="Alice")
    bot.tg.send_text(private, ALICE, "/start")
    sent = await bot.tg.wait_for(lambda: bot.tg.sent_messages(private.id))
    text = texts(sent)
    assert "Never the media itself" in text and "privacy mode" in text


async def test_identical_repost_in_group_is_called_out_with_the_original(bot: RunningBot) -> None:
    photo = picture("red", seed=1)
    first = bot.tg.send_photo(GROUP, ALICE, photo, file_unique_id="same-file")
    await bot.settle()
    assert bot.tg.sent_messages(GROUP.id) == []  # the first post is indexed silently
    repost = bot.tg.send_photo(GROUP, BOB, photo, file_unique_id="same-file")
    sent = await bot.tg.wait_for(lambda: bot.tg.sent_messages(GROUP.id))
    await bot.settle()
    (alert,) = bot.tg.sent_messages(GROUP.id)  # one text reply, no third copy of the picture
    assert alert["method"] == "sendMessage"
    assert alert["params"]["reply_parameters"]["message_id"] == repost["message_id"]
    text = alert["params"]["text"]
    assert "identical" in text and "Alice" in text and "%" not in text
    assert f"https://t.me/c/1234567890/{first['message_id']}" in text
    labels = [b["text"] for row in alert["params"]["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["Not a repost", "Ignore this picture"]
    assert sent


async def test_similar_reupload_is_called_out_with_percentage(bot: RunningBot) -> None:
    photo = picture("blue", seed=2)
    bot.tg.send_photo(PUBLIC, ALICE, photo)
    await bot.settle()
    second = bot.tg.send_photo(PUBLIC, BOB, reencoded(photo))
    sent = await bot.tg.wait_for(lambda: bot.tg.sent_messages(PUBLIC.id))
    text = sent[0]["params"]["text"]
    assert "Possible repost" in text and "%" in text and "100%" not in text  # a re-encode is not "100 %"
    assert "https://t.me/publicpics/" in text
    assert sent[0]["params"]["reply_parameters"]["message_id"] == second["message_id"]


async def test_different_photos_are_not_reposts(bot: RunningBot) -> None:
    bot.tg.send_photo(GROUP, ALICE, picture("red", seed=3))
    bot.tg.send_photo(GROUP, BOB, picture("blue", seed=4))
    bot.tg.send_photo(
        GROUP, BOB, picture("red", seed=5)
    )  # same colour, other scene: below the repost threshold
    await bot.settle()
    assert bot.tg.sent_messages(GROUP.id) == []
    assert len(bot.ds.embed_requests) == 3


async def test_basic_group_alert_has_no_link(bot: RunningBot) -> None:
    photo = picture("green", seed=6)
    bot.tg.send_photo(BASIC, ALICE, photo, file_unique_id="g1")
    await bot.settle()
    bot.tg.send_photo(BASIC, BOB, photo, file_unique_id="g1")
    sent = await bot.tg.wait_for(lambda: bot.tg.sent_messages(BASIC.id))
    await bot.settle()
    (alert,) = bot.tg.sent_messages(BASIC.id)  # no link can reach the original: it rides along, in one message
    assert alert["method"] == "sendPhoto" and "t.me" not in alert["params"]["caption"]
    assert "identical" in alert["params"]["caption"] and alert["params"]["reply_markup"]["inline_keyboard"]
    assert sent


async def test_private_chat_first_time_then_matches(bot: RunningBot) -> None:
    private = Chat(id=ALICE.id, type="private", first_name="Alice")
    photo = picture("yellow", seed=7)
    bot.tg.send_photo(private, ALICE, photo)
    first = await bot.tg.wait_for(lambda: bot.tg.sent_messages(private.id))
    assert "First time" in texts(first)
    bot.tg.send_photo(private, ALICE, reencoded(photo))
    sent = await bot.tg.wait_for(lambda: bot.tg.sent_messages(private.id)[1:])
    assert sent[0]["method"] == "sendPhoto"
    assert "%" in sent[0]["params"]["caption"]


async def test_chinese_user_gets_chinese_reply(bot: RunningBot) -> None:
    private = Chat(id=LI.id, type="private", first_name="李")
    bot.tg.send_photo(private, LI, picture("red", seed=8))
    sent = await bot.tg.wait_for(lambda: bot.tg.sent_messages(private.id))
    assert "第一次" in texts(sent)


async def test_similar_command_answers_album_with_scores(bot: RunningBot) -> None:
    target = bot.tg.send_photo(GROUP, ALICE, picture("red", seed=9))
    bot.tg.send_photo(GROUP, BOB, picture("red", seed=10))
    bot.tg.send_photo(GROUP, BOB, picture("red", seed=11))
    bot.tg.send_photo(GROUP, BOB, picture("blue", seed=12))
    await bot.settle()
    bot.tg.send_text(GROUP, ALICE, "/similar", reply_to=target)
    sent = await bot.tg.wait_for(
        lambda: [m for m in bot.tg.sent_messages(GROUP.id) if m["method"] == "sendMediaGroup"]
    )
    media = sent[0]["params"]["media"]
    assert len(media) == 2  # the two other red scenes; not the target itself, not the blue one
    assert all("%" in m["caption"] for m in media)


async def test_similar_without_reply_explains_usage(bot: RunningBot) -> None:
    bot.tg.send_text(GROUP, ALICE, "/similar")
    sent = await bot.tg.wait_for(lambda: bot.tg.sent_messages(GROUP.id))
    assert "Reply to a photo" in texts(sent)


async def test_search_finds_photos_by_words(bot: RunningBot) -> None:
    bot.tg.send_photo(GROUP, ALICE, picture("green", seed=13))
    bot.tg.send_photo(GROUP, ALICE, picture("blue", seed=14))
    bot.tg.send_photo(GROUP, BOB, picture("green", seed=15))
    await bot.settle()
    bot.tg.send_text(GROUP, ALICE, "/search@mediabot_test_bot green leaves")
    sent = await bot.tg.wait_for(
        lambda: [m for m in bot.tg.sent_messages(GROUP.id) if m["method"] == "sendMediaGroup"]
    )
    assert len(sent[0]["params"]["media"]) == 2


async def test_search_usage_and_no_result(bot: RunningBot) -> None:
    bot.tg.send_photo(GROUP, ALICE, picture("green", seed=16))
    await bot.settle()
    bot.tg.send_text(GROUP, ALICE, "/search")
    bot.tg.send_text(GROUP, ALICE, "/search <b>yellow</b> & more")
    sent = await bot.tg.wait_for(
        lambda: bot.tg.sent_messages(GROUP.id)[1:] and bot.tg.sent_messages(GROUP.id)
    )
    text = texts(sent)
    assert "Usage" in text
    assert "&lt;b&gt;yellow&lt;/b&gt; &amp; more" in text


async def test_search_results_stay_in_their_chat(bot: RunningBot) -> None:
    other = Chat(id=-1005555555555, type="supergroup", title="Other")
    bot.tg.send_photo(GROUP, ALICE, picture("yellow", seed=17))
    await bot.settle()
    bot.tg.send_text(other, ALICE, "/search yellow")
    sent = await bot.tg.wait_for(lambda: bot.tg.sent_messages(other.id))
    assert sent[0]["method"] == "sendMessage"
    assert "No picture" in sent[0]["params"]["text"]


async def test_resent_file_costs_no_api_call_even_in_another_chat(bot: RunningBot) -> None:
    photo = picture("red", seed=18)
    bot.tg.send_photo(GROUP, ALICE, photo, file_unique_id="shared")
    await bot.settle()
    calls = len(bot.ds.embed_requests)
    other = Chat(id=-1006666666666, type="supergroup", title="Other")
    bot.tg.send_photo(other, BOB, photo, file_unique_id="shared")
    await bot.settle()
    assert len(bot.ds.embed_requests) == calls
    assert await bot.services.store.items.by_message(other.id, bot.tg.last_message_id(other.id)) is not None


async def test_stats_for_admin_and_refusal_for_member(bot: RunningBot) -> None:
    bot.tg.set_member_status(GROUP.id, ALICE.id, "administrator")
    bot.tg.set_member_status(GROUP.id, BOB.id, "member")
    photo = picture("red", seed=19)
    bot.tg.send_photo(GROUP, ALICE, photo, file_unique_id="s1")
    await bot.settle()
    bot.tg.send_photo(GROUP, BOB, photo, file_unique_id="s1")
    await bot.settle()
    asked = bot.tg.send_text(GROUP, BOB, "/stats")
    refusal = await bot.tg.wait_for(lambda: answers_to(bot, GROUP, asked))
    assert "only the admins" in refusal[0]["params"]["text"]
    asked = bot.tg.send_text(GROUP, ALICE, "/stats")
    stats = await bot.tg.wait_for(lambda: answers_to(bot, GROUP, asked))
    text = stats[0]["params"]["text"]
    assert "Items: 2" in text and "Reposts called out: 1" in text and "Alice" in text
    assert "Cats &amp; &lt;Dogs&gt;" in text


async def test_anonymous_admin_gets_stats(bot: RunningBot) -> None:
    anonymous = User(id=1087968824, first_name="Group", username="GroupAnonymousBot", is_bot=True)
    bot.tg.send_text(GROUP, anonymous, "/stats", sender_chat=GROUP)
    sent = await bot.tg.wait_for(lambda: bot.tg.sent_messages(GROUP.id))
    assert "Stats for" in sent[0]["params"]["text"]


async def test_operator_gets_all_chats_in_private(bot: RunningBot) -> None:
    operator = User(id=999, first_name="Op")
    bot.tg.send_photo(GROUP, ALICE, picture("red", seed=20))
    bot.tg.send_photo(PUBLIC, ALICE, picture("blue", seed=21))
    await bot.settle()
    private = Chat(id=operator.id, type="private", first_name="Op")
    bot.tg.send_text(private, operator, "/stats")
    sent = await bot.tg.wait_for(lambda: bot.tg.sent_messages(private.id))
    text = texts(sent)
    assert "All chats" in text and "Stats for Cats &amp; &lt;Dogs&gt;" in text and "Stats for Public" in text


async def test_corrupt_image_is_answered_in_private_and_silent_in_group(bot: RunningBot) -> None:
    private = Chat(id=BOB.id, type="private", first_name="Bob")
    broken = picture("red", seed=22)[:300]
    bot.tg.send_document(private, BOB, broken, mime_type="image/jpeg", file_name="broken.jpg")
    sent = await bot.tg.wait_for(lambda: bot.tg.sent_messages(private.id))
    assert "damaged" in texts(sent)
    bot.tg.send_document(GROUP, BOB, broken, mime_type="image/jpeg", file_name="broken.jpg")
    good = bot.tg.send_photo(GROUP, ALICE, picture("green", seed=23))
    await bot.settle()
    assert bot.tg.sent_messages(GROUP.id) == []
    assert await bot.services.store.items.by_message(GROUP.id, good["message_id"]) is not None


async def test_throttling_then_success_loses_nothing(bot: RunningBot) -> None:
    bot.ds.fail_next(429, "Throttling.RateQuota", "Requests rate limit exceeded", times=2, retry_after=0)
    message = bot.tg.send_photo(GROUP, ALICE, picture("blue", seed=24))
    await bot.settle()
    assert await bot.services.store.items.by_message(GROUP.id, message["message_id"]) is not None
    assert len(bot.ds.embed_requests) == 3


async def test_image_goes_as_data_uri_and_no_token_reaches_dashscope(bot: RunningBot) -> None:
    bot.tg.send_photo(GROUP, ALICE, picture("red", seed=25), caption="a red <car>")
    await bot.settle()
    request = bot.ds.embed_requests[0]
    contents = request.json["input"]["contents"]
    assert contents[0]["image"].startswith("data:image/")
    assert contents[1] == {"text": "a red <car>"}
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    everything = (
        b"".join(r.body for r in bot.ds.requests) + str([r.headers for r in bot.ds.requests]).encode()
    )
    assert TOKEN.encode() not in everything and b"/file/bot" not in everything
