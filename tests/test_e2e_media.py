"""Videos, GIFs and video notes end to end: which route each takes, and what reaches DashScope (never the token).

Also the helpers the other `test_e2e_media_*` files share: where a message was indexed, and what /search answered.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from bot.config import load_settings
from storage.models import Item
from tests.conftest import API_KEY, TOKEN, RunningBot, bot_environment, running_bot
from tests.fakes.dashscope import FakeDashScope, sample_video
from tests.fakes.telegram import Chat, FakeBotAPI, User
from tests.media_samples import video as encoded_video
from tests.pictures import picture
from tests.test_e2e_core import texts

GROUP = Chat(id=-1002222222222, type="supergroup", title="Clips")
ALICE = User(id=11, first_name="Alice", language_code="en")
PRIVATE = Chat(id=ALICE.id, type="private", first_name="Alice")
RED = (220, 30, 30)
GREEN = (40, 170, 50)
BLUE = (30, 60, 220)
SMALL = (160, 120)
MB = 1024 * 1024
OSS_RESOLVE = "x-dashscope-ossresourceresolve"
SEARCH_MEDIA_FIELDS = {"sendPhoto": "photo", "sendVideo": "video", "sendAnimation": "animation",
                       "sendDocument": "document"}


def tiny_video(colour: tuple[int, int, int]) -> bytes:
    return sample_video(colour, seconds=1, size=SMALL)


def padded_mp4(data: bytes, total: int) -> bytes:
    """A valid MP4 grown to `total` bytes by a trailing `free` box: over the API's 10 MB without encoding 10 MB."""
    padding = total - len(data)
    return data + struct.pack(">I", padding) + b"free" + bytes(padding - 8)


async def stored(bot: RunningBot, chat: Chat, message: dict[str, Any]) -> Item:
    item = await bot.services.store.items.by_message(chat.id, message["message_id"])
    assert item is not None, "the message was not indexed"
    return item


def _search_result(sent: list[dict[str, Any]]) -> list[str] | None:
    """The file ids of a complete /search answer (header, then the media), [] for "nothing found", else None."""
    for message in sent:
        method, params = message["method"], message["params"]
        if method == "sendMediaGroup":
            return [media["media"] for media in params["media"]]
        if method in SEARCH_MEDIA_FIELDS:
            return [params[SEARCH_MEDIA_FIELDS[method]]]
        if "No picture" in params.get("text", ""):
            return []
    return None


async def search(bot: RunningBot, chat: Chat, user: User, query: str) -> list[str]:
    """Ask /search in `chat` and return the file ids it answered with, best first."""
    before = len(bot.tg.sent_messages(chat.id))
    bot.tg.send_text(chat, user, f"/search {query}")
    await bot.tg.wait_for(lambda: _search_result(bot.tg.sent_messages(chat.id)[before:]) is not None)
    result = _search_result(bot.tg.sent_messages(chat.id)[before:])
    assert result is not None
    return result


def everything_sent_to_dashscope(bot: RunningBot) -> bytes:
    return b"".join(
        r.method.encode() + r.path.encode() + str(r.query).encode() + str(r.headers).encode() + r.body
        for r in bot.ds.requests
    )


async def test_video_goes_through_upload_then_is_found_by_words_and_by_a_photo(bot: RunningBot) -> None:
    clip = tiny_video(RED)
    message = bot.tg.send_video(PRIVATE, ALICE, clip, width=160, height=120, duration=1)
    first = await bot.tg.wait_for(lambda: bot.tg.sent_messages(PRIVATE.id))
    assert "First time" in texts(first)
    (request,) = bot.ds.embed_requests
    url = request.json["input"]["contents"][0]["video"]
    assert url.startswith("oss://") and bot.ds.uploads[url.removeprefix("oss://")] == clip
    assert request.headers[OSS_RESOLVE] == "enable"
    item = await stored(bot, PRIVATE, message)
    assert (item.kind, item.route) == ("video", "video")

    assert await search(bot, PRIVATE, ALICE, "red") == [item.file_id]

    bot.tg.send_photo(PRIVATE, ALICE, picture("red", seed=40))
    matched = await bot.tg.wait_for(lambda: bot.tg.sent_messages(PRIVATE.id)[2:])
    assert matched[0]["method"] == "sendVideo" and matched[0]["params"]["video"] == item.file_id
    assert "%" in matched[0]["params"]["caption"]


