"""Secrets stay with their owners, results stay in their chat, admin rights are checked on every call.

A busy session (photos, a video, albums of results, commands, errors on both services, a wrong API key) runs with
every log record captured at DEBUG and both fakes recording their traffic; then the traffic and the logs are searched.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from bot.logs import RedactingJsonFormatter
from tests.conftest import API_KEY, TOKEN, RunningBot, running_bot
from tests.fakes.dashscope import EMBED_PATH, POLICY_PATH, FakeDashScope
from tests.fakes.telegram import Chat, FakeBotAPI, User
from tests.media_samples import video
from tests.pictures import picture
from tests.test_e2e_core import texts

WRONG_KEY = "sk-wrong-but-still-secret-42"
SECRETS = (TOKEN, TOKEN.replace(":", "%3A"), API_KEY, WRONG_KEY)
GROUP_A = Chat(id=-1005000000001, type="supergroup", title="A")
GROUP_B = Chat(id=-1005000000002, type="supergroup", title="B")
ALICE = User(id=81, first_name="Alice", language_code="en")
BOB = User(id=82, first_name="Bob", language_code="en")
OPERATOR = User(id=999, first_name="Op")

JSON = dict[str, Any]


def leaked(text: str, secrets: tuple[str, ...] = SECRETS) -> list[str]:
    return [secret for secret in secrets if secret in text]


async def busy_session(bot: RunningBot) -> None:
    """Everything a day in a busy group brings, including failures on both sides."""
    tg, ds = bot.tg, bot.ds
    tg.send_text(OPERATOR.private_chat(), OPERATOR, "/start")
    tg.set_member_status(GROUP_A.id, ALICE.id, "administrator")
    red = picture("red", seed=1)
    first = tg.send_photo(GROUP_A, ALICE, red, file_unique_id="sec-red", caption="red <kite>")
    tg.send_photo(GROUP_A, BOB, picture("red", seed=2))
    ds.fail_next(500, "InternalError", "Internal server error")
    tg.send_video(GROUP_A, BOB, video(seconds=1.0, fps=5, size=(160, 120)), thumbnail=picture("green", seed=3))
    await bot.settle(timeout=30)
    tg.inject_error("sendPhoto", 429, "Too Many Requests: retry after 1", retry_after=1)
    tg.send_photo(GROUP_A, BOB, red, file_unique_id="sec-red")  # a repost: an alert, once flood control allows
    tg.send_document(ALICE.private_chat(), ALICE, red[:200], mime_type="image/jpeg", file_name="broken.jpg")
    tg.inject_error("getUpdates", 502, "Bad Gateway")
    tg.send_text(GROUP_A, ALICE, "/search red")
    tg.send_text(GROUP_A, BOB, "/similar", reply_to=first)
    tg.send_text(GROUP_A, ALICE, "/stats")
    tg.send_text(GROUP_B, BOB, "/help")
    await bot.settle(timeout=30)
    await tg.wait_for(lambda: len(tg.sent_messages(GROUP_A.id)) >= 4, timeout=15)


def telegram_traffic(tg: FakeBotAPI) -> list[tuple[str, str]]:
    """(where, what) for each request the Bot API received: the path apart from everything else it carried."""
    traffic = []
    for request in tg.requests:
        payload = json.dumps(request.params, default=str) + str(request.headers)
        payload += "".join(f.data.decode("latin-1") for f in request.files.values())
        traffic.append((request.path, payload))
    return traffic


def check_dashscope_traffic(ds: FakeDashScope, key: str) -> None:
    """The key only as `Authorization: Bearer` to the embedding and policy endpoints; the token never."""
    assert ds.requests
    for request in ds.requests:
        everything = request.path + json.dumps(request.query) + str(request.headers) + request.body.decode("latin-1")
        assert leaked(everything, SECRETS[:2]) == []
        without_auth = {k: v for k, v in request.headers.items() if k != "authorization"}
        rest = request.path + json.dumps(request.query) + str(without_auth) + request.body.decode("latin-1")
        assert key not in rest
        if key in request.headers.get("authorization", ""):
            assert request.path in (EMBED_PATH, POLICY_PATH)
            assert request.headers["authorization"] == f"Bearer {key}"


def check_logs(records: list[logging.LogRecord]) -> None:
    """What operators read (the JSON formatter's output) has no secret; nor does anything the bot's own code logs,
    before redaction. Third-party records (httpx logs each URL, the token in it) rely on the formatter."""
    formatter = RedactingJsonFormatter(secrets=(TOKEN, API_KEY, WRONG_KEY))
    assert records
    for record in records:
        assert leaked(formatter.format(record)) == [], record.name
        if record.name.split(".")[0] in ("bot", "storage"):
            raw = record.getMessage() + json.dumps(vars(record), default=str)
            assert leaked(raw) == [], record.name


async def test_secrets_stay_with_their_owners_in_traffic_replies_and_logs(
    make_settings, fake_tg: FakeBotAPI, fake_ds: FakeDashScope, caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_bot(make_settings(), fake_tg, fake_ds) as bot:
        await busy_session(bot)
        assert fake_ds.uploads  # the video went through the temporary upload (OSS), a request of its own
    check_dashscope_traffic(fake_ds, API_KEY)
    fake_ds.reset()
    async with running_bot(make_settings(DASHSCOPE_API_KEY=WRONG_KEY), fake_tg, fake_ds) as bot:
        bot.tg.send_photo(GROUP_B, BOB, picture("blue", seed=4))
        await bot.tg.wait_for(lambda: any("InvalidApiKey" in texts([m]) for m in bot.tg.sent_messages(OPERATOR.id)))
    check_dashscope_traffic(fake_ds, WRONG_KEY)

    for path, payload in telegram_traffic(fake_tg):
        assert leaked(path, (API_KEY, WRONG_KEY)) == []
        assert leaked(payload) == []
    replies = texts(fake_tg.sent_messages())
    assert "Most similar" in replies and "damaged" in replies and "InvalidApiKey" in replies
    assert leaked(replies) == []
    check_logs(caplog.records)
    raw_messages = [r.getMessage() for r in caplog.records]
    assert any(TOKEN in m for m in raw_messages) and any(SECRETS[1] in m for m in raw_messages), (
        "httpx logs URLs with the token, plain and percent-quoted: check_logs really met both"
    )


async def test_results_never_cross_chats(bot: RunningBot) -> None:
    tg = bot.tg
    in_a = [tg.send_photo(GROUP_A, ALICE, picture("red", seed=n), file_unique_id=f"a-{n}") for n in range(3)]
    tg.send_photo(GROUP_B, BOB, picture("red", seed=10), file_unique_id="b-10")
    await bot.settle()
    copy = tg.send_photo(GROUP_B, BOB, picture("red", seed=0), file_unique_id="a-0")  # A's file, new to B
    tg.send_text(GROUP_B, BOB, "/search red")
    tg.send_text(GROUP_A, ALICE, "/search red")
    await bot.settle()
    await tg.wait_for(lambda: tg.sent_messages(GROUP_A.id) and tg.sent_messages(GROUP_B.id))
    await asyncio.sleep(0.3)
    a_files = {m["photo"][-1]["file_id"] for m in in_a}

    def shown(chat: Chat) -> set[str]:
        sent = tg.sent_messages(chat.id)
        return {str(m["params"].get("photo")) for m in sent} | {
            str(media["media"]) for m in sent for media in m["params"].get("media") or []
        }

    assert shown(GROUP_A) - {"None"} <= a_files and shown(GROUP_A) & a_files
    assert shown(GROUP_B).isdisjoint(a_files)
    answered_in_b = [(m["params"].get("reply_parameters") or {}).get("message_id")
                     for m in tg.sent_messages(GROUP_B.id)]
    assert copy["message_id"] not in answered_in_b  # no repost alert: the original is in another chat


async def test_demoted_admin_loses_stats_within_the_cache_period(
    make_settings, fake_tg: FakeBotAPI, fake_ds: FakeDashScope  # type: ignore[no-untyped-def]
) -> None:
    async with running_bot(make_settings(ADMIN_CACHE_SECONDS="1"), fake_tg, fake_ds) as bot:
        tg = bot.tg
        tg.set_member_status(GROUP_A.id, ALICE.id, "administrator")

        async def ask_stats() -> str:
            before = len(tg.sent_messages(GROUP_A.id))
            tg.send_text(GROUP_A, ALICE, "/stats")
            sent = await tg.wait_for(lambda: tg.sent_messages(GROUP_A.id)[before:])
            return texts(sent)

        assert "Stats for" in await ask_stats()
        tg.set_member_status(GROUP_A.id, ALICE.id, "member")
        await asyncio.sleep(1.1)
        assert "only the admins" in await ask_stats()
        assert len(tg.calls("getChatMember")) == 2  # asked again once the short cache expired
