"""Text messages of chats whose admins turned text indexing on: accepted as durable jobs, embedded many per request,
stored as ordinary items (kind `text`), and called out as copypasta when someone repeats another person's message.

A text item has no Telegram file: `file_id` is empty (like an imported item: it can be linked to, not sent) and its
`file_unique_id` is `text:<chat>:<message>`, which no Telegram file id can equal. Its vector is its text facet:
/search meets it with the text-to-text floor (as captions), media reposts (media facet only) never do.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from bot.core.delivery import Delivery
from bot.core.embedding import Payer
from bot.core.feedback import AlertFilter
from bot.core.importer import IMPORTED_FILE_ID
from bot.core.ingest import answering_chat, deliver_tracked, no_wake
from bot.core.neighbours import Neighbours
from bot.core.ports import ChatStore, ItemStore, JobQueue, StatsStore
from bot.core.repost import AlertPacer
from bot.core.results import AlertStyle, Audience, Hit, RepostFound
from bot.core.spaces import ModelSpaces
from bot.core.types import ChatRef, Sender
from bot.observability import metrics
from storage.items import ForgottenMessage
from storage.jobs import TEXT_EDIT_JOB, TEXT_JOB
from storage.models import FACET_TEXT, TEXT_KIND, Item, Job, NewItem

log = logging.getLogger(__name__)

TEXT_ROUTE = "text"
TEXT_FILE_ID = IMPORTED_FILE_ID
MIN_WORDS = 4
"""Shorter messages ("ok", "lol same") say nothing worth finding again and would repeat by nature."""
CJK_CHARS_PER_WORD = 2
"""Chinese and Japanese have no spaces: two characters count as a word, so the minimum is 8 characters."""
TEXT_BATCH_WAIT = 2.0
"""How long a message may wait for others to share its request: a quiet chat is indexed within this delay."""
COPY_CANDIDATES = 5

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


@dataclass(frozen=True)
class IncomingText:
    """A chat's text message (or its edit), as the durable job holds it."""

    chat: ChatRef
    message_id: int
    sender: Sender
    date: int
    text: str
    edit_date: int | None = None

    def to_payload(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_payload(cls, data: dict[str, object]) -> IncomingText:
        return cls(chat=ChatRef(**data["chat"]), message_id=int(data["message_id"]),  # type: ignore[arg-type,call-overload]
                   sender=Sender(**data["sender"]), date=int(data["date"]),  # type: ignore[arg-type,call-overload]
                   text=str(data["text"]), edit_date=data.get("edit_date"))  # type: ignore[arg-type]


def word_count(text: str) -> float:
    """Words separated by spaces, and CJK characters at `CJK_CHARS_PER_WORD` a word."""
    cjk = len(_CJK.findall(text))
    return len(_CJK.sub(" ", text).split()) + cjk / CJK_CHARS_PER_WORD


def worth_indexing(text: str) -> bool:
    return word_count(text) >= MIN_WORDS


def text_file_key(chat_id: int, message_id: int) -> str:
    return f"text:{chat_id}:{message_id}"


def text_job_key(incoming: IncomingText) -> str:
    """Idempotent per update; an edit is keyed by what it changed to (two edits may share one second)."""
    if incoming.edit_date is None:
        return f"text:{incoming.chat.id}:{incoming.message_id}"
    digest = hashlib.sha256(incoming.text.encode()).hexdigest()[:16]
    return f"text-edit:{incoming.chat.id}:{incoming.message_id}:{incoming.edit_date}:{digest}"


def copied_original(hits: Sequence[Hit], sender_id: int | None) -> Hit | None:
    """The earliest matching message, unless it is the sender's own: repeating yourself is not copypasta."""
    original = min(hits, key=lambda hit: hit.item.id, default=None)
    if original is None or (sender_id is not None and original.item.sender_id == sender_id):
        return None
    return original


@dataclass(frozen=True)
class TextPolicy:
    copy_threshold: float
    """Text-to-text cosine from which a message is the same as an earlier one (TEXT_REPOST_THRESHOLD)."""


class TextIngest:
    def __init__(self, *, items: ItemStore, jobs: JobQueue, chats: ChatStore, stats: StatsStore,
                 spaces: ModelSpaces, neighbours: Neighbours, delivery: Delivery, pacer: AlertPacer,
                 alert_filter: AlertFilter, policy: TextPolicy) -> None:
        self._items = items
        self._jobs = jobs
        self._chats = chats
        self._stats = stats
        self._spaces = spaces
        self._neighbours = neighbours
        self._delivery = delivery
        self._pacer = pacer
        self._filter = alert_filter
        self._policy = policy
        self.on_enqueued: Callable[[], None] = no_wake

    async def accept(self, incoming: IncomingText) -> Job | None:
        """A job for a message worth indexing in a chat that opted in; None: skipped (short, off) or seen before.
        The setting is read here, so turning it off stops indexing from the next message on."""
        if not worth_indexing(incoming.text) or not (await self._chats.settings(incoming.chat.id)).text_indexing:
            return None
        kind = TEXT_EDIT_JOB if incoming.edit_date is not None else TEXT_JOB
        job = await self._jobs.enqueue(text_job_key(incoming), incoming.chat.id, kind, incoming.to_payload(),
                                       now=int(time.time()))
        if job is not None:
            self.on_enqueued()
        return job

    async def run(self, job: Job) -> None:
        incoming = IncomingText.from_payload(job.payload)
        chat_id = job.chat_id
        if not await self._chats.is_active(chat_id) or not (await self._chats.settings(chat_id)).text_indexing:
            log.info("text job skipped: chat inactive or text indexing off", extra={"chat_id": chat_id,
                                                                                   "job_id": job.id})
            return
        if await self._items.is_forgotten(incoming.chat.id, incoming.message_id):
            log.info("forgotten message not stored again", extra={"chat_id": chat_id, "job_id": job.id})
            return
        existing = await self._items.by_message(incoming.chat.id, incoming.message_id)
        if job.kind == TEXT_EDIT_JOB and existing is not None:
            vector, _space = await self._vector(incoming, existing.model)  # comparable with the item's other vectors
            await self._items.set_text(existing.id, incoming.text, vector)
            return
        if existing is not None:
            return  # a replayed job whose item is stored: better one missing alert than a duplicate
        vector, space = await self._vector(incoming, await self._spaces.of(chat_id))
        try:
            item = await self._items.add(_new_item(incoming, space), {FACET_TEXT: vector})
        except ForgottenMessage:  # forgotten while it was being embedded
            return
        metrics.ITEMS_STORED.labels(kind=TEXT_KIND, route=TEXT_ROUTE).inc()
        log.info("text stored", extra={"chat_id": item.chat_id, "message_id": item.message_id})
        if job.kind == TEXT_JOB and incoming.chat.is_group:
            await self._call_out_copy(job, incoming, item, vector)

    async def _vector(self, incoming: IncomingText, space: str) -> tuple[np.ndarray, str]:
        """The text's vector in that space (the chat's current one for a new message), and the space's tag."""
        embedding = self._spaces.embedding_in(space)
        vector, _spend = await embedding.text(incoming.text, Payer(incoming.chat.id, incoming.sender.id),
                                              wait=TEXT_BATCH_WAIT)
        return vector, embedding.model.space

    async def _call_out_copy(self, job: Job, incoming: IncomingText, item: Item, vector: np.ndarray) -> None:
        """Like a media repost: the chat's alert style and language, its dismissed pairs and ignore list, pacing."""
        hits = await self._neighbours.nearest(item.chat_id, vector, k=COPY_CANDIDATES,
                                              min_score=self._policy.copy_threshold, facets=(FACET_TEXT,),
                                              exclude_item_ids=(item.id,), before_item_id=item.id)
        original = copied_original(hits, incoming.sender.id)
        if original is None:
            return
        settings = await self._chats.settings(item.chat_id)
        reason = await self._filter.silenced(item, vector, original, settings, self._policy.copy_threshold)
        if reason is not None:
            log.info("copypasta not called out", extra={"chat_id": item.chat_id, "item_id": item.id,
                                                        "reason": reason})
            return
        await self._stats.add_repost(item.chat_id)
        if settings.alert_style == "off":
            return
        if not await self._pacer.try_acquire(item.chat_id):
            return
        language = incoming.sender.language if settings.language == "auto" else settings.language
        to = Audience(answering_chat(incoming.chat, job.chat_id), incoming.message_id, language)
        style: AlertStyle = "reaction" if settings.alert_style == "reaction" else "reply"
        await deliver_tracked(self._jobs, self._delivery, job, RepostFound(to, original, item_id=item.id, style=style))


def _new_item(incoming: IncomingText, model: str) -> NewItem:
    return NewItem(
        chat_id=incoming.chat.id, message_id=incoming.message_id, sender_id=incoming.sender.id,
        sender_name=incoming.sender.name, date=incoming.date, kind=TEXT_KIND, file_id=TEXT_FILE_ID,
        file_unique_id=text_file_key(incoming.chat.id, incoming.message_id), caption=incoming.text, model=model,
        route=TEXT_ROUTE,
    )