async def test_no_token_or_telegram_file_url_ever_reaches_dashscope(bot: RunningBot) -> None:
    bot.tg.send_video(GROUP, ALICE, tiny_video(RED), caption="a red clip")
    bot.tg.send_animation(GROUP, ALICE, tiny_video(GREEN))
    bot.tg.send_video_note(GROUP, ALICE, sample_video(BLUE, seconds=1, size=(120, 120)))
    bot.tg.send_photo(GROUP, ALICE, picture("yellow", seed=41))
    await bot.settle()
    assert len(bot.ds.embed_requests) == 4 and len(bot.ds.uploads) == 3
    sent = everything_sent_to_dashscope(bot)
    assert TOKEN.encode() not in sent and TOKEN.split(":")[1].encode() not in sent
    assert b"/file/bot" not in sent and bot.tg.root.encode() not in sent
    assert bot.ds.download_attempts == []
    oss_posts = [r for r in bot.ds.requests if r.path == "/oss"]
    assert len(oss_posts) == 3
    assert all("authorization" not in r.headers for r in oss_posts)
    assert all(r.headers["authorization"] == f"Bearer {API_KEY}" for r in bot.ds.embed_requests)


async def test_video_over_the_download_limit_is_judged_by_its_thumbnail(bot: RunningBot) -> None:
    bot.tg.set_member_status(GROUP.id, ALICE.id, "administrator")
    message = bot.tg.send_video(GROUP, ALICE, tiny_video(RED), file_size=25 * MB,
                                thumbnail=picture("red", seed=42))
    await bot.settle()
    item = await stored(bot, GROUP, message)
    assert item.route == "thumbnail"
    asked = [call["file_id"] for call in bot.tg.calls("getFile")]
    assert message["video"]["file_id"] not in asked
    assert asked == [message["video"]["thumbnail"]["file_id"]]
    assert bot.ds.uploads == {}
    assert bot.ds.embed_requests[0].json["input"]["contents"][0]["image"].startswith("data:image/")
    bot.tg.send_text(GROUP, ALICE, "/stats")
    stats = await bot.tg.wait_for(lambda: bot.tg.sent_messages(GROUP.id))
    assert "Embedded via: thumbnail 1" in texts(stats)


async def test_videos_the_api_would_refuse_are_sent_as_a_local_clip(bot: RunningBot) -> None:
    bot.tg.set_member_status(GROUP.id, ALICE.id, "administrator")
    transport_stream = encoded_video(format="mpegts", codec="mpeg4", size=SMALL, seconds=1, colours=[RED])
    over_ten_mb = padded_mp4(tiny_video(GREEN), 11 * MB)
    odd = bot.tg.send_video(GROUP, ALICE, transport_stream, mime_type="video/mp2t", file_name="clip.ts")
    big = bot.tg.send_video(GROUP, ALICE, over_ten_mb)
    await bot.settle()
    assert [(await stored(bot, GROUP, m)).route for m in (odd, big)] == ["clip", "clip"]
    uploads = list(bot.ds.uploads.values())
    assert len(uploads) == 2
    assert all(b"ftyp" in clip[:16] and len(clip) < MB for clip in uploads)  # re-encoded MP4s
    bot.tg.send_text(GROUP, ALICE, "/stats")
    stats = await bot.tg.wait_for(lambda: bot.tg.sent_messages(GROUP.id))
    assert "Embedded via: short clip 2" in texts(stats)


async def test_local_bot_api_server_hands_out_big_files_as_paths(fake_ds: FakeDashScope, tmp_path: Path) -> None:
    with FakeBotAPI(token=TOKEN, local_mode=True) as tg:
        env = bot_environment(tg, fake_ds, tmp_path / "bot.db", TELEGRAM_LOCAL_MODE="true")
        settings = load_settings(env, dotenv_path=tmp_path / "absent.env")
        async with running_bot(settings, tg, fake_ds) as bot:
            message = tg.send_video(GROUP, ALICE, tiny_video(RED), file_size=25 * MB)
            await bot.settle()
            item = await stored(bot, GROUP, message)
        assert item.route == "video"
        assert [call["file_id"] for call in tg.calls("getFile")] == [message["video"]["file_id"]]
        assert tg.downloads() == []  # read from the local path, not over HTTP
        assert len(fake_ds.uploads) == 1


async def test_gif_is_handled_once_as_an_animation(bot: RunningBot) -> None:
    message = bot.tg.send_animation(GROUP, ALICE, tiny_video(GREEN))
    assert "document" in message  # Telegram delivers a GIF as animation and as document
    await bot.settle()
    counts = await bot.services.store.jobs.counts(GROUP.id)
    assert sum(counts.values()) == 1
    assert await bot.services.store.items.counts_by_kind(GROUP.id) == {"animation": 1}
    assert (await stored(bot, GROUP, message)).route == "video"
    assert len(bot.ds.embed_requests) == 1


async def test_video_note_is_embedded_as_a_video(bot: RunningBot) -> None:
    message = bot.tg.send_video_note(GROUP, ALICE, sample_video(BLUE, seconds=1, size=(120, 120)))
    await bot.settle()
    item = await stored(bot, GROUP, message)
    assert (item.kind, item.route) == ("video_note", "video")
    assert "video" in bot.ds.embed_requests[0].json["input"]["contents"][0]
