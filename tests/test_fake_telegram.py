"""The fake Bot API must accept what Telegram accepts and refuse what it refuses.

Most tests drive it with the real ``telegram.Bot`` (so PTB's encoding, error mapping and de_json are part of
the check); the wire-level details (JSON bodies, method-name case, raw error bodies) use httpx directly.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from telegram import (
    Bot,
    ChatMemberAdministrator,
    ChatMemberLeft,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
    ReactionTypeEmoji,
    ReplyParameters,
    Update,
)
from telegram.error import BadRequest, ChatMigrated, Conflict, Forbidden, InvalidToken, RetryAfter
from telegram.ext import Application, CommandHandler, ContextTypes

from tests.fakes.telegram import Chat, FakeBotAPI, User
from tests.fakes.telegram_entities import EntityParseError
from tests.fakes.telegram_html import parse_html
from tests.fakes.telegram_markdown import parse_markdown_v2
from tests.pictures import picture

TOKEN = "123456:TEST-token_abc"
GROUP = Chat(id=-1001234567890, type="supergroup", title="Group")
ALICE = User(id=11, first_name="Alice", username="alice")
BOB = User(id=22, first_name="Bob")


@pytest.fixture
def telegram() -> Iterator[FakeBotAPI]:
    with FakeBotAPI(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def bot(telegram: FakeBotAPI) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=telegram.base_url, base_file_url=telegram.base_file_url) as client:
        yield client


@pytest.fixture
def photo() -> bytes:
    return picture("red", seed=1)


def raw_call(telegram: FakeBotAPI, method: str, **kwargs: object) -> httpx.Response:
    return httpx.post(f"{telegram.base_url}{TOKEN}/{method}", timeout=5, **kwargs)  # type: ignore[arg-type]


# ---- identity, tokens, wire ----------------------------------------------------------------------
async def test_get_me_describes_the_bot(bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456, "mediabot_test_bot", True)
    assert me.can_read_all_group_messages is True


async def test_wrong_and_malformed_tokens_are_invalid(telegram: FakeBotAPI) -> None:
    for token in ("123456:WRONG-token", "not-a-token"):
        with pytest.raises(InvalidToken):
            async with Bot(token, base_url=telegram.base_url):
                pass


def test_raw_error_bodies_and_case_insensitive_method_names(telegram: FakeBotAPI) -> None:
    unauthorized = httpx.post(f"{telegram.base_url}123456:WRONG/getMe")
    assert unauthorized.status_code == 401
    assert unauthorized.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert httpx.post(f"{telegram.base_url}garbage/getMe").status_code == 404
    assert raw_call(telegram, "sendTelepathy").json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert httpx.get(f"{telegram.base_file_url}{TOKEN}/documents/nothing").status_code == 404
    assert raw_call(telegram, "GETME").json()["result"]["id"] == 123456
    assert [request.status for request in telegram.requests if request.method == "getMe"] == [401, 404, 200]


def test_json_bodies_and_query_strings_are_read_like_form_data(telegram: FakeBotAPI) -> None:
    telegram.add_chat(GROUP)
    sent = raw_call(telegram, "sendMessage", json={"chat_id": GROUP.id, "text": "hi", "disable_notification": True})
    assert sent.json()["result"]["text"] == "hi"
    got = httpx.get(f"{telegram.base_url}{TOKEN}/sendMessage", params={"chat_id": GROUP.id, "text": "q"})
    assert got.json()["result"]["text"] == "q"
    assert telegram.calls("sendMessage")[0] == {"chat_id": GROUP.id, "text": "hi", "disable_notification": True}


# ---- sendMessage and formatting ------------------------------------------------------------------
async def test_html_is_parsed_into_entities(telegram: FakeBotAPI, bot: Bot) -> None:
    telegram.add_chat(GROUP)
    message = await bot.send_message(GROUP.id, "<b>Cats</b> &amp; <a href='https://t.me/x'>dogs</a> 🐱<i>!</i>", "HTML")
    assert message.text == "Cats & dogs 🐱!"
    kinds = [(entity.type, entity.offset, entity.length) for entity in message.entities]
    assert kinds == [("bold", 0, 4), ("text_link", 7, 4), ("italic", 14, 1)]  # the emoji counts twice (UTF-16)
    assert message.from_user is not None and message.from_user.id == telegram.bot.id


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("<p>x</p>", 'unsupported start tag "p" at byte offset 0'),
        ("1 < 2", 'unsupported start tag "" at byte offset 2'),
        ("Tom & Jerry", 'character "&" must be escaped as "&amp;" at byte offset 4'),
        ("<b>x", 'can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<span>x</span>", 'tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
async def test_invalid_html_is_rejected_like_telegram(telegram: FakeBotAPI, bot: Bot, text: str, error: str) -> None:
    telegram.add_chat(GROUP)
    with pytest.raises(BadRequest) as raised:
        await bot.send_message(GROUP.id, text, "HTML")
    assert raised.value.message.lower() == f"can't parse entities: {error}".lower()
    assert telegram.sent_messages() == []


async def test_length_is_counted_after_parsing(telegram: FakeBotAPI, bot: Bot) -> None:
    telegram.add_chat(GROUP)
    fits = await bot.send_message(GROUP.id, f"<b>{'a' * 4096}</b>", "HTML")
    assert len(fits.text or "") == 4096
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(GROUP.id, "a" * 4097)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(GROUP.id, "<b> </b>", "HTML")
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await bot.send_photo(GROUP.id, telegram.add_file(picture("red", seed=2)).file_id, caption="c" * 1025)


def test_html_parser_details() -> None:
    parsed = parse_html('<pre><code class="language-python">x = 1</code></pre>&lt;&#33;&#x21;&quot;')
    assert parsed.text == 'x = 1<!!"'
    assert parsed.entities == [{"type": "pre", "offset": 0, "length": 5, "language": "python"}]
    quote = parse_html("<blockquote expandable>q</blockquote><tg-spoiler>s</tg-spoiler>")
    assert [entity["type"] for entity in quote.entities] == ["expandable_blockquote", "spoiler"]
    with pytest.raises(EntityParseError, match="Unclosed start tag at byte offset 0"):
        parse_html("<b")


def test_markdown_v2_requires_escaping_reserved_characters() -> None:
    assert parse_markdown_v2(r"*bold* and 1\.5").entities == [{"type": "bold", "offset": 0, "length": 4}]
    with pytest.raises(EntityParseError, match=r"Character '\.' is reserved"):
        parse_markdown_v2("version 1.5")
    with pytest.raises(EntityParseError, match="Can't find end of Italic entity at byte offset 0"):
        parse_markdown_v2("_open")


# ---- replies ------------------------------------------------------------------------------------
async def test_replies_need_a_known_message(telegram: FakeBotAPI, bot: Bot, photo: bytes) -> None:
    posted = telegram.send_photo(GROUP, ALICE, photo)
    reply = await bot.send_message(GROUP.id, "seen", reply_parameters=ReplyParameters(posted["message_id"]))
    assert reply.reply_to_message is not None and reply.reply_to_message.photo
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await bot.send_message(GROUP.id, "x", reply_to_message_id=999)
    lenient = ReplyParameters(999, allow_sending_without_reply=True)
    assert (await bot.send_message(GROUP.id, "x", reply_parameters=lenient)).reply_to_message is None


# ---- media ---------------------------------------------------------------------------------------
async def test_incoming_photo_has_sizes_and_can_be_resent_by_file_id(
    telegram: FakeBotAPI, bot: Bot, photo: bytes
) -> None:
    posted = telegram.send_photo(GROUP, ALICE, photo, caption="look", file_unique_id="uniq")
    sizes = posted["photo"]
    assert [max(size["width"], size["height"]) for size in sizes] == [90, 320, 640]
    assert sizes[-1]["file_unique_id"] == "uniq" and sizes[-1]["file_size"] == len(photo)
    sent = await bot.send_photo(GROUP.id, sizes[-1]["file_id"], caption="<i>again</i>", parse_mode="HTML")
    assert [size.file_unique_id for size in sent.photo] == [size["file_unique_id"] for size in sizes]
    assert sent.caption == "again" and telegram.sent_messages(GROUP.id)[0]["method"] == "sendPhoto"


async def test_bad_file_ids_are_refused(telegram: FakeBotAPI, bot: Bot, photo: bytes) -> None:
    posted = telegram.send_photo(GROUP, ALICE, photo)
    with pytest.raises(BadRequest, match="Wrong file identifier/http url specified"):
        await bot.send_photo(GROUP.id, "no-such-file")
    with pytest.raises(BadRequest, match="Type of file mismatch"):
        await bot.send_video(GROUP.id, posted["photo"][-1]["file_id"])
    missing = raw_call(telegram, "sendPhoto", data={"chat_id": GROUP.id})
    assert (missing.status_code, missing.json()["description"]) == (
        400,
        "Bad Request: there is no photo in the request",
    )


async def test_uploaded_photo_must_be_an_image(telegram: FakeBotAPI, bot: Bot, photo: bytes) -> None:
    telegram.add_chat(GROUP)
    uploaded = await bot.send_photo(GROUP.id, photo)
    assert uploaded.photo[-1].width == 640
    with pytest.raises(BadRequest, match="Image_process_failed"):
        await bot.send_photo(GROUP.id, b"not an image")


async def test_media_group_returns_one_message_per_item(telegram: FakeBotAPI, bot: Bot, photo: bytes) -> None:
    first = telegram.send_photo(GROUP, ALICE, photo)["photo"][-1]["file_id"]
    video = telegram.send_video(GROUP, BOB, b"mp4", width=320, height=240)["video"]["file_id"]
    album = await bot.send_media_group(
        GROUP.id, [InputMediaPhoto(first, caption="<b>1</b>", parse_mode="HTML"), InputMediaVideo(video)]
    )
    assert len(album) == 2 and album[0].media_group_id == album[1].media_group_id is not None
    assert album[0].caption == "1" and album[1].video is not None and album[1].video.width == 320
    assert [message["method"] for message in telegram.sent_messages(GROUP.id)] == ["sendMediaGroup"] * 2
    with pytest.raises(BadRequest, match="2-10 items"):
        await bot.send_media_group(GROUP.id, [InputMediaPhoto(first)] * 1)
    with pytest.raises(BadRequest, match="Too many messages"):
        await bot.send_media_group(GROUP.id, [InputMediaPhoto(first)] * 11)
    with pytest.raises(BadRequest, match="Can't use the media of the specified type"):
        await bot.send_media_group(GROUP.id, [InputMediaPhoto(first), InputMediaDocument(video)])


def test_animation_arrives_as_animation_and_document(telegram: FakeBotAPI) -> None:
    message = telegram.send_animation(GROUP, ALICE, b"gif-as-mp4", thumbnail=picture("blue", seed=3))
    assert message["animation"]["file_id"] == message["document"]["file_id"]
    assert message["animation"]["thumbnail"]["width"] <= 320
    decoded = Update.de_json({"update_id": 1, "message": message}, None)
    assert decoded.message is not None and decoded.message.animation is not None


# ---- files --------------------------------------------------------------------------------------
async def test_get_file_and_download_through_the_quoted_path(telegram: FakeBotAPI, bot: Bot, photo: bytes) -> None:
    info = telegram.add_file(photo)
    file = await bot.get_file(info.file_id)
    assert file.file_path is not None and file.file_path.endswith(info.file_path)
    assert bytes(await file.download_as_bytearray()) == photo
    assert telegram.downloads() == [f"/file/bot{TOKEN.replace(':', '%3A')}/{info.file_path}"]


async def test_files_over_20_mb_cannot_be_fetched(bot: Bot, telegram: FakeBotAPI) -> None:
    big = telegram.add_file(b"x", file_size=25 * 1024 * 1024)
    with pytest.raises(BadRequest, match="File is too big"):
        await bot.get_file(big.file_id)
    with pytest.raises(BadRequest, match="Invalid file_id"):
        await bot.get_file("unknown")


async def test_local_mode_returns_absolute_paths_without_size_limit(photo: bytes) -> None:
    with FakeBotAPI(token=TOKEN, local_mode=True) as telegram:
        big = telegram.add_file(photo, file_size=25 * 1024 * 1024)
        async with Bot(TOKEN, base_url=telegram.base_url, local_mode=True) as bot:
            file = await bot.get_file(big.file_id)
            assert file.file_path is not None and Path(file.file_path).is_absolute()
            assert bytes(await file.download_as_bytearray()) == photo


# ---- errors Telegram raises ---------------------------------------------------------------------
async def test_injected_flood_error_becomes_retry_after(telegram: FakeBotAPI, bot: Bot) -> None:
    telegram.add_chat(GROUP)
    telegram.inject_error("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7, chat_id=GROUP.id)
    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(GROUP.id, "x")
    delay = raised.value.retry_after
    assert (dtm.timedelta(seconds=delay) if isinstance(delay, int) else delay) == dtm.timedelta(seconds=7)
    assert (await bot.send_message(GROUP.id, "y")).text == "y"  # injected once only


async def test_migrated_group_answers_with_the_new_id(telegram: FakeBotAPI, bot: Bot, photo: bytes) -> None:
    basic = Chat(id=-4242, type="group", title="Basic")
    telegram.send_photo(basic, ALICE, photo)
    supergroup = telegram.migrate_chat(basic, -1004242, by_user=ALICE)
    with pytest.raises(ChatMigrated) as raised:
        await bot.send_message(basic.id, "x")
    assert raised.value.new_chat_id == supergroup.id
    assert (await bot.send_message(supergroup.id, "moved")).chat.type == "supergroup"
    service = [update["message"] for update in telegram.pending_updates()[-2:]]
    assert service[0]["migrate_to_chat_id"] == supergroup.id and service[1]["migrate_from_chat_id"] == basic.id


async def test_removed_or_blocked_bot_is_forbidden(telegram: FakeBotAPI, bot: Bot) -> None:
    telegram.my_chat_member(GROUP, ALICE, "member", "kicked")
    with pytest.raises(Forbidden, match="Forbidden: bot was kicked from the supergroup chat"):
        await bot.send_message(GROUP.id, "x")
    telegram.send_text(GROUP, ALICE, "the bot no longer hears this")
    assert [list(update)[1] for update in telegram.pending_updates()] == ["my_chat_member"]
    telegram.add_chat(BOB.private_chat())
    telegram.set_member_status(BOB.id, telegram.bot.id, "kicked")
    with pytest.raises(Forbidden, match="Forbidden: bot was blocked by the user"):
        await bot.send_message(BOB.id, "x")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(777, "never talked to the bot")


# ---- chats and members --------------------------------------------------------------------------
async def test_chat_members_by_status(telegram: FakeBotAPI, bot: Bot, photo: bytes) -> None:
    telegram.send_photo(GROUP, ALICE, photo)
    telegram.set_member_status(GROUP.id, ALICE.id, "administrator")
    telegram.set_member_status(GROUP.id, BOB.id, "creator")
    telegram.add_user(BOB)
    assert isinstance(await bot.get_chat_member(GROUP.id, ALICE.id), ChatMemberAdministrator)
    assert isinstance(await bot.get_chat_member(GROUP.id, BOB.id), ChatMemberOwner)
    telegram.add_user(User(id=33, first_name="Carol"))
    assert isinstance(await bot.get_chat_member(GROUP.id, 33), ChatMemberLeft)
    admins = await bot.get_chat_administrators(GROUP.id)
    assert sorted(member.user.id for member in admins) == [ALICE.id, BOB.id]
    chat = await bot.get_chat(GROUP.id)
    assert (chat.id, chat.title) == (GROUP.id, "Group")
    with pytest.raises(BadRequest, match="User not found"):
        await bot.get_chat_member(GROUP.id, 4040)


async def test_commands_are_validated_and_stored_per_scope(telegram: FakeBotAPI, bot: Bot) -> None:
    await bot.set_my_commands([("search", "Find similar media"), ("stats", "Chat statistics")], language_code="en")
    assert [command.command for command in await bot.get_my_commands(language_code="en")] == ["search", "stats"]
    assert telegram.commands(language_code="en")[0] == {"command": "search", "description": "Find similar media"}
    assert await bot.get_my_commands() == ()
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([("Search", "capital letters are not allowed")])
    with pytest.raises(BadRequest, match="Bot_command_description_invalid"):
        await bot.set_my_commands([("search", "")])


async def test_message_housekeeping(telegram: FakeBotAPI, bot: Bot, photo: bytes) -> None:
    posted = telegram.send_photo(GROUP, ALICE, photo)
    own = await bot.send_message(GROUP.id, "mine")
    assert await bot.set_message_reaction(GROUP.id, posted["message_id"], ReactionTypeEmoji("👍"))
    with pytest.raises(BadRequest, match="Reaction_invalid"):
        await bot.set_message_reaction(GROUP.id, posted["message_id"], ReactionTypeEmoji("🦖"))
    edited = await bot.edit_message_text("changed", GROUP.id, own.message_id)
    assert not isinstance(edited, bool) and edited.text == "changed" and edited.edit_date is not None
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("changed", GROUP.id, own.message_id)
    with pytest.raises(BadRequest, match="Message can't be deleted"):
        await bot.delete_message(GROUP.id, posted["message_id"])
    assert await bot.delete_message(GROUP.id, own.message_id)
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(GROUP.id, own.message_id)


async def test_buttons_presses_and_edits(telegram: FakeBotAPI, bot: Bot, photo: bytes) -> None:
    telegram.add_chat(GROUP)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Tap", callback_data="a:n:1:2")]])
    text = await bot.send_message(GROUP.id, "alert", reply_markup=keyboard)
    sent_photo = await bot.send_photo(GROUP.id, photo, caption="old", reply_markup=keyboard)
    query = telegram.press_button(telegram.sent_messages(GROUP.id)[0], BOB, "a:n:1:2")
    (update,) = await bot.get_updates(timeout=0)
    assert update.callback_query is not None and update.callback_query.data == "a:n:1:2"
    assert update.callback_query.from_user.id == BOB.id and update.callback_query.id == query["id"]
    assert await bot.answer_callback_query(query["id"], text="Noted")
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(query["id"])  # answered once only
    captioned = await bot.edit_message_caption(GROUP.id, sent_photo.message_id, caption="new")
    assert not isinstance(captioned, bool) and captioned.caption == "new" and captioned.reply_markup is None
    with pytest.raises(BadRequest, match="There is no caption in the message to edit"):
        await bot.edit_message_caption(GROUP.id, text.message_id, caption="x")
    with pytest.raises(BadRequest, match="There is no text in the message to edit"):
        await bot.edit_message_text("x", GROUP.id, sent_photo.message_id)
    bare = await bot.edit_message_reply_markup(GROUP.id, text.message_id)
    assert not isinstance(bare, bool) and bare.reply_markup is None and bare.text == "alert"
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(GROUP.id, text.message_id)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_reply_markup(GROUP.id, 99_999, reply_markup=keyboard)


# ---- updates and long polling -------------------------------------------------------------------
def test_commands_carry_bot_command_entities(telegram: FakeBotAPI) -> None:
    message = telegram.send_text(GROUP, ALICE, "/search@mediabot_test_bot red car")
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 25}]
    anonymous = telegram.send_text(GROUP, None, "/stats", sender_chat=GROUP)
    assert anonymous["from"]["id"] == 1087968824 and anonymous["sender_chat"]["id"] == GROUP.id
    channel = Chat(id=-1007, type="channel", title="News")
    post = telegram.send_text(channel, None, "hello")
    assert "from" not in post and telegram.pending_updates()[-1]["channel_post"] == post


async def test_long_poll_returns_when_an_update_arrives(telegram: FakeBotAPI, bot: Bot) -> None:
    assert await bot.get_updates(timeout=0) == ()
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.2)
    original = telegram.send_text(GROUP, ALICE, "hello")
    updates = await asyncio.wait_for(poll, timeout=3)
    assert [update.message.text for update in updates if update.message] == ["hello"]
    telegram.edit_message(original, text="hello!")
    later = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    assert len(later) == 1 and later[0].edited_message is not None
    assert telegram.confirmed_offset() == updates[-1].update_id + 1 > telegram.last_update_id() - 1


async def test_allowed_updates_and_second_poller_conflict(telegram: FakeBotAPI, bot: Bot) -> None:
    telegram.my_chat_member(GROUP, ALICE, "left", "member")
    telegram.push_update({"chat_member": telegram.pending_updates()[0]["my_chat_member"]})
    kinds = [next(key for key in update.to_dict() if key != "update_id") for update in await bot.get_updates()]
    assert kinds == ["my_chat_member"]  # chat_member is only sent when asked for
    offset = telegram.last_update_id() + 1
    first = asyncio.create_task(bot.get_updates(offset=offset, timeout=5))
    await asyncio.sleep(0.2)
    async with Bot(TOKEN, base_url=telegram.base_url) as second_instance:
        assert await second_instance.get_updates(offset=offset, timeout=1) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await asyncio.wait_for(first, timeout=3)


def test_privacy_mode_hides_ordinary_group_messages(photo: bytes) -> None:
    with FakeBotAPI(token=TOKEN, privacy_mode=True) as telegram:
        telegram.send_photo(GROUP, ALICE, photo)
        telegram.send_text(GROUP, ALICE, "/stats@other_bot")
        telegram.send_text(GROUP, ALICE, "/stats")
        assert [update["message"].get("text") for update in telegram.pending_updates()] == ["/stats"]
        telegram.set_member_status(GROUP.id, telegram.bot.id, "administrator")
        telegram.send_photo(GROUP, ALICE, photo)
        assert "photo" in telegram.pending_updates()[-1]["message"]


async def test_application_polls_and_answers_a_command(telegram: FakeBotAPI) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_user is not None
        await update.effective_message.reply_html(f"Hello, <b>{update.effective_user.first_name}</b>!")

    application = (
        Application.builder().token(TOKEN).base_url(telegram.base_url).base_file_url(telegram.base_file_url).build()
    )
    application.add_handler(CommandHandler("start", start))
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=1)
        telegram.send_text(ALICE.private_chat(), ALICE, "/start")
        sent = await telegram.wait_for(lambda: telegram.sent_messages(ALICE.id), timeout=4)
        await application.updater.stop()
        await application.stop()
    assert sent[0]["text"] == "Hello, Alice!" and sent[0]["params"]["parse_mode"] == "HTML"
    assert [request.method for request in telegram.requests[:2]] == ["getMe", "deleteWebhook"]
    assert telegram.failed_requests() == []


async def test_a_lost_file_is_refused_like_an_unknown_file_id(telegram: FakeBotAPI, bot: Bot, photo: bytes) -> None:
    posted = telegram.send_photo(GROUP, ALICE, photo)
    kept, lost = posted["photo"][0]["file_id"], posted["photo"][-1]["file_id"]
    telegram.lose_file(lost)
    with pytest.raises(BadRequest, match="Wrong file identifier/http url specified"):
        await bot.send_photo(GROUP.id, lost)
    with pytest.raises(BadRequest, match="Invalid file_id"):
        await bot.get_file(lost)
    with pytest.raises(BadRequest):
        await bot.send_media_group(GROUP.id, [InputMediaPhoto(kept), InputMediaPhoto(lost)])
    assert (await bot.get_file(kept)).file_id == kept
