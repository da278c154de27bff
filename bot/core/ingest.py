"""The job: embed one incoming media item, store it, and decide whether (and what) to reply.

Runs inside a queue worker. The item is stored before any reply is sent, and the reply's progress is recorded on the
job, so a crash at any point neither loses the item nor sends the same alert twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from bot.core.albums import AlbumCollector
from bot.core.caps import SpendCaps
from bot.core.ports import ChatGateway, Undeliverable
from bot.core.repost import AlertPacer, alerts_enabled_for, repost_threshold, repost_verdict
from bot.core.routes import Embedded, MediaEmbedder
from bot.core.search import SearchService
from bot.core.types import IncomingMedia, Outgoing
from bot.replies import format as fmt
from bot.replies.i18n import Lang, language_of, t
from storage.models import FACET_CAPTION, FACET_MEDIA, Item, Job, NewItem
from storage.store import Store

log = logging.getLogger(__name__)

PRIVATE_MATCHES = 3
REPLY_SENDING = "sending"
REPLY_SENT = "sent"
REPLY_RETRY = "retry"
REPLY_UNDELIVERABLE = "undeliverable"


@dataclass(frozen=True)
class SimilarityPolicy:
    repost_threshold: float
    similar_min_score: float


class IngestService:
    def __init__(self, store: Store, embedder: MediaEmbedder, search: SearchService, gateway: ChatGateway,
                 caps: SpendCaps, policy: SimilarityPolicy, pacer: AlertPacer, albums: AlbumCollector) -> None:
        self._store = store
        self._embedder = embedder
        self._search = search
        self._gateway = gateway
        self._caps = caps
        self._policy = policy
        self._pacer = pacer
        self._albums = albums

    async def run(self, job: Job) -> None:
        incoming = IncomingMedia.from_payload(job.payload)
        if not await self._store.chats.is_active(job.chat_id):
            log.info("chat inactive, job skipped", extra={"chat_id": job.chat_id, "job_id": job.id})
            return
        if job.kind == "edit":
            await self._apply_edit(incoming)
            return
        item, vector = await self._store_item(incoming)
        if job.reply_state in (REPLY_SENDING, REPLY_SENT, REPLY_UNDELIVERABLE):
            return  # a crash mid-send: better one missing alert than a duplicate
        reply = await self._decide(_rebased(incoming, job.chat_id), item, vector, first_time=job.reply_state is None)
        if reply is not None:
            await self._send_tracked(job, reply)

    async def _store_item(self, incoming: IncomingMedia) -> tuple[Item, np.ndarray]:
        existing = await self._store.items.by_message(incoming.chat.id, incoming.message_id)
        if existing is not None:
            embedded = await self._embedder.embed(incoming.media, None)  # served from the cache
            return existing, embedded.media_vector
        embedded = await self._embed_within_caps(incoming)
        vectors = {FACET_MEDIA: embedded.media_vector}
        if embedded.caption_vector is not None:
            vectors[FACET_CAPTION] = embedded.caption_vector
        item = await self._store.items.add(_new_item(incoming, embedded, self._embedder.model), vectors)
        log.info("item stored", extra={"chat_id": item.chat_id, "message_id": item.message_id, "kind": item.kind,
                                       "route": item.route, "from_cache": embedded.from_cache})
        return item, embedded.media_vector

    async def _embed_within_caps(self, incoming: IncomingMedia) -> Embedded:
        cached = await self._store.cache.get(incoming.media.file.file_unique_id, self._embedder.model)
        if cached is None or incoming.caption:
            await self._caps.check(incoming.chat.id, incoming.sender.id)
        embedded = await self._embedder.embed(incoming.media, incoming.caption)
        await self._record_usage(incoming, embedded)
        return embedded

    async def _record_usage(self, incoming: IncomingMedia, embedded: Embedded) -> None:
        await self._caps.record(incoming.chat.id, incoming.sender.id, embedded.usage, embedded.requests)

    async def _decide(self, incoming: IncomingMedia, item: Item, vector: np.ndarray, *,
                      first_time: bool) -> Outgoing | None:
        lang = language_of(incoming.sender.language)
        if incoming.chat.type == "private":
            return await self._private_answer(incoming, item, vector, lang)
        settings = await self._store.chats.settings(item.chat_id)
        threshold = repost_threshold(settings, self._policy.repost_threshold)
        verdict = repost_verdict(await self._candidates(item, vector, threshold), threshold)
        if verdict is not None and first_time:
            await self._store.stats.add_repost(item.chat_id)
        if incoming.is_channel_post or not alerts_enabled_for(item.kind, settings):
            return None  # channels get no replies; stickers/GIFs only where the chat wants them
        if incoming.media_group_id:
            self._albums.add(incoming.chat, incoming.media_group_id, incoming.message_id, verdict, lang)
            return None
        if verdict is None:
            return None
        if not self._pacer.try_acquire(item.chat_id):
            log.info("repost alert dropped by pacing", extra={"chat_id": item.chat_id})
            return None
        return fmt.repost_alert(incoming.chat, incoming.message_id, verdict, lang)

    async def _candidates(self, item: Item, vector: np.ndarray, min_score: float) -> list[fmt.Hit]:
        hits = await self._search.nearest(item.chat_id, vector, k=1, min_score=min_score,
                                          exclude_item_ids=(item.id,), before_item_id=item.id)
        identical = await self._search.identical(item)
        return [identical, *hits] if identical else hits

    async def _private_answer(self, incoming: IncomingMedia, item: Item, vector: np.ndarray,
                              lang: Lang) -> Outgoing:
        identical = await self._search.identical(item)
        exclude = (item.id, identical.item.id) if identical else (item.id,)
        near = await self._search.nearest(item.chat_id, vector, k=PRIVATE_MATCHES,
                                          min_score=self._policy.similar_min_score,
                                          exclude_item_ids=exclude, before_item_id=item.id)
        hits = ([identical] if identical else []) + near
        if not hits:
            return fmt.text_reply(item.chat_id, incoming.message_id, t("first_seen", lang))
        return fmt.matches_reply(incoming.chat, incoming.message_id, hits[:PRIVATE_MATCHES],
                                 t("matches_header", lang), lang)

    async def _send_tracked(self, job: Job, reply: Outgoing) -> None:
        await self._store.jobs.set_reply_state(job.id, REPLY_SENDING)
        try:
            await self._gateway.send(reply)
        except Undeliverable as exc:
            # The item is stored; this one reply cannot be sent. Retrying would fail the same way.
            log.warning("reply refused by Telegram", extra={"job_id": job.id, "chat_id": reply.chat_id,
                                                              "error": str(exc)})
            await self._store.jobs.set_reply_state(job.id, REPLY_UNDELIVERABLE)
            return
        except Exception:
            await self._store.jobs.set_reply_state(job.id, REPLY_RETRY)
            raise
        await self._store.jobs.set_reply_state(job.id, REPLY_SENT)

    async def _apply_edit(self, incoming: IncomingMedia) -> None:
        """A replaced file is re-embedded; a changed caption gets a new caption vector (or loses it)."""
        item = await self._store.items.by_message(incoming.chat.id, incoming.message_id)
        if item is None:
            log.info("edit of an unknown message ignored", extra={"chat_id": incoming.chat.id})
            return
        if incoming.media.file.file_unique_id != item.file_unique_id:
            await self._caps.check(incoming.chat.id, incoming.sender.id)
            embedded = await self._embedder.embed(incoming.media, None)
            await self._record_usage(incoming, embedded)
            await self._store.items.replace_media(
                item.id, kind=incoming.media.kind, file_id=incoming.media.file.file_id,
                file_unique_id=incoming.media.file.file_unique_id, route=embedded.route,
                vector=embedded.media_vector,
            )
        if (incoming.caption or None) != (item.caption or None):
            await self._update_caption(incoming, item)

    async def _update_caption(self, incoming: IncomingMedia, item: Item) -> None:
        if not incoming.caption:
            await self._store.items.set_caption(item.id, None, None)
            return
        await self._caps.check(incoming.chat.id, incoming.sender.id)
        vector, usage, requests = await self._embedder.embed_caption(incoming.caption)
        await self._caps.record(incoming.chat.id, incoming.sender.id, usage, requests)
        await self._store.items.set_caption(item.id, incoming.caption, vector)


def _rebased(incoming: IncomingMedia, chat_id: int) -> IncomingMedia:
    """Where to answer: a job queued before a group→supergroup migration carries the old chat, whose id still
    addresses the stored message, while the reply must go to the new chat (the job row's id)."""
    if incoming.chat.id == chat_id:
        return incoming
    return replace(incoming, chat=replace(incoming.chat, id=chat_id, type="supergroup"))


def _new_item(incoming: IncomingMedia, embedded: Embedded, model: str) -> NewItem:
    return NewItem(
        chat_id=incoming.chat.id, message_id=incoming.message_id, sender_id=incoming.sender.id,
        sender_name=incoming.sender.name, date=incoming.date, kind=incoming.media.kind,
        file_id=incoming.media.file.file_id, file_unique_id=incoming.media.file.file_unique_id,
        caption=incoming.caption, model=model, route=embedded.route, media_group_id=incoming.media_group_id,
    )
