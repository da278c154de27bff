"""Stickers and documents end to end: what is embedded how, what is ignored, and what a person is told."""

from __future__ import annotations

import gzip
import json

from tests.conftest import RunningBot
from tests.fakes.dashscope import sample_video
from tests.fakes.telegram import Chat, User
from tests.pictures import picture
from tests.test_e2e_core import texts
from tests.test_e2e_media import stored

GROUP = Chat(id=-1003333333333, type="supergroup", title="Stickers")
ALICE = User(id=11, first_name="Alice", language_code="en")
BOB = User(id=22, first_name="Bob", language_code="en")
PRIVATE = Chat(id=BOB.id, type="private", first_name="Bob")
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
ONLY_MEDIA = "I can only compare photos, videos, GIFs and stickers"


def tgs_sticker() -> bytes:
    """An animated sticker as Telegram stores it: gzipped Lottie JSON."""
    return gzip.compress(json.dumps({"v": "5.5.2", "fr": 60, "ip": 0, "op": 60, "w": 512, "h": 512}).encode())


def file_ids_fetched(bot: RunningBot) -> list[str]:
    return [call["file_id"] for call in bot.tg.calls("getFile")]


async def test_static_sticker_is_embedded_as_an_image(bot: RunningBot) -> None:
    message = bot.tg.send_sticker(GROUP, ALICE, picture("green", seed=50, size=(512, 512), fmt="WEBP"))
    await bot.settle()
    item = await stored(bot, GROUP, message)
    assert (item.kind, item.route) == ("sticker", "image")
    image = bot.ds.embed_requests[0].json["input"]["contents"][0]["image"]
    assert image.startswith(("data:image/png", "data:image/jpeg"))  # WEBP converted: the API does not take it


async def test_animated_sticker_is_judged_by_its_thumbnail(bot: RunningBot) -> None:
    message = bot.tg.send_sticker(GROUP, ALICE, tgs_sticker(), is_animated=True,
                                  thumbnail=picture("yellow", seed=51, size=(128, 128), fmt="WEBP"))
    await bot.settle()
    item = await stored(bot, GROUP, message)
    assert (item.kind, item.route) == ("sticker", "thumbnail")
    assert file_ids_fetched(bot) == [message["sticker"]["thumbnail"]["file_id"]]


async def test_sticker_reposts_are_alerted_only_once_the_chat_asks_for_it(bot: RunningBot) -> None:
    bot.tg.set_member_status(GROUP.id, ALICE.id, "administrator")
    sticker = picture("red", seed=52, size=(512, 512), fmt="WEBP")
    bot.tg.send_sticker(GROUP, ALICE, sticker, file_unique_id="sticker-1")
    await bot.settle()
    bot.tg.send_sticker(GROUP, BOB, sticker, file_unique_id="sticker-1")
    await bot.settle()
    assert bot.tg.sent_messages(GROUP.id) == []  # stickers repeat by nature: not called out by default

    bot.tg.send_text(GROUP, ALICE, "/settings stickers on")
    settings = await bot.tg.wait_for(lambda: bot.tg.sent_messages(GROUP.id))
    assert "Stickers" in texts(settings) or "stickers" in texts(settings)
    repost = bot.tg.send_sticker(GROUP, BOB, sticker, file_unique_id="sticker-1")
    await bot.settle()
    alert = bot.tg.sent_messages(GROUP.id)[1:]
    assert [m["method"] for m in alert] == ["sendMessage"]  # one message per repost; the link shows the sticker
    assert alert[0]["params"]["reply_parameters"]["message_id"] == repost["message_id"]
    assert "identical" in texts(alert) and "Alice" in texts(alert)
    assert len(bot.ds.embed_requests) == 1  # the same file is embedded once


async def test_image_document_is_handled_like_a_photo(bot: RunningBot) -> None:
    scene = picture("blue", seed=53, fmt="PNG")
    document = bot.tg.send_document(PRIVATE, BOB, scene, mime_type="image/png", file_name="scene.png")
    first = await bot.tg.wait_for(lambda: bot.tg.sent_messages(PRIVATE.id))
    assert "First time" in texts(first)
    item = await stored(bot, PRIVATE, document)
    assert (item.kind, item.route) == ("image_document", "image")
    bot.tg.send_photo(PRIVATE, BOB, picture("blue", seed=53))  # the same scene as a photo
    matched = await bot.tg.wait_for(lambda: bot.tg.sent_messages(PRIVATE.id)[1:])
    assert matched[0]["method"] == "sendDocument" and matched[0]["params"]["document"] == item.file_id


async def test_video_document_is_embedded_as_a_video(bot: RunningBot) -> None:
    message = bot.tg.send_document(GROUP, ALICE, sample_video((220, 30, 30), seconds=1, size=(160, 120)),
                                   mime_type="video/mp4", file_name="holiday.mp4")
    await bot.settle()
    item = await stored(bot, GROUP, message)
    assert (item.kind, item.route) == ("video_document", "video")
    assert bot.ds.embed_requests[0].json["input"]["contents"][0]["video"].startswith("oss://")


async def test_unknown_document_is_ignored_in_groups_and_explained_in_private(bot: RunningBot) -> None:
    bot.tg.send_document(GROUP, ALICE, PDF, mime_type="application/pdf", file_name="minutes.pdf")
    await bot.settle()
    assert bot.tg.sent_messages(GROUP.id) == []
    assert file_ids_fetched(bot) == []  # not even downloaded
    assert sum((await bot.services.store.jobs.counts(GROUP.id)).values()) == 0

    bot.tg.send_document(PRIVATE, BOB, PDF, mime_type="application/pdf", file_name="minutes.pdf")
    answer = await bot.tg.wait_for(lambda: bot.tg.sent_messages(PRIVATE.id))
    assert ONLY_MEDIA in texts(answer)
    await bot.settle()
    assert file_ids_fetched(bot) == [] and bot.ds.requests == []


async def test_document_with_a_lying_mime_type_gets_a_clear_answer(bot: RunningBot) -> None:
    message = bot.tg.send_document(PRIVATE, BOB, PDF, mime_type="image/jpeg", file_name="holiday.jpg")
    answer = await bot.tg.wait_for(lambda: bot.tg.sent_messages(PRIVATE.id))
    assert ONLY_MEDIA in texts(answer)
    assert answer[0]["params"]["reply_parameters"]["message_id"] == message["message_id"]
    assert bot.ds.embed_requests == []


async def test_video_sent_as_a_file_with_an_image_mime_type_is_still_a_video(bot: RunningBot) -> None:
    message = bot.tg.send_document(GROUP, ALICE, sample_video((40, 170, 50), seconds=1, size=(160, 120)),
                                   mime_type="image/jpeg", file_name="not-a-photo.jpg")
    await bot.settle()
    item = await stored(bot, GROUP, message)
    assert item.route == "video"
    assert len(bot.ds.uploads) == 1
