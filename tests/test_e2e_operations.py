"""What an operator runs and watches: webhook mode (secret checked, an update answered only once its job is stored,
the same update twice is one item) and /metrics and /healthz on METRICS_LISTEN."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from telegram import Update

from bot.config import Settings
from bot.core.ingest import IngestService
from bot.core.types import IncomingMedia
from bot.telegram.app import build_application
from tests.conftest import RunningBot, running_bot
from tests.fakes.dashscope import FakeDashScope
from tests.fakes.telegram import Chat, FakeBotAPI, User
from tests.pictures import picture
from tests.support.ports import free_port
from tests.support.waiting import until_idle

GROUP = Chat(id=-1001777777777, type="supergroup", title="Ops")
ALICE = User(id=41, first_name="Alice")
SECRET = "s3cret-Token_1"


def sample(text: str, name: str, labels: str = "") -> float:
    """A metric's value in the Prometheus text format (0 when the series does not exist yet)."""
    match = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def test_metrics_count_what_happened_and_healthz_tells_the_truth(
        make_settings, fake_tg: FakeBotAPI, fake_ds: FakeDashScope, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    async with running_bot(make_settings(METRICS_LISTEN=f"127.0.0.1:{port}"), fake_tg, fake_ds) as bot, \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        before = (await http.get("/metrics")).text
        bot.tg.send_photo(GROUP, ALICE, picture("red", seed=1))
        await bot.settle()
        after = await http.get("/metrics")
        assert after.status_code == 200 and after.headers["content-type"].startswith("text/plain")
        stored = 'mediabot_items_stored_total{kind="photo",route="image"}'
        assert sample(after.text, stored) == sample(before, stored) + 1
        assert sample(after.text, "mediabot_api_requests_total") == sample(before, "mediabot_api_requests_total") + 1
        assert sample(after.text, 'mediabot_updates_received_total{type="message"}') > sample(
            before, 'mediabot_updates_received_total{type="message"}')
        assert sample(after.text, "mediabot_queue_depth") == 0
        assert "mediabot_search_seconds_bucket" in after.text
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/nothing")).status_code == 404
        assert (await http.post("/metrics")).status_code == 405

        async def unreachable() -> None:
            raise OSError("disk gone")

        monkeypatch.setattr(bot.services.store.db, "ping", unreachable)
        assert (await http.get("/healthz")).status_code == 503


@contextlib.asynccontextmanager
async def webhook_bot(settings: Settings, tg: FakeBotAPI, ds: FakeDashScope, port: int) -> AsyncIterator[RunningBot]:
    """The same hooks as `run_webhook` drives, in the same order, against the fake Bot API."""
    app = build_application(settings)
    await app.initialize()
    assert app.post_init is not None and app.updater is not None
    await app.post_init(app)
    await app.updater.start_webhook(listen="127.0.0.1", port=port, url_path="hook/abc",
                                    webhook_url=settings.webhook_url, secret_token=SECRET,
                                    allowed_updates=Update.ALL_TYPES)
    await app.start()
    try:
        yield RunningBot(app, tg, ds)
    finally:
        await app.updater.stop()
        await app.stop()
        assert app.post_stop is not None and app.post_shutdown is not None
        await app.post_stop(app)
        await app.shutdown()
        await app.post_shutdown(app)


async def test_webhook_checks_the_secret_and_answers_once_the_job_is_stored(
        make_settings, fake_tg: FakeBotAPI, fake_ds: FakeDashScope, monkeypatch: pytest.MonkeyPatch) -> None:
    accept = IngestService.accept

    async def slow_accept(self: IngestService, incoming: IncomingMedia) -> object:
        await asyncio.sleep(0.3)  # a busy disk: Telegram must not hear "200" before the job is stored
        return await accept(self, incoming)

    monkeypatch.setattr(IngestService, "accept", slow_accept)
    port = free_port()
    settings = make_settings(WEBHOOK_URL="https://bot.example.org/hook/abc", WEBHOOK_SECRET=SECRET)
    async with webhook_bot(settings, fake_tg, fake_ds, port) as bot, \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        (registered,) = bot.tg.calls("setWebhook")
        assert registered["url"] == "https://bot.example.org/hook/abc" and registered["secret_token"] == SECRET
        assert "callback_query" in registered["allowed_updates"]
        bot.tg.send_photo(GROUP, ALICE, picture("blue", seed=2))
        (update,) = bot.tg.pending_updates()
        body = json.dumps(update)
        headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
        wrong = {**headers, "X-Telegram-Bot-Api-Secret-Token": "guess"}
        refused = await http.post("/hook/abc", content=body, headers=wrong)
        assert refused.status_code == 403
        assert await bot.services.store.jobs.counts() == {"pending": 0, "running": 0, "done": 0, "failed": 0}
        accepted = await http.post("/hook/abc", content=body, headers=headers)
        assert accepted.status_code == 200
        counts = await bot.services.store.jobs.counts()
        assert sum(counts.values()) == 1  # stored before Telegram was told the update arrived
        again = await http.post("/hook/abc", content=body, headers=headers)  # Telegram retries, or a 2nd replica
        assert again.status_code == 200
        await asyncio.wait_for(until_idle(bot.services), 15)
        message_id = update["message"]["message_id"]
        assert await bot.services.store.items.by_message(GROUP.id, message_id) is not None
        assert sum((await bot.services.store.jobs.counts()).values()) == 1
