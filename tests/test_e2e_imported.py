"""Imported history in the running bot: reposts of old pictures called out by a link to their original message,
/search and /similar finding imported media (listed by link beside the media the bot can send)."""

from __future__ import annotations

from pathlib import Path

from bot.history import EXIT_DONE, parse_args, run
from tests.conftest import running_bot
from tests.fakes.dashscope import FakeDashScope
from tests.fakes.telegram import Chat, FakeBotAPI, User
from tests.pictures import picture, reencoded
from tests.support.exports import ExportBuilder

GROUP = Chat(id=-1001234567890, type="supergroup", title="Old group")
BOB = User(id=22, first_name="Bob", language_code="en")
OLD_PHOTO = picture("red", seed=31)
ORIGINAL_LINK = "https://t.me/c/1234567890/2"


async def imported(make_settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = make_settings()
    export = ExportBuilder(tmp_path / "export")
    export.photo(2, OLD_PHOTO, text="sunset over the harbour")
    export.photo(3, picture("blue", seed=32), sender="Carol", from_id="user1003")
    assert await run(parse_args([str(export.write())]), settings) == EXIT_DONE
    return settings


async def test_a_repost_of_an_imported_picture_links_to_its_original_message(
        make_settings, fake_tg: FakeBotAPI, fake_ds: FakeDashScope, tmp_path: Path) -> None:
    settings = await imported(make_settings, tmp_path)
    async with running_bot(settings, fake_tg, fake_ds) as bot:
        repost = bot.tg.send_photo(GROUP, BOB, reencoded(OLD_PHOTO))
        sent = await bot.tg.wait_for(lambda: bot.tg.sent_messages(GROUP.id))
    alert = sent[0]
    assert alert["method"] == "sendMessage"  # the imported original has no file id to send
    text = alert["params"]["text"]
    assert "Possible repost" in text and "Alice" in text and "2020-09-13" in text
    assert ORIGINAL_LINK in text
    assert alert["params"]["reply_parameters"]["message_id"] == repost["message_id"]


async def test_search_finds_imported_media_by_caption_and_by_content(
        make_settings, fake_tg: FakeBotAPI, fake_ds: FakeDashScope, tmp_path: Path) -> None:
    settings = await imported(make_settings, tmp_path)
    async with running_bot(settings, fake_tg, fake_ds) as bot:
        bot.tg.send_text(GROUP, BOB, "/search sunset over the harbour")
        by_caption = await bot.tg.wait_for(lambda: bot.tg.sent_messages(GROUP.id))
        bot.tg.send_text(GROUP, BOB, "/search blue")
        by_content = await bot.tg.wait_for(lambda: bot.tg.sent_messages(GROUP.id)[1:])
    caption_text = by_caption[0]["params"]["text"]
    assert "Best matches" in caption_text and ORIGINAL_LINK in caption_text and "Alice" in caption_text
    content_text = by_content[0]["params"]["text"]
    assert "https://t.me/c/1234567890/3" in content_text and "Carol" in content_text
    assert ORIGINAL_LINK not in content_text


async def test_similar_lists_imported_items_beside_the_media_it_can_send(
        make_settings, fake_tg: FakeBotAPI, fake_ds: FakeDashScope, tmp_path: Path) -> None:
    settings = await imported(make_settings, tmp_path)
    async with running_bot(settings, fake_tg, fake_ds) as bot:
        live = bot.tg.send_photo(GROUP, BOB, reencoded(OLD_PHOTO, scale=0.7))
        await bot.settle()
        alerts = len(bot.tg.sent_messages(GROUP.id))
        bot.tg.send_text(GROUP, BOB, "/similar", reply_to=live)
        sent = await bot.tg.wait_for(lambda: bot.tg.sent_messages(GROUP.id)[alerts:])
    answer = sent[0]
    assert answer["method"] == "sendMessage"
    assert ORIGINAL_LINK in answer["params"]["text"] and "Alice" in answer["params"]["text"]
