"""People who wait: a command while DashScope hangs or rejects the key, a private chat while embedding is paused,
and a group whose alert cannot be sent (it must not hold the chat's queue). Through both fakes."""

from __future__ import annotations

import time
from functools import partial

import pytest

from bot.core.breaker import CircuitBreaker
from tests.conftest import RunningBot, running_bot
from tests.fakes.dashscope import FakeDashScope
from tests.fakes.telegram import Chat, FakeBotAPI, User
from tests.pictures import picture
from tests.test_e2e_core import texts

GROUP = Chat(id=-1001555555555, type="supergroup", title="Waiting room")
ALICE = User(id=21, first_name="Alice")
BOB = User(id=22, first_name="Bob")
OPERATOR_ID = 999


def chat_actions(bot: RunningBot, chat_id: int) -> list[str]:
    return [r.params.get("action", "") for r in bot.tg.requests
            if r.method == "sendChatAction" and str(r.params.get("chat_id")) == str(chat_id)]


@pytest.mark.slow  # waits out deadlines, debounces or batch windows in real time
async def test_search_while_dashscope_hangs_answers_within_the_deadline(make_settings, fake_tg: FakeBotAPI,
                                                                        fake_ds: FakeDashScope) -> None:
    async with running_bot(make_settings(COMMAND_DEADLINE_SECONDS="1"), fake_tg, fake_ds) as bot:
        bot.ds.latency = 6.0
        started = time.monotonic()
        bot.tg.send_text(GROUP, ALICE, "/search red car")
        sent = await bot.tg.wait_for(lambda: bot.tg.sent_messages(GROUP.id), timeout=10)
        elapsed = time.monotonic() - started
        bot.ds.latency = 0.0
    assert elapsed < 4, elapsed
    assert "slow or down" in texts(sent) and "queued" not in texts(sent)
    assert "typing" in chat_actions(bot, GROUP.id)


async def test_search_with_a_rejected_key_says_so_and_the_operators_are_told(bot: RunningBot) -> None:
    operator = User(id=OPERATOR_ID, first_name="Op")
    bot.tg.send_text(Chat(id=OPERATOR_ID, type="private", first_name="Op"), operator, "/start")
    await bot.tg.wait_for(lambda: bot.tg.sent_messages(OPERATOR_ID))
    bot.ds.fail_next(401, "InvalidApiKey", "Invalid API-key provided.")
    bot.tg.send_text(GROUP, ALICE, "/search red car")
    sent = await bot.tg.wait_for(lambda: bot.tg.sent_messages(GROUP.id))
    assert "rejected this bot's API key" in texts(sent) and "queued" not in texts(sent)
    told = await bot.tg.wait_for(lambda: bot.tg.sent_messages(OPERATOR_ID)[1:])
    assert "InvalidApiKey" in texts(told)


@pytest.mark.slow  # waits out deadlines, debounces or batch windows in real time
async def test_private_chat_is_told_once_that_its_media_waits_then_each_item_is_answered(
        make_settings, fake_tg: FakeBotAPI, fake_ds: FakeDashScope, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.wiring.CircuitBreaker", partial(CircuitBreaker, first_probe_after=0.5,
                                                             max_probe_interval=1.0))
    private = ALICE.private_chat()
    async with running_bot(make_settings(), fake_tg, fake_ds) as bot:
        bot.ds.fail_next(400, "Arrearage", "Access denied, please make sure your account is in good standing.",
                         times=2)
        first = bot.tg.send_photo(private, ALICE, picture("red", seed=1))
        waiting = await bot.tg.wait_for(lambda: bot.tg.sent_messages(private.id), timeout=10)
        second = bot.tg.send_photo(private, ALICE, picture("blue", seed=2))
        answers = await bot.tg.wait_for(lambda: bot.tg.sent_messages(private.id)[2:], timeout=20)
        await bot.settle(timeout=20)
        every = bot.tg.sent_messages(private.id)
    assert "queued" in texts(waiting)
    assert sum("queued" in texts([m]) for m in every) == 1  # once per pause and chat, not per photo
    replied_to = [m["params"]["reply_parameters"]["message_id"] for m in every[1:]]
    assert replied_to == [first["message_id"], second["message_id"]]
    assert answers


@pytest.mark.slow  # waits out deadlines, debounces or batch windows in real time
async def test_an_alert_that_cannot_be_sent_does_not_hold_the_group(bot: RunningBot) -> None:
    photo = picture("green", seed=80)
    bot.tg.send_photo(GROUP, ALICE, photo, file_unique_id="orig-80")
    await bot.settle()
    bot.tg.inject_error("sendMessage", 404, "Not Found", times=50, chat_id=GROUP.id)  # the alert is a text
    bot.tg.send_photo(GROUP, BOB, photo, file_unique_id="orig-80")
    later = bot.tg.send_photo(GROUP, ALICE, picture("blue", seed=81))
    started = time.monotonic()
    await bot.settle(timeout=30)
    assert time.monotonic() - started < 15
    items = bot.services.store.items
    assert await items.by_message(GROUP.id, later["message_id"]) is not None
    stats = await bot.services.store.stats.chat_stats(GROUP.id)
    assert stats.replies_failed == 1 and stats.jobs_pending == 0
