"""/similar and /search results, end to end: near-duplicates grouped, "More" pages, kind prefixes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import RunningBot
from tests.fakes.telegram import Chat, User
from tests.pictures import picture, reencoded

pytestmark = pytest.mark.slow

GROUP = Chat(id=-1001234567890, type="supergroup", title="Pics")
ALICE = User(id=11, first_name="Alice", language_code="en")
BOB = User(id=22, first_name="Bob", language_code="en")


def captions(message: dict[str, Any]) -> list[str]:
    media = message["params"]["media"]
    return [str(m.get("caption", "")) for m in (json.loads(media) if isinstance(media, str) else media)]


def keyboard(message: dict[str, Any]) -> list[dict[str, str]]:
    markup = message["params"].get("reply_markup")
    if markup is None:
        return []
    rows = json.loads(markup)["inline_keyboard"] if isinstance(markup, str) else markup["inline_keyboard"]
    return [button for row in rows for button in row]


async def fill(bot: RunningBot) -> None:
    """Seven different red pictures (about 0.87 apart) and a re-encode of the first (about 0.99 from it)."""
    first = picture("red", seed=100)
    for seed in range(100, 107):
        bot.tg.send_photo(GROUP, ALICE, picture("red", seed=seed))
    bot.tg.send_photo(GROUP, BOB, reencoded(first))
    await bot.settle()


async def test_search_groups_copies_and_pages_on_with_more_without_an_api_call(bot: RunningBot) -> None:
    await fill(bot)
    before = len(bot.tg.sent_messages(GROUP.id))
    bot.tg.send_text(GROUP, ALICE, "/search red")
    await bot.settle()
    header, *messages = bot.tg.sent_messages(GROUP.id)[before:]
    album = messages[0]  # every message of an album carries the request's parameters
    assert album["method"] == "sendMediaGroup" and len(messages) == len(captions(album)) == 5
    assert sum("and 1 copy" in caption for caption in captions(album)) == 1  # the re-encode is folded in
    (more,) = keyboard(header)
    assert more["text"] == "More"
    requests = len(bot.ds.embed_requests)

    bot.tg.press_button(header, BOB, more["callback_data"])
    await bot.settle()
    second = bot.tg.sent_messages(GROUP.id)[before + 6:]
    assert len(bot.ds.embed_requests) == requests  # the query's vector was kept
    assert bot.tg.calls("answerCallbackQuery")
    assert len(second) == 3 and len(captions(second[-1])) == 2  # seven different things: 5, then 2
    assert keyboard(second[0]) == []  # the last page offers no "More"
    shown = [c for m in (album, second[-1]) for c in captions(m)]
    assert len(set(shown)) == 7


async def test_kind_prefixes_narrow_the_search(bot: RunningBot) -> None:
    bot.tg.send_photo(GROUP, ALICE, picture("red", seed=120))
    await bot.settle()
    before = len(bot.tg.sent_messages(GROUP.id))
    bot.tg.send_text(GROUP, ALICE, "/search gif: red")
    await bot.settle()
    (none,) = bot.tg.sent_messages(GROUP.id)[before:]
    assert "No picture or video matches" in none["params"]["text"]
    bot.tg.send_text(GROUP, ALICE, "/search photo: red")
    await bot.settle()
    found = bot.tg.sent_messages(GROUP.id)[before + 1:]
    assert found[-1]["method"] == "sendPhoto"


async def test_similar_groups_copies_too(bot: RunningBot) -> None:
    await fill(bot)
    target = bot.tg.send_photo(GROUP, BOB, picture("red", seed=106))
    await bot.settle()
    before = len(bot.tg.sent_messages(GROUP.id))
    bot.tg.send_text(GROUP, ALICE, "/similar", reply_to=target)
    await bot.settle()
    header, album, *_ = bot.tg.sent_messages(GROUP.id)[before:]
    assert len(captions(album)) == 5 and sum("and 1 copy" in caption for caption in captions(album)) == 1
    assert [b["text"] for b in keyboard(header)] == ["More"]


async def test_more_on_a_forgotten_result_list_asks_to_search_again(bot: RunningBot) -> None:
    bot.tg.send_photo(GROUP, ALICE, picture("red", seed=130))
    await bot.settle()
    before = len(bot.tg.sent_messages(GROUP.id))
    bot.tg.send_text(GROUP, ALICE, "/search red")
    await bot.settle()
    header = bot.tg.sent_messages(GROUP.id)[before]
    bot.tg.press_button(header, BOB, "m:forgotten-token:1")  # as after a restart
    await bot.settle()
    assert bot.tg.sent_messages(GROUP.id)[-1]["params"]["text"] == (
        "I no longer have that result list; please ask again.")
