"""Hostile and odd input, end to end through both fakes: no crash, the queue unaffected, a clear answer where a
person asked (a private chat), a log line otherwise (a group), and good media after it still indexed.

Each media case runs twice, in a private chat and in a group; commands, names and update types have their own tests.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
from PIL import Image

from tests.conftest import RunningBot
from tests.fakes.telegram import Chat, FakeBotAPI, User
from tests.media_samples import animated, garbage, noise_png, png_header, video
from tests.pictures import picture, reencoded
from tests.test_e2e_core import texts

pytestmark = pytest.mark.slow  # large and malformed media through both fakes

GROUP = Chat(id=-1002000000001, type="supergroup", title="Bad input")
ALICE = User(id=41, first_name="Alice", language_code="en")
PRIVATE = ALICE.private_chat()

FIRST_SEEN = "First time I see this"
CORRUPT = "seems damaged"
TOO_LARGE = "too large for me"

JSON = dict[str, Any]
Post = Callable[[FakeBotAPI, Chat], JSON]


# ---- samples (built once per session: some take a moment) ------------------------------------------------------


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@cache
def truncated_png() -> bytes:
    whole = picture("red", seed=31, fmt="PNG")
    return whole[: len(whole) // 2]


@cache
def big_noise_png() -> bytes:
    data = noise_png()
    assert len(data) > 12 * 1024 * 1024 * 0.95
    return data


@cache
def strip_png() -> bytes:
    image = Image.new("RGB", (20_000, 20), (30, 170, 40))
    for x in range(0, 20_000, 400):
        image.paste((200, 30, 30), (x, 0, x + 100, 20))
    return _png(image)


@cache
def lottie_sticker() -> bytes:
    """An animated (TGS) sticker: gzipped Lottie JSON, which no image or video decoder reads."""
    lottie = {"v": "5.5.7", "fr": 60, "ip": 0, "op": 60, "w": 512, "h": 512, "layers": []}
    return gzip.compress(json.dumps(lottie).encode())


@cache
def small_video() -> bytes:
    return video(seconds=1.0, fps=5, size=(160, 120))


# ---- how each case is posted --------------------------------------------------------------------------------------


def document(sample: Callable[[], bytes], mime_type: str, file_name: str) -> Post:
    def post(tg: FakeBotAPI, chat: Chat) -> JSON:
        return tg.send_document(chat, ALICE, sample(), mime_type=mime_type, file_name=file_name)

    return post


def sticker_post(tg: FakeBotAPI, chat: Chat) -> JSON:
    return tg.send_sticker(chat, ALICE, lottie_sticker(), is_animated=True, thumbnail=picture("blue", seed=32))


def not_a_video_post(tg: FakeBotAPI, chat: Chat) -> JSON:
    return tg.send_video(chat, ALICE, garbage(60_000), file_name="holiday.mp4")


def huge_video_post(tg: FakeBotAPI, chat: Chat) -> JSON:
    """25 MB as Telegram reports it: over the cloud Bot API's 20 MB download limit, so only the thumbnail is usable."""
    return tg.send_video(chat, ALICE, small_video(), file_size=25 * 1024 * 1024, thumbnail=picture("green", seed=33))


def long_caption_post(tg: FakeBotAPI, chat: Chat) -> JSON:
    return tg.send_photo(chat, ALICE, picture("yellow", seed=34), caption="long caption " * 385)  # 5005 chars


@dataclass(frozen=True)
class MediaCase:
    post: Post
    answer: str
    """What the private reply says: FIRST_SEEN when the item works, else the failure sentence."""
    route: str | None = None
    max_seconds: float = 20.0

    @property
    def works(self) -> bool:
        return self.answer == FIRST_SEEN


MEDIA_CASES: dict[str, MediaCase] = {
    "corrupt_jpeg": MediaCase(document(lambda: picture("red", seed=30)[:300], "image/jpeg", "broken.jpg"), CORRUPT),
    "truncated_png": MediaCase(document(truncated_png, "image/png", "cut.png"), CORRUPT),
    "zero_byte_file": MediaCase(document(lambda: b"", "image/jpeg", "empty.jpg"), CORRUPT),
    "png_12mb": MediaCase(document(big_noise_png, "image/png", "noise.png"), FIRST_SEEN, route="image"),
    "image_20000x20": MediaCase(document(strip_png, "image/png", "strip.png"), FIRST_SEEN, route="image"),
    "decompression_bomb": MediaCase(
        document(lambda: png_header(100_000, 100_000), "image/png", "bomb.png"), TOO_LARGE, max_seconds=3.0
    ),
    "webp": MediaCase(document(lambda: picture("blue", seed=35, fmt="WEBP"), "image/webp", "p.webp"), FIRST_SEEN),
    "animated_webp": MediaCase(document(lambda: animated("WEBP"), "image/webp", "anim.webp"), FIRST_SEEN),
    "animated_sticker": MediaCase(sticker_post, FIRST_SEEN, route="thumbnail"),
    "video_that_is_not_a_video": MediaCase(not_a_video_post, CORRUPT),
    "video_25mb": MediaCase(huge_video_post, FIRST_SEEN, route="thumbnail"),
    "document_with_lying_mime_type": MediaCase(
        document(lambda: picture("yellow", seed=36, fmt="PNG"), "video/mp4", "clip.mp4"), FIRST_SEEN, route="image"
    ),
    "caption_5000_chars": MediaCase(long_caption_post, FIRST_SEEN, route="image"),
}


