"""Ingesting one media item: accepted as a durable job, then embedded, stored and judged (repost? matches?).

`accept` runs in the update handler: the job row is written before any network call, so a crash loses nothing
Telegram was told we have. `run` runs in a queue worker: the item is stored before any reply is sent, and the reply's
progress is recorded on the job, so a crash at any point neither loses the item nor sends the same alert twice.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from bot.core.albums import AlbumCollector
from bot.core.delivery import Delivery
from bot.core.embedding import MediaVectors, Payer
from bot.core.feedback import AlertFilter
from bot.core.health import EmbeddingHealth
from bot.core.neighbours import Neighbours
from bot.core.originals import SPARE_HITS
from bot.core.ports import ChatStore, FeedbackStore, ItemStore, JobQueue, StatsStore
from bot.core.repost import AlertPacer, alerts_enabled_for, repost_threshold, repost_verdict
from bot.core.results import Audience, Decision, FirstSeen, Hit, Matches, QueuedWhilePaused, RepostFound
from bot.core.spaces import ModelSpaces
from bot.core.types import ChatRef, IncomingMedia
from bot.observability import metrics
from storage.items import ForgottenMessage
from storage.models import FACET_CAPTION, FACET_MEDIA, Item, Job, NewItem

log = logging.getLogger(__name__)

PRIVATE_MATCHES = 3
REPLY_SENDING = "sending"
REPLY_SENT = "sent"
REPLY_RETRY = "retry"
REPLY_GIVEN_UP = "undeliverable"


@dataclass(frozen=True)
class SimilarityPolicy:
    repost_threshold: float
    similar_min_score: float


def job_key(incoming: IncomingMedia) -> str:
    """The idempotency key: the same update seen twice (restart, retried webhook) maps to the same job.

    An edit is keyed by what it changed to, not only by its time: `edit_date` has whole seconds, and two quick
    edits within one second are different edits."""
    if incoming.edit_date is not None:
        state = f"{incoming.media.file.file_unique_id}\n{incoming.caption or ''}".encode()
        digest = hashlib.sha256(state).hexdigest()[:16]
        return f"edit:{incoming.chat.id}:{incoming.message_id}:{incoming.edit_date}:{digest}"
    return f"ingest:{incoming.chat.id}:{incoming.message_id}"


def audience(incoming: IncomingMedia) -> Audience:
    return Audience(incoming.chat, incoming.message_id, incoming.sender.language)


async def tell_if_paused(health: EmbeddingHealth, delivery: Delivery, incoming: IncomingMedia) -> None:
    """A person in a private chat whose new media waits for paused embedding is told so, once per pause and chat:
    when the media arrives, or when its job is the one that found the service down."""
    if incoming.chat.type == "private" and incoming.edit_date is None and health.first_notice(incoming.chat.id):
        await delivery.send_quietly(QueuedWhilePaused(audience(incoming)))


class IngestService:
    def __init__(self, *, items: ItemStore, jobs: JobQueue, chats: ChatStore, stats: StatsStore,
                 spaces: ModelSpaces, neighbours: Neighbours, health: EmbeddingHealth, delivery: Delivery,
                 policy: SimilarityPolicy, pacer: AlertPacer, albums: AlbumCollector, feedback: FeedbackStore,
                 alert_filter: AlertFilter) -> None:
        self._items = items
        self._jobs = jobs
        self._chats = chats
        self._stats = stats
        self._spaces = spaces
        self._neighbours = neighbours
        self._health = health
        self._delivery = delivery
        self._policy = policy
        self._pacer = pacer
        self._albums = albums
        self._feedback = feedback
        self._filter = alert_filter
        self.on_enqueued: Callable[[], None] = no_wake
        """Set by the worker pool: called when a job was stored, so that it starts now rather than at a poll."""

    async def accept(self, incoming: IncomingMedia) -> Job | None:
        """Store the job (None: this update was seen before). A person in a private chat whose media must wait for
        paused embedding is told so at once, once per pause."""
        kind = "edit" if incoming.edit_date is not None else "ingest"
        job = await self._jobs.enqueue(job_key(incoming), incoming.chat.id, kind, incoming.to_payload(),
                                       now=int(time.time()))
        if job is None:
            return None
        self.on_enqueued()
        await self._albums.expect(incoming)
        await tell_if_paused(self._health, self._delivery, incoming)
        return job

    async def run(self, job: Job) -> None:
        incoming = IncomingMedia.from_payload(job.payload)
        if not await self._chats.is_active(job.chat_id):
            log.info("chat inactive, job skipped", extra={"chat_id": job.chat_id, "job_id": job.id})
            return
        if await self._items.is_forgotten(incoming.chat.id, incoming.message_id):
            log.info("forgotten message not stored again", extra={"chat_id": job.chat_id, "job_id": job.id})
            return
        if job.kind == "edit":
            await self._apply_edit(incoming)
            return
        try:
            item, vector = await self._store_item(incoming)
        except ForgottenMessage:  # forgotten while it was being embedded
            return
        if job.reply_state is not None and job.reply_state != REPLY_RETRY:
            return  # a crash mid-send, or a reply already settled: better one missing alert than a duplicate
        decision = await self._decide(_rebased(incoming, job.chat_id), item, vector,
                                      first_time=job.reply_state is None)
        if decision is not None:
            await deliver_tracked(self._jobs, self._delivery, job, decision)

    async def _store_item(self, incoming: IncomingMedia) -> tuple[Item, np.ndarray]:
        """Embedded with the model the chat's index uses now, so the repost check compares like with like; an item
        stored on an old model is re-embedded with the chat's other items."""
        embedding = await self._spaces.embedding(incoming.chat.id)
        existing = await self._items.by_message(incoming.chat.id, incoming.message_id)
        if existing is not None:
            cached = await embedding.cached(incoming.media)
            if cached is not None:
                return existing, cached
        embedded = await embedding.media(incoming.media, incoming.caption, _payer(incoming))
        if existing is not None:
            return existing, embedded.media
        vectors = {FACET_MEDIA: embedded.media}
        if embedded.caption is not None:
            vectors[FACET_CAPTION] = embedded.caption
        item = await self._items.add(_new_item(incoming, embedded, embedding.model.space), vectors)
        metrics.ITEMS_STORED.labels(kind=item.kind, route=item.route).inc()
        log.info("item stored", extra={"chat_id": item.chat_id, "message_id": item.message_id, "kind": item.kind,
                                       "route": item.route, "from_cache": embedded.from_cache})
        return item, embedded.media

    async def _decide(self, incoming: IncomingMedia, item: Item, vector: np.ndarray, *,
                      first_time: bool) -> Decision | None:
        to = audience(incoming)
        if incoming.chat.type == "private":
            return await self._private_answer(to, item, vector)
        settings = await self._chats.settings(item.chat_id)
        if settings.language != "auto":
            to = replace(to, language=settings.language)  # group alerts speak the chat's language
        threshold = repost_threshold(settings, self._policy.repost_threshold)
        candidates = await self._candidates(item, vector)
        verdict = repost_verdict(candidates, threshold)
        if verdict is not None:
            reason = await self._filter.silenced(item, vector, verdict, settings, threshold)
            if reason is not None:
                log.info("repost not called out", extra={"chat_id": item.chat_id, "item_id": item.id,
                                                         "reason": reason})
                verdict = None
        if first_time:
            await self._record(item, candidates, called=verdict is not None)
        if incoming.is_channel_post or not alerts_enabled_for(item.kind, settings) or settings.alert_style == "off":
            return None  # channels get no replies; stickers/GIFs only where the chat wants them; some want none
        quiet = settings.alert_style == "reaction"
        if incoming.media_group_id:
            await self._albums.add(to, incoming.media_group_id, None if quiet else verdict)
            if not quiet:
                return None  # one text alert for the whole album; reactions go on each reposted item
        if verdict is None:
            return None
        if not await self._pacer.try_acquire(item.chat_id):
            return None
        spare = sorted((hit for hit in candidates if hit is not verdict and hit.score >= threshold),
                       key=lambda hit: -hit.score)
        return RepostFound(to, verdict, spare=spare[:SPARE_HITS], item_id=item.id,
                           style="reaction" if quiet else "reply")

    async def _candidates(self, item: Item, vector: np.ndarray) -> list[Hit]:
        """The closest earlier items whatever their score (the closest is recorded for threshold previews; the
        rest are spares in case the original is gone), and the same file."""
        hits = await self._neighbours.nearest(item.chat_id, vector, k=1 + SPARE_HITS, min_score=-1.0,
                                              exclude_item_ids=(item.id,), before_item_id=item.id)
        identical = await self._neighbours.identical(item)
        return [identical, *hits] if identical else hits

    async def _record(self, item: Item, candidates: list[Hit], *, called: bool) -> None:
        if called:
            await self._stats.add_repost(item.chat_id)
        best = max(candidates, key=lambda h: h.score, default=None)
        await self._feedback.record_nearest(item.chat_id, item.id, item.date,
                                            None if best is None else (best.item.id, best.score), called=called)

    async def _private_answer(self, to: Audience, item: Item, vector: np.ndarray) -> Decision:
        identical = await self._neighbours.identical(item)
        exclude = (item.id, identical.item.id) if identical else (item.id,)
        near = await self._neighbours.nearest(item.chat_id, vector, k=PRIVATE_MATCHES + SPARE_HITS,
                                              min_score=self._policy.similar_min_score,
                                              exclude_item_ids=exclude, before_item_id=item.id)
        hits = ([identical] if identical else []) + near
        if not hits:
            return FirstSeen(to)
        return Matches(to, hits[:PRIVATE_MATCHES], spare=hits[PRIVATE_MATCHES:])

    async def _apply_edit(self, incoming: IncomingMedia) -> None:
        """A replaced file is re-embedded; a changed caption gets a new caption vector (or loses it)."""
        item = await self._items.by_message(incoming.chat.id, incoming.message_id)
        if item is None:
            log.info("edit of an unknown message ignored", extra={"chat_id": incoming.chat.id})
            return
        if incoming.media.file.file_unique_id != item.file_unique_id:
            # The item's own model: its new vector replaces one of that space.
            embedded = await self._spaces.embedding_in(item.model).media(incoming.media, None, _payer(incoming))
            await self._items.replace_media(
                item.id, kind=incoming.media.kind, file_id=incoming.media.file.file_id,
                file_unique_id=incoming.media.file.file_unique_id, route=embedded.route, vector=embedded.media,
            )
        if (incoming.caption or None) != (item.caption or None):
            await self._update_caption(incoming, item)

    async def _update_caption(self, incoming: IncomingMedia, item: Item) -> None:
        if not incoming.caption:
            await self._items.set_caption(item.id, None, None)
            return
        vector, _spend = await self._spaces.embedding_in(item.model).text(incoming.caption, _payer(incoming))
        await self._items.set_caption(item.id, incoming.caption, vector)


