"""The composition root: every long-lived part of a running bot, built once from Settings, stopped in reverse.

Nothing here imports Telegram: the gateway comes in from the adapter (bot.telegram.app), so the same services serve
long polling, tests with an in-memory gateway, and any later entry point (webhooks, an import command).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from dataclasses import dataclass, field

from bot.config import Settings
from bot.core.albums import AlbumCollector
from bot.core.asking import Asking
from bot.core.breaker import CircuitBreaker
from bot.core.calibration import Calibration
from bot.core.caps import SpendCaps
from bot.core.chat_settings import SettingsService
from bot.core.delivery import Delivery, Presenter
from bot.core.embedding import EmbeddingService
from bot.core.erasing import Eraser
from bot.core.failures import FailurePolicy
from bot.core.feedback import AlertFilter, AlertPresses
from bot.core.health import EmbeddingHealth, OperatorAlerter
from bot.core.ingest import IngestService, SimilarityPolicy
from bot.core.lifecycle import ChatLifecycle
from bot.core.neighbours import Neighbours
from bot.core.originals import Originals
from bot.core.pages import ResultPages
from bot.core.ports import ChatGateway
from bot.core.privacy import PrivacyService
from bot.core.report import ReportService
from bot.core.repost import AlertPacer
from bot.core.results import OperatorAlert
from bot.core.routes import FileSource, MediaRoutes
from bot.core.search import SearchFloors, SearchService
from bot.core.similar import SimilarService
from bot.core.worker import JobRunner
from bot.dashscope.client import DashScopeClient
from bot.search.index import IndexRegistry
from storage.store import Store

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class Services:
    settings: Settings
    store: Store
    client: DashScopeClient
    indexes: IndexRegistry
    health: EmbeddingHealth
    delivery: Delivery
    ingest: IngestService
    similar: SimilarService
    search: SearchService
    report: ReportService
    chat_settings: SettingsService
    presses: AlertPresses
    pages: ResultPages
    lifecycle: ChatLifecycle
    privacy: PrivacyService
    runner: JobRunner
    albums: AlbumCollector
    _sweeper: asyncio.Task[None] | None = field(default=None, repr=False)

    @classmethod
    async def start(cls, settings: Settings, gateway: ChatGateway, present: Presenter, *,
                    client: DashScopeClient | None = None) -> Services:
        store = await Store.open(settings.database_path)
        client = client or dashscope_client(settings, settings.dashscope_rpm)
        delivery = Delivery(gateway, present, store.stats, Originals(store.items))
        health = EmbeddingHealth(CircuitBreaker(), _operator_alerter(settings, delivery))
        indexes = IndexRegistry(store.items, client.spec.name, client.spec.dimension,
                                memory_budget_bytes=settings.index_memory_mb << 20)
        neighbours = Neighbours(store.items, indexes)
        embedding = embedding_service(settings, store, client, gateway, health,
                                      download_limit=settings.download_limit_bytes)
        pacer = AlertPacer(settings.group_alerts_per_minute)
        albums = AlbumCollector(settings.album_debounce_seconds, delivery, pacer)
        ingest = IngestService(
            items=store.items, jobs=store.jobs, chats=store.chats, stats=store.stats, embedding=embedding,
            neighbours=neighbours, health=health, delivery=delivery, pacer=pacer, albums=albums,
            policy=SimilarityPolicy(settings.repost_threshold, settings.similar_min_score),
            feedback=store.feedback, alert_filter=AlertFilter(store.feedback),
        )
        eraser = Eraser(store.items, store.chats, store.db)
        lifecycle = ChatLifecycle(store.chats, store.jobs, store.confirmations, eraser,
                                  retention_days=settings.retention_days,
                                  job_retention_days=settings.job_retention_days)
        policy = FailurePolicy(store.jobs, store.stats, lifecycle, health, delivery,
                               max_attempts=settings.job_max_attempts)
        runner = JobRunner(store.jobs, ingest, policy, health, workers=settings.workers)
        ingest.on_enqueued = runner.wake
        asking = Asking(gateway, settings.command_deadline_seconds)
        pages = ResultPages(store.feedback)
        services = cls(
            settings=settings, store=store, client=client, indexes=indexes, health=health, delivery=delivery,
            ingest=ingest, lifecycle=lifecycle, runner=runner, albums=albums,
            privacy=PrivacyService(store.items, store.confirmations, eraser),
            similar=SimilarService(store.items, embedding, neighbours, asking, pages,
                                   min_score=settings.similar_min_score),
            search=SearchService(embedding, neighbours, asking, SearchFloors(
                image=settings.search_min_score, caption=settings.search_caption_min_score), pages),
            pages=pages,
            report=ReportService(store.stats, store.jobs, neighbours, store.chats,
                                 default_threshold=settings.repost_threshold),
            chat_settings=SettingsService(
                store.chats, store.feedback,
                Calibration(store.feedback, store.items, store.chats, default_threshold=settings.repost_threshold),
                default_threshold=settings.repost_threshold),
            presses=AlertPresses(store.items, store.feedback, store.chats),
        )
        await runner.start()
        services._sweeper = asyncio.create_task(lifecycle.sweep_forever(), name="retention-sweeper")
        return services

    async def stop(self) -> None:
        """Finish in-flight work (bounded), flush pending album alerts; pending jobs stay queued in the database."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.runner.stop(self.settings.shutdown_grace_seconds)
        await self.albums.drain()

    async def close(self) -> None:
        await self.client.aclose()
        await self.store.close()


def dashscope_client(settings: Settings, requests_per_minute: int) -> DashScopeClient:
    return DashScopeClient(
        api_key=settings.dashscope_api_key.reveal(), base_url=settings.dashscope_base_url,
        model=settings.embedding_model, requests_per_minute=requests_per_minute,
        max_concurrency=settings.dashscope_concurrency, timeout=settings.dashscope_timeout,
    )


def embedding_service(settings: Settings, store: Store, client: DashScopeClient, source: FileSource,
                      health: EmbeddingHealth, *, download_limit: int | None,
                      caps_lifted: bool = False) -> EmbeddingService:
    """The one embedding path, over Telegram's files (the bot, within the Bot API's download limit) or an export
    folder's (import-history: no limit, a large video is clipped locally); an import may lift the daily caps for
    its run, and still records what it spent."""
    per_chat, per_user = settings.daily_chat_request_cap, settings.daily_user_request_cap
    if caps_lifted:
        per_chat = per_user = sys.maxsize
    caps = SpendCaps(store.stats, per_chat=per_chat, per_user=per_user)
    return EmbeddingService(client, MediaRoutes(client, source, download_limit), store.cache, caps, health)


def _operator_alerter(settings: Settings, delivery: Delivery) -> OperatorAlerter:
    async def alert(paused_code: str | None) -> None:
        for operator_id in sorted(settings.bot_admin_ids):
            await delivery.send_quietly(OperatorAlert(operator_id, paused_code))

    return alert
