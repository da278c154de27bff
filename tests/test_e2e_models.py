"""A bot that ran on one model, restarted on another: chats keep working on their old vectors while re-embedded in the
background, then switch at once; a restart mid-way repeats nothing; an item whose file is gone stays and is counted."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.config import Settings
from tests.conftest import RunningBot, running_bot
from tests.fakes.dashscope import V1_MODEL, FakeDashScope, RecordedRequest
from tests.fakes.telegram import Chat, FakeBotAPI, User
from tests.pictures import picture, reencoded
from tests.support.storage import run_sql
from tests.test_e2e_core import texts

pytestmark = pytest.mark.slow

NEW_MODEL = "tongyi-embedding-vision-flash"
NEW_SPACE = f"{NEW_MODEL}@768"
OLD_SPACE = f"{V1_MODEL}@1024"
GROUP = Chat(id=-1005550001, type="supergroup", title="Models")
ALICE = User(id=11, first_name="Alice", language_code="en")
BOB = User(id=22, first_name="Bob", language_code="en")
OPERATOR = User(id=999, first_name="Op")
OPERATOR_CHAT = Chat(id=OPERATOR.id, type="private", first_name="Op")
COLOURS = ("red", "green", "blue", "yellow")


def media_requests(ds: FakeDashScope, model: str) -> list[RecordedRequest]:
    """Embedding requests of `model` that carry a picture (an item's embedding, not a text query)."""
    return [r for r in ds.embed_requests if isinstance(r.json, dict) and r.json["model"] == model
            and any("image" in c for c in r.json["input"]["contents"])]


def text_requests(ds: FakeDashScope) -> list[dict[str, Any]]:
    return [r.json for r in ds.embed_requests if isinstance(r.json, dict)
            and all("text" in c for c in r.json["input"]["contents"])]


async def rows(bot: RunningBot, query: str) -> list[tuple[Any, ...]]:
    return await run_sql(bot.services.store, query)


async def search_answer(bot: RunningBot, words: str) -> list[dict[str, Any]]:
    before = len(bot.tg.sent_messages(GROUP.id))
    bot.tg.send_text(GROUP, ALICE, f"/search {words}")
    sent = await bot.tg.wait_for(lambda: bot.tg.sent_messages(GROUP.id)[before:])
    return sent


async def operator_stats(bot: RunningBot) -> str:
    before = len(bot.tg.sent_messages(OPERATOR_CHAT.id))
    bot.tg.send_text(OPERATOR_CHAT, OPERATOR, "/stats")
    return texts(await bot.tg.wait_for(lambda: bot.tg.sent_messages(OPERATOR_CHAT.id)[before:]))


async def until_switched(bot: RunningBot, timeout: float = 30.0) -> None:
    async def done() -> bool:
        backlog = await bot.services.store.reembedding.backlog(NEW_SPACE, GROUP.id)
        return not backlog or (backlog[0].remaining == 0 and backlog[0].staged == 0)

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await done():
        assert loop.time() < deadline, "re-embedding did not finish in time"
        await asyncio.sleep(0.05)


async def test_restarted_on_another_model_a_chat_keeps_working_then_switches(
        make_settings: Any, fake_tg: FakeBotAPI, fake_ds: FakeDashScope) -> None:
    settings: Settings = make_settings()
    async with running_bot(settings, fake_tg, fake_ds) as bot:
        posts = [bot.tg.send_photo(GROUP, ALICE, picture(colour, seed=n)) for n, colour in enumerate(COLOURS)]
        await bot.settle()
    originals = {colour: picture(colour, seed=n) for n, colour in enumerate(COLOURS)}

    # Restarted on the new model, re-embedding held back: the chat still answers on its v1 vectors.
    async with running_bot(make_settings(EMBEDDING_MODEL=NEW_MODEL, REEMBEDDING="off"), fake_tg, fake_ds) as bot:
        assert len(await search_answer(bot, "green")) == 1
        assert text_requests(fake_ds)[-1]["model"] == V1_MODEL  # the query is embedded with the chat's model
        repost = bot.tg.send_photo(GROUP, BOB, reencoded(originals["red"]))
        alert = await bot.tg.wait_for(lambda: [
            m for m in bot.tg.sent_messages(GROUP.id)
            if m["params"].get("reply_parameters", {}).get("message_id") == repost["message_id"]])
        assert "Alice" in texts(alert)  # a text reply with a link since issue 8 (media only where no link can)
        await bot.settle()
        assert await bot.services.reembedder.run_once(max_items=2)
        # Half-way: two items staged for the new model, the chat's index is still v1's.
        assert await rows(bot, "SELECT DISTINCT model FROM vectors") == [(OLD_SPACE,)]
        assert len(await search_answer(bot, "blue")) == 1
        assert "2/5 done" in await operator_stats(bot)

    # A restart with re-embedding on resumes: the two staged items are not embedded again; one file is gone.
    fake_tg.lose_file(posts[3]["photo"][-1]["file_id"])
    staged_before = len(media_requests(fake_ds, NEW_MODEL))
    async with running_bot(make_settings(EMBEDDING_MODEL=NEW_MODEL), fake_tg, fake_ds) as bot:
        await until_switched(bot)
        assert len(media_requests(fake_ds, NEW_MODEL)) - staged_before == 2  # 5 items: 2 staged, 1 file gone
        items = await rows(bot, "SELECT id, model FROM items ORDER BY id")
        assert len(items) == 5
        kept = [item_id for item_id, model in items if model == OLD_SPACE]
        assert len(kept) == 1
        vectors = await rows(bot, "SELECT item_id, facet, model FROM vectors ORDER BY item_id, facet")
        assert [(item_id, model) for item_id, _facet, model in vectors] == [
            (item_id, OLD_SPACE if item_id in kept else NEW_SPACE) for item_id, _ in items]  # each item once
        assert "1 items stay on the old model" in await operator_stats(bot)
        assert len(await search_answer(bot, "green")) == 1
        assert text_requests(fake_ds)[-1]["model"] == NEW_MODEL
        repost = bot.tg.send_photo(GROUP, BOB, reencoded(originals["blue"], scale=0.7))
        await bot.settle()
        alerts = [m for m in bot.tg.sent_messages(GROUP.id)
                  if m["params"].get("reply_parameters", {}).get("message_id") == repost["message_id"]]
        assert len(alerts) == 1 and "Alice" in texts(alerts)