async def deliver_tracked(jobs: JobQueue, delivery: Delivery, job: Job, decision: Decision) -> None:
    """Sent or given up, the job is done: a reply never holds the chat's queue. Only the chat's fate (removed,
    moved) propagates, and the reply may then be tried again where the chat went."""
    await jobs.set_reply_state(job.id, REPLY_SENDING)
    try:
        sent = await delivery.send(decision)
    except Exception:
        await jobs.set_reply_state(job.id, REPLY_RETRY)
        raise
    await jobs.set_reply_state(job.id, REPLY_SENT if sent else REPLY_GIVEN_UP)


def no_wake() -> None:
    """No worker pool to wake (tests, tools that only enqueue)."""


def _payer(incoming: IncomingMedia) -> Payer:
    return Payer(incoming.chat.id, incoming.sender.id)


def _rebased(incoming: IncomingMedia, chat_id: int) -> IncomingMedia:
    return replace(incoming, chat=answering_chat(incoming.chat, chat_id))


def answering_chat(chat: ChatRef, chat_id: int) -> ChatRef:
    """Where to answer: a job queued before a group→supergroup migration carries the old chat, whose id still
    addresses the stored message, while the reply must go to the new chat (the job row's id)."""
    return chat if chat.id == chat_id else replace(chat, id=chat_id, type="supergroup")


def _new_item(incoming: IncomingMedia, embedded: MediaVectors, model: str) -> NewItem:
    return NewItem(
        chat_id=incoming.chat.id, message_id=incoming.message_id, sender_id=incoming.sender.id,
        sender_name=incoming.sender.name, date=incoming.date, kind=incoming.media.kind,
        file_id=incoming.media.file.file_id, file_unique_id=incoming.media.file.file_unique_id,
        caption=incoming.caption, model=model, route=embedded.route, media_group_id=incoming.media_group_id,
    )