@pytest.mark.parametrize("name", MEDIA_CASES)
async def test_bad_media_in_private_gets_a_clear_answer(bot: RunningBot, name: str) -> None:
    case = MEDIA_CASES[name]
    started = time.monotonic()
    message = case.post(bot.tg, PRIVATE)
    sent = await bot.tg.wait_for(lambda: bot.tg.sent_messages(PRIVATE.id), timeout=case.max_seconds)
    assert time.monotonic() - started < case.max_seconds
    assert case.answer in texts(sent)
    assert sent[0]["params"]["reply_parameters"]["message_id"] == message["message_id"]
    await bot.settle()
    item = await bot.services.store.items.by_message(PRIVATE.id, message["message_id"])
    assert (item is not None) == case.works
    if item is not None and case.route is not None:
        assert item.route == case.route


@pytest.mark.parametrize("name", MEDIA_CASES)
async def test_bad_media_in_group_is_logged_silently_and_harms_nothing(
    bot: RunningBot, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    case = MEDIA_CASES[name]
    message = case.post(bot.tg, GROUP)
    good = bot.tg.send_photo(GROUP, ALICE, picture("red", seed=37))
    await bot.settle(timeout=case.max_seconds)
    assert bot.tg.sent_messages(GROUP.id) == []
    store = bot.services.store
    assert await store.items.by_message(GROUP.id, good["message_id"]) is not None
    item = await store.items.by_message(GROUP.id, message["message_id"])
    failures = await store.jobs.recent_failures(GROUP.id)
    if case.works:
        assert item is not None and failures == []
        if case.route is not None:
            assert item.route == case.route
        return
    assert item is None
    assert len(failures) == 1 and failures[0].error
    logged = [r for r in caplog.records if getattr(r, "job_id", None) == failures[0].id]
    assert logged, "a failed item in a group must leave a log line"


async def test_long_caption_is_truncated_before_it_reaches_the_api(bot: RunningBot) -> None:
    long_caption_post(bot.tg, GROUP)
    await bot.settle()
    contents = bot.ds.embed_requests[0].json["input"]["contents"]
    sent_text = next(c["text"] for c in contents if "text" in c)
    assert len(sent_text) == bot.services.client.spec.max_text_chars < 5000


@pytest.mark.parametrize("chat", [PRIVATE, GROUP], ids=["private", "group"])
async def test_search_of_5000_characters_is_answered(bot: RunningBot, chat: Chat) -> None:
    query = "red " * 1250
    bot.tg.send_text(chat, ALICE, "/search " + query)
    sent = await bot.tg.wait_for(lambda: bot.tg.sent_messages(chat.id))
    assert "No picture or video matches" in texts(sent)
    assert len(texts(sent)) < 600  # the query is echoed shortened, not in full
    text = bot.ds.embed_requests[0].json["input"]["contents"][0]["text"]
    assert 0 < len(text) <= bot.services.client.spec.max_text_chars


NASTY = '<b>*bold*</b> _it_ [x](http://e.com) `code` & <a href="x">&amp;'


async def test_metacharacters_in_names_captions_and_queries_give_valid_html(bot: RunningBot) -> None:
    nasty_user = User(id=43, first_name=NASTY, language_code="en")
    nasty_group = Chat(id=-1002000000002, type="supergroup", title=NASTY)
    photo = picture("green", seed=38)
    bot.tg.send_photo(nasty_group, nasty_user, photo, file_unique_id="nasty-1", caption=NASTY)
    await bot.settle()
    bot.tg.send_photo(nasty_group, ALICE, photo, file_unique_id="nasty-1", caption=NASTY)
    alert = await bot.tg.wait_for(lambda: bot.tg.sent_messages(nasty_group.id))
    assert "&lt;b&gt;*bold*&lt;/b&gt; _it_ [x](http://e.com) `code` &amp;" in alert[0]["params"]["text"]  # a text
    bot.tg.send_text(nasty_group, nasty_user, "/search " + NASTY)
    bot.tg.set_member_status(nasty_group.id, nasty_user.id, "administrator")
    bot.tg.send_text(nasty_group, nasty_user, "/stats")
    wanted = ("&lt;a href=&quot;x&quot;&gt;&amp;amp;", "Stats")  # the query, escaped; the /stats answer
    await bot.tg.wait_for(lambda: all(w in texts(bot.tg.sent_messages(nasty_group.id)) for w in wanted))
    assert "Stats for &lt;b&gt;" in texts(bot.tg.sent_messages(nasty_group.id))  # the chat title, escaped
    assert bot.tg.failed_requests() == []  # the fake Bot API rejects any malformed entity


async def test_command_addressed_to_another_bot_gets_no_reply(bot: RunningBot) -> None:
    for chat in (GROUP, PRIVATE):
        bot.tg.send_text(chat, ALICE, "/search@otherbot red")
        bot.tg.send_text(chat, ALICE, "/stats@otherbot")
    await bot.settle()
    bot.tg.send_text(GROUP, ALICE, "/help@mediabot_test_bot")  # still answering its own commands, in order
    sent = await bot.tg.wait_for(lambda: bot.tg.sent_messages(GROUP.id))
    await bot.settle()
    assert len(sent) == 1 and "privacy mode" in texts(sent)
    assert bot.tg.sent_messages(PRIVATE.id) == []
    assert bot.ds.embed_requests == []


async def test_channel_post_is_indexed_without_a_reply(bot: RunningBot) -> None:
    channel = Chat(id=-1002000000003, type="channel", title="News <channel>")
    photo = picture("blue", seed=39)
    first = bot.tg.send_photo(channel, None, photo, file_unique_id="chan-1")
    repost = bot.tg.send_photo(channel, None, photo, file_unique_id="chan-1")
    await bot.settle()
    assert bot.tg.sent_messages(channel.id) == []
    items = bot.services.store.items
    stored = await items.by_message(channel.id, first["message_id"])
    assert stored is not None and stored.sender_name == "News <channel>"
    assert await items.by_message(channel.id, repost["message_id"]) is not None
    assert (await bot.services.store.stats.chat_stats(channel.id)).reposts_called == 1


async def test_message_sent_on_behalf_of_a_channel_in_a_group(bot: RunningBot) -> None:
    channel = Chat(id=-1002000000004, type="channel", title="Linked channel")
    photo = picture("red", seed=40)
    first = bot.tg.send_photo(GROUP, None, photo, file_unique_id="as-chan", sender_chat=channel)
    await bot.settle()
    bot.tg.send_photo(GROUP, ALICE, photo, file_unique_id="as-chan")
    alert = await bot.tg.wait_for(lambda: bot.tg.sent_messages(GROUP.id))
    assert "Linked channel" in alert[0]["params"]["text"]  # the alert is a text reply with a link
    stored = await bot.services.store.items.by_message(GROUP.id, first["message_id"])
    assert stored is not None and stored.sender_id == channel.id


async def test_anonymous_admin_media_is_indexed_under_the_group(bot: RunningBot) -> None:
    photo = picture("yellow", seed=41)
    first = bot.tg.send_photo(GROUP, None, photo, sender_chat=GROUP)
    await bot.settle()
    bot.tg.send_photo(GROUP, ALICE, reencoded(photo))
    alert = await bot.tg.wait_for(lambda: bot.tg.sent_messages(GROUP.id))
    assert "Bad input" in alert[0]["params"]["text"]  # the alert is a text reply with a link
    stored = await bot.services.store.items.by_message(GROUP.id, first["message_id"])
    assert stored is not None and stored.sender_id == GROUP.id


UNKNOWN_UPDATES: dict[str, JSON] = {
    "poll": {
        "id": "5001", "question": "Best <cat>?", "options": [{"persistent_id": "o1", "text": "a", "voter_count": 1}],
        "total_voter_count": 1, "is_closed": False, "is_anonymous": True, "type": "regular",
        "allows_multiple_answers": False, "allows_revoting": False, "members_only": False,
    },
    "message_reaction": {
        "chat": GROUP.to_dict(), "message_id": 1, "user": ALICE.to_dict(), "date": 1_700_000_000,
        "old_reaction": [], "new_reaction": [{"type": "emoji", "emoji": "👍"}],
    },
    "chat_boost": {
        "chat": GROUP.to_dict(),
        "boost": {"boost_id": "b1", "add_date": 1_700_000_000, "expiration_date": 1_800_000_000,
                  "source": {"source": "premium", "user": ALICE.to_dict()}},
    },
}


@pytest.mark.parametrize("kind", UNKNOWN_UPDATES)
async def test_update_type_the_bot_does_not_handle_is_ignored(
    bot: RunningBot, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    bot.tg.push_update({kind: UNKNOWN_UPDATES[kind]})
    good = bot.tg.send_photo(GROUP, ALICE, picture("green", seed=42))
    await bot.settle()
    assert await bot.services.store.items.by_message(GROUP.id, good["message_id"]) is not None
    assert bot.tg.sent_messages() == []
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
