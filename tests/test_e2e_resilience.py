"""Faults end to end: DashScope and Telegram misbehave, the bot loses no item, spends within its caps, and sends no
reply twice or out of order. Real PTB against the fake Bot API, real client against the fake DashScope.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from functools import partial
from typing import Any

import pytest

from bot.core.breaker import CircuitBreaker
from tests.conftest import RunningBot, running_bot
from tests.fakes.dashscope import FakeDashScope
from tests.fakes.telegram import Chat, FakeBotAPI, User
from tests.pictures import picture
from tests.test_e2e_core import texts

pytestmark = pytest.mark.slow  # outages, throttling storms and retries take real seconds

GROUP = Chat(id=-1004000000001, type="supergroup", title="Resilience")
OTHER = Chat(id=-1004000000002, type="supergroup", title="Other")
ALICE = User(id=51, first_name="Alice", language_code="en")
BOB = User(id=52, first_name="Bob", language_code="en")
OPERATOR = User(id=999, first_name="Op")  # BOT_ADMIN_IDS in tests/conftest.py
COLOURS = ("red", "green", "blue", "yellow")

JSON = dict[str, Any]
Bot = Callable[..., AbstractAsyncContextManager[RunningBot]]


@pytest.fixture
def start(make_settings, fake_tg: FakeBotAPI, fake_ds: FakeDashScope) -> Bot:  # type: ignore[no-untyped-def]
    """`async with start(VAR="value") as bot:` runs the bot with extra settings."""

    def run(**extra: str) -> AbstractAsyncContextManager[RunningBot]:
        return running_bot(make_settings(**extra), fake_tg, fake_ds)

    return run


def post_photos(bot: RunningBot, chat: Chat, count: int, *, seed: int = 0, user: User = ALICE) -> list[JSON]:
    return [bot.tg.send_photo(chat, user, picture(COLOURS[n % 4], seed=seed + n)) for n in range(count)]


async def missing(bot: RunningBot, posted: list[JSON]) -> list[int]:
    """Message ids of posted media without a stored item."""
    items = bot.services.store.items
    return [m["message_id"] for m in posted if await items.by_message(m["chat"]["id"], m["message_id"]) is None]


async def no_job_failed(bot: RunningBot) -> bool:
    return (await bot.services.store.jobs.counts())["failed"] == 0


@pytest.fixture
def quick_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The breaker's first probe after 0.5 s instead of 30 s, so that pausing and resuming fit in a test."""
    monkeypatch.setattr("bot.wiring.CircuitBreaker", partial(CircuitBreaker, first_probe_after=0.5,
                                                                 max_probe_interval=1.0))


def embedding_body(vector: list[float]) -> bytes:
    return json.dumps({"output": {"embeddings": [{"index": 0, "embedding": vector, "type": "image"}]},
                       "usage": {"image_count": 1}, "request_id": "r-1"}).encode()


# ---- DashScope -----------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("quick_probes")
async def test_throttling_storm_loses_nothing(bot: RunningBot) -> None:
    """Jobs that run out of client retries may trip the breaker (throttled for every item): then they wait, too."""
    bot.ds.fail_next(429, "Throttling.RateQuota", "Requests rate limit exceeded", times=14, retry_after=0)
    posted = post_photos(bot, GROUP, 4) + post_photos(bot, OTHER, 4, seed=10)
    await bot.settle(timeout=30)
    assert await missing(bot, posted) == []
    assert await no_job_failed(bot)
    assert len(bot.ds.embed_requests) == 14 + 8  # every throttled request retried once more, nothing else


async def test_server_errors_are_retried(bot: RunningBot) -> None:
    bot.ds.fail_next(500, "InternalError.Algo", "Algorithm process error")
    bot.ds.fail_next(503, "ModelUnavailable", "Model is unavailable")
    bot.ds.fail_next(502, "", body=b"<html><body>502 Bad Gateway</body></html>")
    posted = post_photos(bot, GROUP, 2)
    await bot.settle(timeout=30)
    assert await missing(bot, posted) == []
    assert len(bot.ds.embed_requests) == 3 + 2


async def test_timeouts_are_retried(start: Bot, fake_ds: FakeDashScope) -> None:
    async with start(DASHSCOPE_TIMEOUT="0.3") as bot:
        fake_ds.latency = 0.6
        posted = post_photos(bot, GROUP, 1)
        await bot.tg.wait_for(lambda: len(fake_ds.embed_requests) >= 2, timeout=15)
        fake_ds.latency = 0.0
        await bot.settle(timeout=30)
        assert await missing(bot, posted) == []


