"""The composition root: every long-lived part of a running bot, built once from Settings, stopped in reverse.

Nothing here imports Telegram: the gateway comes in from the adapter (bot.telegram.app), so the same services serve
long polling, tests with an in-memory gateway, and any later entry point (webhooks, an import command).

The backend is chosen here and nowhere else: SQLite (one process, chats' vectors searched in memory by
`IndexRegistry`) or, with `DATABASE_URL=postgresql://…`, PostgreSQL (several processes, vectors searched in the
database by `PgVectorIndex`); the core sees only its protocols.
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
from bot.core.ports import AlbumLedger, AlertLedger, ChatGateway, SharedPause
from bot.core.privacy import PrivacyService
from bot.core.reembed import Reembedder
from bot.core.report import ReportService
from bot.core.repost import AlertPacer
from bot.core.results import OperatorAlert
from bot.core.routes import FileSource, MediaRoutes
from bot.core.search import SearchFloors, SearchService
from bot.core.similar import SimilarService
from bot.core.spaces import CROSS_PROCESS_MEMORY_SECONDS, SPACE_MEMORY_SECONDS, ModelSpaces
from bot.core.texts import TextIngest, TextPolicy
from bot.core.worker import JobRunner
from bot.dashscope.client import DashScopeClient
from bot.dashscope.models import choice_for_space
from bot.dashscope.ratelimit import BACKGROUND_LANE, Lane, RateLimiter
from bot.search.index import IndexRegistry
from bot.search.protocol import VectorIndex
from storage.budget import SqliteWindow
from storage.db import Database
from storage.errors import StoreUnavailable
from storage.postgres.budget import PgWindow
from storage.postgres.coordination import PgAlbumLedger, PgAlertLedger, PgPause
from storage.postgres.db import PgDatabase
from storage.postgres.search import PgVectorIndex
from storage.postgres.store import PgStore
from storage.store import Store

log = logging.getLogger(__name__)

REEMBED_RESUME_SECONDS = 5.0
"""After the database went away, how long the re-embedder waits before it asks for its lock again."""

AnyStore = Store | PgStore


async def open_store(settings: Settings) -> AnyStore:
    """PostgreSQL when DATABASE_URL names one, else the SQLite file."""
    if settings.postgres_dsn is not None:
        return await PgStore.open(settings.postgres_dsn.reveal())
    return await Store.open(settings.database_path)


@dataclass(kw_only=True)
class Services:
    settings: Settings
    store: AnyStore
    client: DashScopeClient
    indexes: IndexRegistry | PgVectorIndex
    """The configured model's index: in memory (SQLite) or the database's own search (PostgreSQL)."""
    health: EmbeddingHealth
    delivery: Delivery
    ingest: IngestService
    texts: TextIngest
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
    spaces: ModelSpaces
    reembedder: Reembedder
    _sweeper: asyncio.Task[None] | None = field(default=None, repr=False)
    _reembedding: asyncio.Task[None] | None = field(default=None, repr=False)
    _following: asyncio.Task[None] | None = field(default=None, repr=False)
    _clients: list[DashScopeClient] = field(default_factory=list, repr=False)

    @classmethod
    async def start(cls, settings: Settings, gateway: ChatGateway, present: Presenter, *,
                    client: DashScopeClient | None = None) -> Services:
        store = await open_store(settings)
        shared = shared_state(store.db)
        client = client or dashscope_client(settings, request_budget(settings, store.db))
        delivery = Delivery(gateway, present, store.stats, Originals(store.items))
        health = EmbeddingHealth(CircuitBreaker(), _operator_alerter(settings, delivery), shared.pause)
        models = _Models(settings, store, client, gateway, health)
        indexes, spaces, reembedder = models.indexes, models.spaces, models.reembedder
        neighbours = Neighbours(store.items, spaces)
        pacer = AlertPacer(settings.group_alerts_per_minute, shared.alerts)
        albums = AlbumCollector(settings.album_debounce_seconds, delivery, pacer, store.items, shared.albums)
        alert_filter = AlertFilter(store.feedback)
        ingest = IngestService(
            items=store.items, jobs=store.jobs, chats=store.chats, stats=store.stats,
            neighbours=neighbours, health=health, delivery=delivery, pacer=pacer, albums=albums, spaces=spaces,
            policy=SimilarityPolicy(settings.repost_threshold, settings.similar_min_score),
            feedback=store.feedback, alert_filter=alert_filter,
        )
        texts = TextIngest(
            items=store.items, jobs=store.jobs, chats=store.chats, stats=store.stats, spaces=spaces,
            neighbours=neighbours, delivery=delivery, pacer=pacer, alert_filter=alert_filter,
            policy=TextPolicy(copy_threshold=settings.text_repost_threshold),
        )
        eraser = Eraser(store.items, store.chats, store.db)
        lifecycle = ChatLifecycle(store.chats, store.jobs, store.confirmations, eraser,
                                  retention_days=settings.retention_days,
                                  job_retention_days=settings.job_retention_days)
        policy = FailurePolicy(store.jobs, store.stats, lifecycle, health, delivery,
                               max_attempts=settings.job_max_attempts)
        runner = JobRunner(store.jobs, ingest, policy, health, workers=settings.workers, texts=texts,
                           text_lane=2 * client.spec.max_elements)
        ingest.on_enqueued = texts.on_enqueued = runner.wake
        asking = Asking(gateway, settings.command_deadline_seconds)
        pages = ResultPages(store.feedback)
        services = cls(
            settings=settings, store=store, client=client, indexes=indexes, health=health, delivery=delivery,
            ingest=ingest, texts=texts, lifecycle=lifecycle, runner=runner, albums=albums, spaces=spaces,
            reembedder=reembedder,
            _clients=models.clients, privacy=PrivacyService(store.items, store.confirmations, eraser),
            similar=SimilarService(store.items, spaces, neighbours, asking, pages,
                                   min_score=settings.similar_min_score),
            search=SearchService(spaces, neighbours, asking, SearchFloors(
                image=settings.search_min_score, caption=settings.search_caption_min_score), pages),
            pages=pages,
            report=ReportService(store.stats, store.jobs, neighbours, store.chats, reembedder,
                                 default_threshold=settings.repost_threshold),
            chat_settings=SettingsService(
                store.chats, store.feedback,
                Calibration(store.feedback, store.items, store.chats, default_threshold=settings.repost_threshold),
                store.items, default_threshold=settings.repost_threshold),
            presses=AlertPresses(store.items, store.feedback, store.chats),
        )
        await runner.start()
        services._sweeper = asyncio.create_task(lifecycle.sweep_forever(), name="retention-sweeper")
        if shared.pause is not None:
            services._following = asyncio.create_task(health.follow_forever(), name="shared-pause")
        if settings.reembedding:
            services._reembedding = asyncio.create_task(_reembed(store, reembedder), name="re-embedding")
        return services

    async def stop(self) -> None:
        """Finish in-flight work (bounded), flush pending album alerts; pending jobs stay queued in the database."""
        for task in (self._sweeper, self._reembedding, self._following):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.runner.stop(self.settings.shutdown_grace_seconds)
        await self.albums.drain()

    async def close(self) -> None:
        for sibling in self._clients:
            await sibling.aclose()
        await self.client.aclose()
        await self.store.close()


def dashscope_client(settings: Settings, limiter: RateLimiter, *, background: bool = False) -> DashScopeClient:
    return DashScopeClient(
        api_key=settings.dashscope_api_key.reveal(), base_url=settings.dashscope_base_url,
        model=settings.embedding.name, dimension=settings.embedding.dimension, limiter=limiter,
        timeout=settings.dashscope_timeout, background=background,
    )


def request_budget(settings: Settings, db: Database | PgDatabase, *,
                   background_lane: Lane = BACKGROUND_LANE) -> RateLimiter:
    """DASHSCOPE_RPM for the account: every process on the database (the bot, its replicas, an import) admits its
    requests through one record of recent starts kept there."""
    window = PgWindow(db) if isinstance(db, PgDatabase) else SqliteWindow(db)
    return RateLimiter(settings.dashscope_rpm, settings.dashscope_concurrency, window=window,
                       background_lane=background_lane)


@dataclass(frozen=True)
class SharedState:
    """What the processes on one PostgreSQL database share beyond the data (None: this process's memory, the truth
    in SQLite mode, where one process runs)."""

    alerts: AlertLedger | None = None
    albums: AlbumLedger | None = None
    pause: SharedPause | None = None


def shared_state(db: Database | PgDatabase) -> SharedState:
    if isinstance(db, PgDatabase):
        return SharedState(alerts=PgAlertLedger(db), albums=PgAlbumLedger(db), pause=PgPause(db))
    return SharedState()


def embedding_service(settings: Settings, store: AnyStore, client: DashScopeClient, source: FileSource,
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


class _Models:
    """The configured model's client, index and re-embedder, and those of the old models chats still use.

    Every client shares the configured one's account, connection pool and request budget; the re-embedder's client
    is a background one, so live traffic goes first.
    """

    def __init__(self, settings: Settings, store: AnyStore, client: DashScopeClient, gateway: ChatGateway,
                 health: EmbeddingHealth) -> None:
        self._settings, self._store, self._client = settings, store, client
        self._gateway, self._health = gateway, health
        self.clients: list[DashScopeClient] = []
        self.indexes = self._index(client.spec.space)
        shared = isinstance(store, PgStore)  # other processes may switch a chat's space
        self.spaces = ModelSpaces(client.spec.space, store.reembedding, embedding_for=self._embedding_for,
                                  index_for=self._index_for,
                                  memory_seconds=CROSS_PROCESS_MEMORY_SECONDS if shared else SPACE_MEMORY_SECONDS)
        store.items.add_listener(self.spaces)
        background = self._sibling(client.spec.space, background=True)
        self.reembedder = Reembedder(store=store.reembedding, embedding=self._embedding_on(background), health=health,
                                     budget_per_minute=settings.dashscope_rpm)

    def _embedding_on(self, client: DashScopeClient) -> EmbeddingService:
        return embedding_service(self._settings, self._store, client, self._gateway, self._health,
                                 download_limit=self._settings.download_limit_bytes)

    def _embedding_for(self, space: str) -> EmbeddingService:
        if space == self._client.spec.space:
            return self._embedding_on(self._client)
        return self._embedding_on(self._sibling(space, background=False))

    def _index_for(self, space: str) -> VectorIndex:
        return self.indexes if space == self.indexes.model else self._index(space)

    def _index(self, space: str) -> IndexRegistry | PgVectorIndex:
        """In memory with SQLite: each space's index has the whole INDEX_MEMORY_MB (while chats re-embed, the old and
        new ones together may hold up to twice that). With PostgreSQL the database searches, nothing is held here."""
        if isinstance(self._store, PgStore):
            return PgVectorIndex(self._store.db, space)
        return IndexRegistry(self._store.items, space, choice_for_space(space).dimension,
                             memory_budget_bytes=self._settings.index_memory_mb << 20)

    def _sibling(self, space: str, *, background: bool) -> DashScopeClient:
        choice = choice_for_space(space)
        self.clients.append(self._client.sibling(choice.name, choice.dimension, background=background))
        return self.clients[-1]


async def _reembed(store: AnyStore, reembedder: Reembedder) -> None:
    """With PostgreSQL several processes run, and only one of them re-embeds at a time (the others stand by). The
    lock that makes it the one is lost with the database's connection: after an outage it is taken again first."""
    while True:
        try:
            async with store.reembedding.sole_runner():
                await reembedder.run_forever()
        except StoreUnavailable as exc:
            log.warning("re-embedding waits for the database", extra={"error": str(exc)})
            await asyncio.sleep(REEMBED_RESUME_SECONDS)


def _operator_alerter(settings: Settings, delivery: Delivery) -> OperatorAlerter:
    async def alert(paused_code: str | None) -> None:
        for operator_id in sorted(settings.bot_admin_ids):
            await delivery.send_quietly(OperatorAlert(operator_id, paused_code))

    return alert
