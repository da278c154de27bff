"""Each use case of the core, fast: the in-memory gateway, an in-process embedding client, a temporary database.

No HTTP and no Telegram: these show what the core decides; the end-to-end suites show the same through the wire.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from bot.config import Secret, Settings
from bot.core.caps import OverCap
from bot.core.embedding import Payer
from bot.core.erasing import Eraser
from bot.core.lifecycle import ChatLifecycle
from bot.core.ports import ChatGone, OriginalGone, TransientTelegramError, Undeliverable
from bot.core.privacy import CONFIRMATION_SECONDS
from bot.core.results import (
    Audience,
    CommandFailed,
    ConfirmationAsked,
    FirstSeen,
    Hit,
    ItemFailed,
    Matches,
    NoMatches,
    RepostFound,
    SettingsView,
    ThresholdPreview,
)
from bot.core.types import ChatRef, FileRef, IncomingMedia, MediaRef, Sender
from bot.dashscope.errors import AuthError
from bot.replies.render import render
from bot.wiring import Services
from tests.pictures import picture
from tests.support.embedder import FakeEmbeddingClient
from tests.support.gateway import MemoryGateway
from tests.support.waiting import until_idle

GROUP = ChatRef(-1001234567890, "supergroup", title="G")
PRIVATE = ChatRef(42, "private")
ALICE = Sender(42, "Alice", "en")
BOB = Sender(43, "Bob", "en")


@dataclass
class Core:
    services: Services
    gateway: MemoryGateway
    client: FakeEmbeddingClient

    def post(self, chat: ChatRef, message_id: int, file_id: str, sender: Sender = ALICE, *,
             caption: str | None = None, unique_id: str | None = None) -> IncomingMedia:
        return IncomingMedia(chat=chat, message_id=message_id, sender=sender, date=int(time.time()),
                             media=MediaRef("photo", FileRef(file_id, unique_id or f"u-{file_id}")), caption=caption)

    async def ingest(self, *posts: IncomingMedia) -> None:
        for incoming in posts:
            await self.services.ingest.accept(incoming)
        await asyncio.wait_for(until_idle(self.services), 10)


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[Core]:
    gateway = MemoryGateway(files={f"f{n}": picture("red", seed=n) for n in range(5)}
                            | {"blue": picture("blue", seed=9)})
    client = FakeEmbeddingClient()
    settings = Settings(telegram_bot_token=Secret("1:x"), dashscope_api_key=Secret("k"),
                        database_path=tmp_path / "bot.db", command_deadline_seconds=0.5, daily_chat_request_cap=3)
    services = await Services.start(settings, gateway, render, client=client)  # type: ignore[arg-type]
    try:
        yield Core(services, gateway, client)
    finally:
        await services.stop()
        await services.store.close()


async def test_ingest_stores_once_and_calls_out_the_same_file(core: Core) -> None:
    await core.ingest(core.post(GROUP, 1, "f1"), core.post(GROUP, 2, "f1", BOB, unique_id="u-f1"))
    assert core.client.calls == 1  # the second post of the file came from the cache
    assert await core.services.store.items.by_message(GROUP.id, 2) is not None
    (alert,) = core.gateway.sent
    assert alert.reply_to == 2 and "identical" in (alert.text_html or "")


async def test_private_chat_first_seen_then_matches(core: Core) -> None:
    await core.ingest(core.post(PRIVATE, 1, "f1"))
    await core.ingest(core.post(PRIVATE, 2, "f2", unique_id="u-f1"))
    first, second = core.gateway.sent
    assert render(FirstSeen(Audience(PRIVATE, 1, "en"))) == first
    assert second.reply_to == 2 and second.media


async def test_similar_finds_the_earlier_post_without_an_api_call(core: Core) -> None:
    await core.ingest(core.post(GROUP, 1, "f1"), core.post(GROUP, 2, "f2", unique_id="u-f1"))
    calls = core.client.calls
    to = Audience(GROUP, 3, "en")
    decision = await core.services.similar.answer(to, core.post(GROUP, 2, "f2", unique_id="u-f1"))
    assert isinstance(decision, Matches) and [h.item.message_id for h in decision.hits] == [1]
    assert core.client.calls == calls
    assert core.gateway.typing == [GROUP.id]


async def test_search_within_the_deadline_or_a_fitting_reason(core: Core) -> None:
    to = Audience(GROUP, 5, "en")
    assert isinstance(await core.services.search.answer(to, "red", ALICE.id), NoMatches)
    core.client.delay = 5.0
    started = time.monotonic()
    slow = await core.services.search.answer(to, "blue", ALICE.id)
    assert slow == CommandFailed(to, "slow", "search") and time.monotonic() - started < 2
    core.client.delay = 0.0
    core.client.errors.append(AuthError("Invalid API-key provided.", status=401, code="InvalidApiKey"))
    assert await core.services.search.answer(to, "blue", ALICE.id) == CommandFailed(to, "account", "search")
    assert core.services.health.account_paused


async def test_over_the_daily_cap_is_an_item_failure_for_a_command(core: Core) -> None:
    to = Audience(GROUP, 5, "en")
    for word in ("a", "b", "c"):
        await core.services.search.answer(to, word, ALICE.id)
    decision = await core.services.search.answer(to, "d", ALICE.id)
    assert isinstance(decision, ItemFailed) and isinstance(decision.failure, OverCap)


async def test_a_probe_served_from_the_cache_does_not_close_the_pause(core: Core) -> None:
    await core.ingest(core.post(GROUP, 1, "f1"))
    health = core.services.health
    await health.account_failed("Arrearage")
    embedding = core.services.spaces.embedding_in(core.services.spaces.active)
    vectors = await embedding.media(core.post(GROUP, 2, "f1").media, None, Payer(GROUP.id, 1))
    assert vectors.from_cache and not vectors.spend.called_api
    assert health.paused  # the cache proves nothing about DashScope
    await embedding.text("hello", Payer(GROUP.id, 1))
    assert not health.paused  # a real call that succeeded does


async def test_a_failing_reply_is_retried_briefly_then_given_up_and_counted(core: Core) -> None:
    core.gateway.failures += [TransientTelegramError("flood", retry_after=0.01), Undeliverable("Not Found")]
    await core.ingest(core.post(GROUP, 1, "f1"), core.post(GROUP, 2, "f1", BOB, unique_id="u-f1"))
    assert core.gateway.sent == []
    stats = await core.services.store.stats.chat_stats(GROUP.id)
    assert stats.replies_failed == 1
    assert (await core.services.store.jobs.counts(GROUP.id))["done"] == 2


async def test_a_chat_that_is_gone_on_send_is_marked_removed(core: Core) -> None:
    core.gateway.failures.append(ChatGone("bot was kicked"))
    await core.ingest(core.post(GROUP, 1, "f1"), core.post(GROUP, 2, "f1", BOB, unique_id="u-f1"))
    assert not await core.services.store.chats.is_active(GROUP.id)


async def test_settings_show_change_and_refuse_nonsense(core: Core) -> None:
    to = Audience(GROUP, 1, "en")
    preview = await core.services.chat_settings.apply(to, ["threshold", "93"])
    assert isinstance(preview, ThresholdPreview) and preview.proposed == pytest.approx(0.93)
    assert (await core.services.store.chats.settings(GROUP.id)).repost_threshold is None  # a preview applies nothing
    changed = await core.services.chat_settings.press(to, 7, "threshold", "93")
    assert isinstance(changed, SettingsView) and changed.settings.repost_threshold == pytest.approx(0.93)
    assert changed.changed == ("repost_threshold",) and changed.edit == 7
    assert (await core.services.chat_settings.apply(to, ["threshold", "7"])) == SettingsView(
        to, changed.settings, 0.95, problem="threshold_range")
    assert (await core.services.chat_settings.apply(to, ["leeway", "9999"])) == SettingsView(
        to, changed.settings, 0.95, problem="leeway_range")
    assert (await core.services.chat_settings.apply(to, ["colour", "red"])) == SettingsView(
        to, changed.settings, 0.95, problem="unknown")


async def test_report_counts_what_was_stored(core: Core) -> None:
    await core.ingest(core.post(GROUP, 1, "f1"), core.post(GROUP, 2, "f1", BOB, unique_id="u-f1"))
    report = await core.services.report.chat(Audience(GROUP, 3, "en"), "G")
    (chat,) = report.chats
    assert chat.stats.items_by_kind == {"photo": 2} and chat.stats.reposts_called == 1 and chat.index_size == 2


async def test_lifecycle_removes_restores_moves_and_purges(core: Core) -> None:
    lifecycle, store = core.services.lifecycle, core.services.store
    basic = ChatRef(-77, "group")
    await core.ingest(core.post(basic, 1, "f1"))
    await lifecycle.migrated(basic.id, GROUP.id)
    assert (await store.items.by_message(basic.id, 1)).chat_id == GROUP.id  # type: ignore[union-attr]
    await lifecycle.removed(GROUP.id)
    assert not await store.chats.is_active(GROUP.id)
    await lifecycle.added(GROUP.id)
    assert await store.chats.is_active(GROUP.id)
    assert await lifecycle.purge_expired() == []


async def test_repost_decision_points_at_the_earliest_post(core: Core) -> None:
    await core.ingest(core.post(GROUP, 1, "f1"), core.post(GROUP, 2, "f3"), core.post(GROUP, 3, "f1", BOB,
                                                                                       unique_id="u-f1"))
    item = await core.services.store.items.by_message(GROUP.id, 1)
    repost = await core.services.store.items.by_message(GROUP.id, 3)
    assert item is not None and repost is not None
    expected = render(RepostFound(Audience(GROUP, 3, "en"), Hit(item, 1.0, identical=True), item_id=repost.id))
    assert core.gateway.sent == [expected]


def test_vectors_of_the_fake_client_are_unit_length() -> None:
    from tests.support.embedder import unit_vector_for

    assert np.linalg.norm(unit_vector_for(b"x", 1024)) == pytest.approx(1.0, abs=1e-5)


async def test_the_daily_sweep_prunes_finished_jobs_after_their_retention(core: Core) -> None:
    await core.ingest(core.post(GROUP, 1, "f1"))
    store = core.services.store
    eraser = Eraser(store.items, store.chats, store.db)
    now = ChatLifecycle(store.chats, store.jobs, store.confirmations, eraser, retention_days=30,
                        job_retention_days=7)
    assert await now.prune_jobs() == 0  # finished just now: kept for JOB_RETENTION_DAYS
    later = ChatLifecycle(store.chats, store.jobs, store.confirmations, eraser, retention_days=30,
                          job_retention_days=7, clock=lambda: time.time() + 8 * 86400)
    assert await later.prune_jobs() == 1
    assert sum((await store.jobs.counts()).values()) == 0


async def test_similar_shows_the_next_best_when_an_original_is_gone(core: Core) -> None:
    await core.ingest(core.post(GROUP, 1, "f1"), core.post(GROUP, 2, "f2", unique_id="u-f1"),
                      core.post(GROUP, 3, "f3", unique_id="u-f1"))
    core.gateway.sent.clear()
    to = Audience(GROUP, 9, "en")
    decision = await core.services.similar.answer(to, core.post(GROUP, 3, "f3", unique_id="u-f1"))
    # f2 is the same file as f1: one result with a copy, the copy standing by in case f1 is gone
    assert isinstance(decision, Matches) and [(h.item.file_id, h.copies) for h in decision.hits] == [("f1", 1)]
    assert [h.item.file_id for h in decision.spare] == ["f2"]
    core.gateway.failures.append(OriginalGone("wrong file identifier", ["f1"]))
    assert await core.services.delivery.send(decision)
    (answer,) = core.gateway.sent
    assert [m.file_id for m in answer.media] == ["f2"]
    again = await core.services.similar.answer(to, core.post(GROUP, 3, "f3", unique_id="u-f1"))
    assert isinstance(again, Matches) and [h.item.file_id for h in again.hits] == ["f2"]  # never tried again
    assert (await core.services.store.stats.chat_stats(GROUP.id)).originals_gone == 1


async def test_a_confirmation_expires_and_is_pressed_once(core: Core, monkeypatch: pytest.MonkeyPatch) -> None:
    await core.ingest(core.post(GROUP, 1, "f1"))
    to = Audience(GROUP, 5, "en")
    privacy = core.services.privacy
    alice = 42
    asked = await privacy.ask_forget_me(to, alice)
    assert isinstance(asked, ConfirmationAsked) and asked.count == 1
    admins = NoAdmins()
    assert (await privacy.press(Audience(PRIVATE, None, "en"), alice, asked.confirmation_id, True, admins)
            ).verdict == "expired"  # a press from another chat
    later = time.time() + CONFIRMATION_SECONDS + 1
    monkeypatch.setattr(time, "time", lambda: later)
    assert (await privacy.press(to, alice, asked.confirmation_id, True, admins)).verdict == "expired"
    assert await core.services.store.items.by_message(GROUP.id, 1) is not None


class NoAdmins:
    async def is_chat_admin(self, chat_id: int, user_id: int) -> bool:
        return False


async def test_a_chats_model_space_is_looked_up_once_until_the_chat_is_reset(core: Core,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    store = core.services.store
    lookups: list[int] = []
    chat_model = store.reembedding.chat_model

    async def counted(chat_id: int, active: str) -> str:
        lookups.append(chat_id)
        return await chat_model(chat_id, active)

    monkeypatch.setattr(store.reembedding, "chat_model", counted)
    spaces = core.services.spaces
    assert await spaces.of(GROUP.id) == await spaces.of(GROUP.id) == spaces.active
    assert lookups == [GROUP.id]  # remembered: the count by tag grows with the chat
    await core.services.lifecycle.migrated(GROUP.id, GROUP.id - 1)  # a bulk change commits a ChatsReset
    await spaces.of(GROUP.id)
    assert lookups == [GROUP.id, GROUP.id]