async def test_dropped_connections_are_retried(bot: RunningBot) -> None:
    bot.ds.down = True
    posted = post_photos(bot, GROUP, 2) + post_photos(bot, OTHER, 2, seed=20)
    await bot.tg.wait_for(lambda: len(bot.ds.embed_requests) >= 4, timeout=15)
    bot.ds.down = False
    await bot.settle(timeout=30)
    assert await missing(bot, posted) == []
    assert await no_job_failed(bot)


async def test_a_200_carrying_a_retryable_error_code_is_retried(bot: RunningBot) -> None:
    error = {"code": "InternalError.Timeout", "message": "Inference timed out", "request_id": "r-2"}
    bot.ds.fail_next(200, "", body=json.dumps(error).encode())
    posted = post_photos(bot, GROUP, 1)
    await bot.settle(timeout=15)
    assert await missing(bot, posted) == []
    assert len(bot.ds.embed_requests) == 2


async def test_a_200_carrying_a_refusal_fails_the_item_once_and_says_why(bot: RunningBot) -> None:
    refusal = {"code": "DataInspectionFailed", "message": "Input data may contain inappropriate content.",
               "request_id": "r-3"}
    bot.ds.fail_next(200, "", body=json.dumps(refusal).encode())
    private = ALICE.private_chat()
    refused = bot.tg.send_photo(private, ALICE, picture("red", seed=30))
    after = bot.tg.send_photo(private, ALICE, picture("blue", seed=31))
    sent = await bot.tg.wait_for(lambda: bot.tg.sent_messages(private.id)[1:] and bot.tg.sent_messages(private.id))
    await bot.settle()
    assert "refused this item (DataInspectionFailed)" in texts(sent[:1])
    assert len(bot.ds.embed_requests) == 2  # not retried
    failures = await bot.services.store.jobs.recent_failures(private.id)
    assert len(failures) == 1 and "DataInspectionFailed" in (failures[0].error or "")
    assert await missing(bot, [refused, after]) == [refused["message_id"]]


async def test_malformed_json_is_retried(bot: RunningBot) -> None:
    bot.ds.fail_next(200, "", body=b'{"output": {"embeddings": [')
    bot.ds.fail_next(200, "", body=b"[]")
    posted = post_photos(bot, GROUP, 1)
    await bot.settle(timeout=15)
    assert await missing(bot, posted) == []
    assert len(bot.ds.embed_requests) == 3


async def test_wrong_vector_length_is_retried_and_never_stored(bot: RunningBot) -> None:
    bot.ds.fail_next(200, "", body=embedding_body([0.5] * 1023))
    posted = post_photos(bot, GROUP, 1)
    await bot.settle(timeout=15)
    assert await missing(bot, posted) == []
    assert len(bot.ds.embed_requests) == 2
    assert await bot.services.indexes.count(GROUP.id) == 1


