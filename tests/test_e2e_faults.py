"""Account-level faults: a wrong API key pauses embedding, tells the operator once, and loses no item."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import running_bot
from tests.fakes.dashscope import FakeDashScope
from tests.fakes.telegram import Chat, FakeBotAPI, User
from tests.pictures import picture

GROUP = Chat(id=-1001111111111, type="supergroup", title="G")
ALICE = User(id=11, first_name="Alice")
OPERATOR_ID = 999


async def test_wrong_api_key_tells_operator_once_and_keeps_items(
    make_settings,
    fake_tg: FakeBotAPI,
    fake_ds: FakeDashScope,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    caplog.set_level(logging.INFO)
    settings = make_settings(DASHSCOPE_API_KEY="sk-wrong-key")
    async with running_bot(settings, fake_tg, fake_ds) as bot:
        operator = User(id=OPERATOR_ID, first_name="Op")
        bot.tg.send_text(Chat(id=OPERATOR_ID, type="private", first_name="Op"), operator, "/start")
        await bot.tg.wait_for(lambda: bot.tg.sent_messages(OPERATOR_ID))
        for seed in range(3):
            bot.tg.send_photo(GROUP, ALICE, picture("red", seed=seed))
        await bot.tg.wait_for(lambda: bot.tg.sent_messages(OPERATOR_ID)[1:])
        await bot.tg.wait_for(lambda: len(bot.ds.embed_requests) >= 1)
        counts = await bot.services.store.jobs.counts()
    operator_messages = fake_tg.sent_messages(OPERATOR_ID)[1:]  # after the /start answer
    assert len(operator_messages) == 1
    assert "InvalidApiKey" in operator_messages[0]["params"]["text"]
    assert fake_tg.sent_messages(GROUP.id) == []
    assert counts.get("failed", 0) == 0 and counts.get("pending", 0) + counts.get("running", 0) == 3
    account_lines = [r for r in caplog.records if "account error" in r.getMessage()]
    assert len(account_lines) == 1
    assert "sk-wrong-key" not in caplog.text


async def test_an_unreadable_update_does_not_stall_polling(
    make_settings, fake_tg: FakeBotAPI, fake_ds: FakeDashScope, caplog: pytest.LogCaptureFixture  # type: ignore[no-untyped-def]
) -> None:
    caplog.set_level(logging.INFO)
    async with running_bot(make_settings(), fake_tg, fake_ds) as bot:
        broken = bot.tg.push_update({"poll": {"id": "p1"}})  # a Poll without the fields PTB requires
        photo = bot.tg.send_photo(GROUP, ALICE, picture("green", seed=7))
        await bot.settle()
        assert await bot.services.store.items.by_message(GROUP.id, photo["message_id"]) is not None
    skipped = [r for r in caplog.records if r.getMessage() == "unreadable update skipped"]
    assert [getattr(r, "update_id", None) for r in skipped] == [broken["update_id"]]
