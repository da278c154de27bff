"""The long-lived parts of a running bot, built once at start-up from Settings and shut down in reverse order.

Nothing here imports Telegram: the gateway is passed in, so the same services serve long polling, tests and a
future webhook or import path.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from dataclasses import dataclass

from bot.config import Settings
from bot.core.albums import AlbumCollector
from bot.core.breaker import CircuitBreaker
from bot.core.caps import SpendCaps
from bot.core.ingest import IngestService, SimilarityPolicy
from bot.core.ports import ChatGateway, GatewayError
from bot.core.repost import AlertPacer
from bot.core.routes import MediaEmbedder
from bot.core.search import SearchService
from bot.core.types import IncomingMedia, Outgoing
from bot.core.worker import JobRunner
from bot.dashscope.client import DashScopeClient
from bot.search.index import IndexRegistry
from storage.models import Job
from storage.store import Store

log = logging.getLogger(__name__)

RETENTION_SWEEP_SECONDS = 3600.0


def job_key(incoming: IncomingMedia) -> str:
    """The idempotency key: the same update seen twice (restart, retried webhook) maps to the same job.

    An edit is keyed by what it changed to, not only by its time: `edit_date` has whole seconds, and two quick
    edits within one second are different edits."""
    if incoming.edit_date is not None:
        state = f"{incoming.media.file.file_unique_id}\n{incoming.caption or ''}".encode()
        digest = hashlib.sha256(state).hexdigest()[:16]
        return f"edit:{incoming.chat.id}:{incoming.message_id}:{incoming.edit_date}:{digest}"
    return f"ingest:{incoming.chat.id}:{incoming.message_id}"


@dataclass
class Services:
    settings: Settings
    store: Store
    client: DashScopeClient
    indexes: IndexRegistry
    embedder: MediaEmbedder
    search: SearchService
    ingest: IngestService
    runner: JobRunner
    caps: SpendCaps
    albums: AlbumCollector
    gateway: ChatGateway
    _sweeper: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, settings: Settings, gateway: ChatGateway, *, client: DashScopeClient | None = None) -> (
            Services):
        store = await Store.open(settings.database_path)
        client = client or DashScopeClient(
            api_key=settings.dashscope_api_key.reveal(), base_url=settings.dashscope_base_url,
            model=settings.embedding_model, requests_per_minute=settings.dashscope_rpm,
            max_concurrency=settings.dashscope_concurrency, timeout=settings.dashscope_timeout,
        )
        indexes = IndexRegistry(store.items, client.spec.name, client.spec.dimension)
        embedder = MediaEmbedder(client, store.cache, gateway, settings.download_limit_bytes)
        search = SearchService(store.items, indexes)
        caps = SpendCaps(store.stats, per_chat=settings.daily_chat_request_cap,
                         per_user=settings.daily_user_request_cap)
        pacer = AlertPacer(settings.group_alerts_per_minute)
        policy = SimilarityPolicy(settings.repost_threshold, settings.similar_min_score)
        albums = AlbumCollector(settings.album_debounce_seconds, gateway.send, pacer)
        ingest = IngestService(store, embedder, search, gateway, caps, policy, pacer, albums)
        services = cls(settings, store, client, indexes, embedder, search, ingest,
                       JobRunner(store, ingest, gateway, CircuitBreaker(), workers=settings.workers,
                                 max_attempts=settings.job_max_attempts,
                                 notify_operators=lambda text: services.notify_operators(text),
                                 api_requests=lambda: client.requests_sent),
                       caps, albums, gateway)
        await services.runner.start()
        services._sweeper = asyncio.create_task(services._retention_loop(), name="retention-sweeper")
        return services

    async def enqueue(self, incoming: IncomingMedia) -> Job | None:
        job = await self.store.jobs.enqueue(job_key(incoming), incoming.chat.id,
                                            "edit" if incoming.edit_date is not None else "ingest",
                                            incoming.to_payload(), now=int(time.time()))
        if job is not None:
            self.runner.wake()
        return job

    async def notify_operators(self, text_html: str) -> None:
        for admin_id in sorted(self.settings.bot_admin_ids):
            try:
                await self.gateway.send(Outgoing(chat_id=admin_id, text_html=text_html))
            except GatewayError as exc:
                log.warning("could not notify operator", extra={"operator_id": admin_id, "error": str(exc)})

    async def purge_expired_chats(self) -> list[int]:
        cutoff = int(time.time()) - self.settings.retention_days * 86400
        expired = await self.store.chats.expired(cutoff)
        for chat_id in expired:
            await self.store.items.purge_chat(chat_id)
            log.info("chat data purged after retention period", extra={"chat_id": chat_id})
        return expired

    async def _retention_loop(self) -> None:
        while True:
            try:
                await self.purge_expired_chats()
            except Exception:
                log.exception("retention sweep failed")
            await asyncio.sleep(RETENTION_SWEEP_SECONDS)

    async def stop(self) -> None:
        """Finish in-flight work (bounded), flush pending album alerts; pending jobs stay queued in SQLite."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.runner.stop(self.settings.shutdown_grace_seconds)
        await self.albums.drain()

    async def close(self) -> None:
        await self.client.aclose()
        await self.store.close()