@pytest.mark.usefixtures("quick_probes")
async def test_arrearage_pauses_tells_operators_once_and_resumes(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    operator_chat = OPERATOR.private_chat()
    bot.tg.send_text(operator_chat, OPERATOR, "/start")  # a bot may only write to people who started it
    await bot.tg.wait_for(lambda: bot.tg.sent_messages(OPERATOR.id))
    bot.ds.fail_next(400, "Arrearage", "Access denied, please make sure your account is in good standing.", times=3)
    posted = post_photos(bot, GROUP, 3) + post_photos(bot, OTHER, 3, seed=40)
    await bot.tg.wait_for(lambda: len(bot.tg.sent_messages(OPERATOR.id)) >= 3, timeout=20)
    await bot.settle(timeout=20)
    notices = texts(bot.tg.sent_messages(OPERATOR.id)[1:]).split("\n")
    assert len(notices) == 2
    assert "Arrearage" in notices[0] and "paused" in notices[0]
    assert "resumed" in notices[1]
    assert await missing(bot, posted) == []
    assert await no_job_failed(bot)
    assert len(bot.ds.embed_requests) == 3 + 6  # paused: one probe at a time, not every queued item
    assert len([r for r in caplog.records if "account error" in r.getMessage()]) == 1
    assert bot.tg.sent_messages(GROUP.id) == []


@pytest.mark.usefixtures("quick_probes")
async def test_outage_longer_than_the_retry_budget_pauses_instead_of_failing(
    start: Bot, fake_ds: FakeDashScope
) -> None:
    """Two attempts per job would give up within seconds; as every job fails alike, the breaker pauses them."""
    async with start(JOB_MAX_ATTEMPTS="2") as bot:
        fake_ds.down = True
        chats = [Chat(id=-1004000000100 - n, type="supergroup", title=f"C{n}") for n in range(4)]
        posted = [m for n, chat in enumerate(chats) for m in post_photos(bot, chat, 2, seed=50 + 2 * n)]
        await asyncio.sleep(10)
        assert await no_job_failed(bot)
        fake_ds.down = False
        await bot.settle(timeout=30)
        assert await missing(bot, posted) == []
        assert await no_job_failed(bot)


@pytest.mark.usefixtures("quick_probes")
async def test_outage_of_30_seconds_in_the_middle_of_a_burst_loses_nothing(bot: RunningBot) -> None:
    """Takes about 35 s: the outage is real time. The breaker probes every second (not after 30 s, 60 s…) so that
    the test measures loss, not the probe schedule."""
    private = BOB.private_chat()
    chats = (GROUP, OTHER, private)
    posted = [bot.tg.send_photo(chats[n % 3], BOB, picture(COLOURS[n % 4], seed=60 + n)) for n in range(9)]
    await bot.tg.wait_for(lambda: len(bot.ds.embed_requests) >= 3, timeout=10)
    bot.ds.down = True
    outage_started = time.monotonic()
    for n in range(9, 30):
        posted.append(bot.tg.send_photo(chats[n % 3], BOB, picture(COLOURS[n % 4], seed=60 + n)))
        await asyncio.sleep(0.5)
    await asyncio.sleep(30 - (time.monotonic() - outage_started))
    bot.ds.down = False
    await bot.settle(timeout=45)
    assert await missing(bot, posted) == []
    assert await no_job_failed(bot)
    replies = {m["params"]["reply_parameters"]["message_id"] for m in bot.tg.sent_messages(private.id)}
    assert replies == {m["message_id"] for m in posted if m["chat"]["id"] == private.id}


# ---- Telegram ------------------------------------------------------------------------------------------------------


async def post_repost(bot: RunningBot, chat: Chat, seed: int) -> tuple[JSON, JSON]:
    """An original, stored silently, then an identical repost of it: an alert is due."""
    photo = picture("green", seed=seed)
    original = bot.tg.send_photo(chat, ALICE, photo, file_unique_id=f"orig-{seed}")
    await bot.settle()
    return original, bot.tg.send_photo(chat, BOB, photo, file_unique_id=f"orig-{seed}")


ALERT_METHOD = "sendMessage"
"""A repost alert in a supergroup is one text reply: the link shows the original."""


def alerts(bot: RunningBot, chat: Chat) -> list[JSON]:
    return [m for m in bot.tg.sent_messages(chat.id) if m["method"] == ALERT_METHOD]


async def test_flood_control_on_the_alert_is_honoured_and_the_alert_arrives(bot: RunningBot) -> None:
    bot.tg.inject_error(ALERT_METHOD, 429, "Too Many Requests: retry after 1", retry_after=1, times=5)
    _original, repost = await post_repost(bot, GROUP, 70)
    sent = await bot.tg.wait_for(lambda: alerts(bot, GROUP), timeout=20)
    await bot.settle()
    assert len(alerts(bot, GROUP)) == 1
    assert sent[0]["params"]["reply_parameters"]["message_id"] == repost["message_id"]
    assert len([r for r in bot.tg.requests if r.method == ALERT_METHOD and r.status == 429]) == 5


async def test_forbidden_on_send_marks_the_chat_removed_and_stops_work_for_it(bot: RunningBot) -> None:
    bot.tg.inject_error(ALERT_METHOD, 403, "Forbidden: bot was kicked from the supergroup chat", chat_id=GROUP.id)
    await post_repost(bot, GROUP, 71)
    await bot.settle()
    assert not await bot.services.store.chats.is_active(GROUP.id)
    calls = len(bot.ds.embed_requests)
    later = post_photos(bot, GROUP, 2, seed=72)
    elsewhere = post_photos(bot, OTHER, 1, seed=74)
    await bot.settle()
    assert await missing(bot, later) == [m["message_id"] for m in later]
    assert await missing(bot, elsewhere) == []
    assert len(bot.ds.embed_requests) == calls + 1  # only the other chat's photo
    assert len([r for r in bot.tg.requests if r.method == ALERT_METHOD]) == 1


async def test_get_updates_network_errors_do_not_stop_the_bot(bot: RunningBot) -> None:
    bot.tg.inject_error("getUpdates", 502, "Bad Gateway", times=3)
    await bot.tg.wait_for(lambda: [r for r in bot.tg.requests if r.method == "getUpdates" and r.status == 502])
    posted = post_photos(bot, GROUP, 2, seed=75)
    await bot.settle(timeout=20)
    assert await missing(bot, posted) == []
    assert len([r for r in bot.tg.requests if r.method == "getUpdates" and r.status == 502]) == 3


# ---- spend caps, idempotency, pacing, order ------------------------------------------------------------------------


async def test_chat_cap_skips_the_third_photo_and_stats_say_so(start: Bot) -> None:
    async with start(DAILY_CHAT_REQUEST_CAP="2") as bot:
        bot.tg.set_member_status(GROUP.id, ALICE.id, "administrator")
        posted = post_photos(bot, GROUP, 3, seed=80)
        await bot.settle()
        assert await missing(bot, posted) == [posted[2]["message_id"]]
        assert len(bot.ds.embed_requests) == 2
        assert bot.tg.sent_messages(GROUP.id) == []  # nobody asked in a group: no note there
        bot.tg.send_text(GROUP, ALICE, "/stats")
        sent = await bot.tg.wait_for(lambda: bot.tg.sent_messages(GROUP.id))
        assert "1 skipped over the daily cap" in texts(sent)


async def test_private_user_over_the_cap_is_told_why(start: Bot) -> None:
    async with start(DAILY_USER_REQUEST_CAP="2") as bot:
        private = ALICE.private_chat()
        post_photos(bot, private, 3, seed=85)
        sent = await bot.tg.wait_for(lambda: bot.tg.sent_messages(private.id)[2:] and bot.tg.sent_messages(private.id))
        assert "daily limit" in texts(sent[2:])
        assert len(bot.ds.embed_requests) == 2


async def test_the_same_update_twice_gives_one_item_one_job_one_reply(bot: RunningBot) -> None:
    _original, repost = await post_repost(bot, GROUP, 90)
    bot.tg.push_update({"message": repost})  # a retried delivery of the very same message
    private = ALICE.private_chat()
    photo = bot.tg.send_photo(private, ALICE, picture("red", seed=91))
    bot.tg.push_update({"message": photo})
    await bot.settle()
    await asyncio.sleep(0.3)
    assert len(alerts(bot, GROUP)) == 1
    assert len(bot.tg.sent_messages(private.id)) == 1
    jobs = bot.services.store.jobs
    assert sum((await jobs.counts(GROUP.id)).values()) == 2
    assert sum((await jobs.counts(private.id)).values()) == 1
    assert len(bot.ds.embed_requests) == 2  # the original and the private photo; the repost is a cache hit


async def test_alert_pacing_caps_alerts_per_group_and_minute(start: Bot) -> None:
    async with start(GROUP_ALERTS_PER_MINUTE="2") as bot:
        photo = picture("blue", seed=95)
        bot.tg.send_photo(GROUP, ALICE, photo, file_unique_id="paced")
        await bot.settle()
        for _ in range(5):
            bot.tg.send_photo(GROUP, BOB, photo, file_unique_id="paced")
        await bot.settle()
        await asyncio.sleep(0.3)
        assert len(alerts(bot, GROUP)) == 2
        assert (await bot.services.store.stats.chat_stats(GROUP.id)).reposts_called == 5


async def test_replies_keep_the_order_of_posts_per_chat_under_load(start: Bot, fake_ds: FakeDashScope) -> None:
    async with start(WORKERS="4") as bot:
        fake_ds.latency = 0.03
        chats = [User(id=60 + n, first_name=f"U{n}").private_chat() for n in range(3)]
        posted = [bot.tg.send_photo(chats[n % 3], User(id=chats[n % 3].id, first_name="U"),
                                    picture(COLOURS[n % 4], seed=100 + n)) for n in range(24)]
        await bot.settle(timeout=30)
        assert fake_ds.max_in_flight > 1  # the chats really were served in parallel
        for chat in chats:
            answered = [m["params"]["reply_parameters"]["message_id"] for m in bot.tg.sent_messages(chat.id)]
            in_order = [mid for n, mid in enumerate(answered) if n == 0 or mid != answered[n - 1]]  # albums: 1 each
            assert in_order == [m["message_id"] for m in posted if m["chat"]["id"] == chat.id]
