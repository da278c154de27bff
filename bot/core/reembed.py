"""Re-embedding without downtime: a chat's items are embedded again with the configured model, in the background.

One chat at a time, oldest items first, each through the same `EmbeddingService` as live traffic (cache, daily caps,
spend) but on a background client that only takes request budget live traffic leaves. New vectors are staged; when
the chat has none left to do, it switches at once and its old vectors are deleted (`storage.reembedding`). What is
staged survives a restart, so a restart repeats no finished item. Files are fetched again by their Telegram file id;
an item whose file is gone (or that the model refuses) is kept on its old vectors and counted. Imported items have
no Telegram file: the bot does not know their export folder, so they are kept here at once and `import-history`,
run again on their export, stages their new vectors (`bot.core.importer`); the next pass here switches them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from bot.core.embedding import EmbeddingService, Payer, Spend
from bot.core.health import EmbeddingHealth
from bot.core.ports import ReembedStore
from bot.core.results import ReembedProgress
from bot.core.types import FileRef, MediaKind, MediaRef
from bot.errors import Disposition, Failure
from storage.models import TEXT_KIND, Item

log = logging.getLogger(__name__)

BATCH = 16
TOKENS_PER_ITEM_GUESS = 1000
"""Before anything is measured: one image (896 tokens on the provider's usage pages) and a short caption."""
MAX_ATTEMPTS_UNKNOWN = 5
"""An unexpected error (a bug) is tried this often, then the item is kept on its old vectors rather than looping."""
IMPORTED_REASON = "imported: no Telegram file; run import-history on its export again to re-embed it"


@dataclass(frozen=True)
class ReembedTimings:
    idle_seconds: float = 60.0
    """How often to look again for items left on an old model (e.g. posted on it while their chat switched)."""
    retry_seconds: float = 5.0
    """First wait after a retryable failure; doubles up to `max_retry_seconds`."""
    max_retry_seconds: float = 300.0
    over_cap_seconds: float = 600.0
    """Today's cap for the chat is spent: look again later (caps reset at UTC midnight)."""


class _Budget:
    """Items one run may still re-embed (None: no limit)."""

    def __init__(self, items: int | None) -> None:
        self._left = items

    def take(self) -> bool:
        if self._left is None:
            return True
        if self._left == 0:
            return False
        self._left -= 1
        return True


class _Rates:
    """Measured seconds and tokens per item, for the estimates; the request budget bounds the time before that."""

    def __init__(self, seconds_per_item_floor: float) -> None:
        self._floor = seconds_per_item_floor
        self._items = 0
        self._seconds = 0.0
        self._tokens = 0

    def add(self, seconds: float, tokens: int) -> None:
        self._items += 1
        self._seconds += seconds
        self._tokens += tokens

    @property
    def seconds_per_item(self) -> float:
        return max(self._floor, self._seconds / self._items) if self._items else self._floor

    @property
    def tokens_per_item(self) -> float:
        return self._tokens / self._items if self._items else TOKENS_PER_ITEM_GUESS


class Reembedder:
    def __init__(self, *, store: ReembedStore, embedding: EmbeddingService, health: EmbeddingHealth,
                 budget_per_minute: int, timings: ReembedTimings = ReembedTimings(),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._embedding = embedding
        self._health = health
        self._timings = timings
        self._clock = clock
        self._rates = _Rates(60.0 / budget_per_minute)
        self._cache_pruned = False
        self.requests = 0.0
        """API requests this process spent re-embedding (logged at each switch; the bench compares it with live)."""

    @property
    def target(self) -> str:
        return self._embedding.model.space

    async def run_forever(self) -> None:
        """The background task: void work for an earlier target, log the estimate, then keep every chat current."""
        await self._store.forget_other_targets(self.target)
        await self._log_estimate()
        while True:
            if not await self.run_once():
                await asyncio.sleep(self._timings.idle_seconds)

    async def run_once(self, max_items: int | None = None) -> bool:
        """Re-embed and switch every chat that needs it, one after another; False when none did.

        With `max_items`, stop after that many items (a chat left unfinished keeps its old vectors)."""
        chats = [chat for chat in await self._store.backlog(self.target) if chat.remaining or chat.staged]
        budget = _Budget(max_items)
        for chat in chats:
            if not await self._chat(chat.chat_id, budget):
                break
        if not chats and not self._cache_pruned:
            await self._store.forget_other_models_cache(self.target)
            self._cache_pruned = True
        return bool(chats)

    async def progress(self, chat_id: int) -> ReembedProgress | None:
        """None when the chat has nothing on another model."""
        found = await self._store.backlog(self.target, chat_id)
        if not found:
            return None
        backlog = found[0]
        return ReembedProgress(self.target, backlog, seconds_left=backlog.remaining * self._rates.seconds_per_item,
                               tokens_left=round(backlog.remaining * self._rates.tokens_per_item))

    async def _log_estimate(self) -> None:
        backlog = await self._store.backlog(self.target)
        items = sum(chat.remaining for chat in backlog)
        if not items:
            return
        log.warning(
            "re-embedding %d items in %d chats for %s: about %d requests and %d tokens", items, len(backlog),
            self.target, items, round(items * self._rates.tokens_per_item),
            extra={"model": self.target, "items": items, "chats": len(backlog), "estimated_requests": items,
                   "estimated_tokens": round(items * self._rates.tokens_per_item),
                   "estimated_hours": round(items * self._rates.seconds_per_item / 3600, 2)},
        )

    async def _chat(self, chat_id: int, budget: _Budget) -> bool:
        """Every item of the chat, then its switch; False when the budget ran out first."""
        while items := await self._store.next_items(chat_id, self.target, BATCH):
            for item in items:
                if not budget.take():
                    return False
                await self._item(item)
        switched = await self._store.switch(chat_id, self.target)
        left = await self._store.backlog(self.target, chat_id)
        log.warning("chat switched to %s", self.target, extra={
            "chat_id": chat_id, "model": self.target, "items_switched": switched,
            "items_kept_on_old_model": left[0].kept if left else 0, "requests_spent_so_far": self.requests})
        return True

    async def _item(self, item: Item) -> None:
        if item.kind != TEXT_KIND and not item.file_id:  # imported: nothing to fetch from Telegram
            await self._store.keep(item, self.target, IMPORTED_REASON)
            return
        attempt = 0
        while True:
            if not self._health.breaker.allow():  # paused: wait, unless this call may be the probe that resumes
                await asyncio.sleep(self._timings.retry_seconds)
                continue
            started = self._clock()
            try:
                own, caption, spend = await self._embedded(item)
            except Exception as exc:
                wait = self._after_failure(item, exc, attempt)
                if wait is None:
                    await self._store.keep(item, self.target, str(exc)[:300])
                    return
                await asyncio.sleep(wait)
                attempt += 1
                continue
            await self._store.stage(item, self.target, own, caption)
            self.requests += spend.requests
            self._rates.add(self._clock() - started, spend.usage.tokens)
            return

    async def _embedded(self, item: Item) -> tuple[np.ndarray, np.ndarray | None, Spend]:
        """The item's own vector (its media's, or a text message's text's) and its caption's, in the new model."""
        payer = Payer(item.chat_id, None)
        if item.kind == TEXT_KIND:
            vector, spend = await self._embedding.text(item.caption or "", payer)
            return vector, None, spend
        embedded = await self._embedding.media(stored_media(item, item.file_id), item.caption, payer)
        return embedded.media, embedded.caption, embedded.spend

    def _after_failure(self, item: Item, exc: Exception, attempt: int) -> float | None:
        """Seconds to wait before trying the item again, or None: keep it on its old vectors."""
        disposition = exc.disposition if isinstance(exc, Failure) else None
        log.info("re-embedding an item failed", extra={
            "chat_id": item.chat_id, "item_id": item.id, "error_class": type(exc).__name__,
            "disposition": disposition, "attempt": attempt + 1})
        if disposition in _KEEP:
            return None
        if disposition is Disposition.RETRY_SERVICE:
            self._health.service_failed()  # an outage is noticed (and paused for) without live traffic too
        if disposition is Disposition.OVER_CAP:
            return self._timings.over_cap_seconds
        if disposition is None and attempt + 1 >= MAX_ATTEMPTS_UNKNOWN:
            log.exception("re-embedding gives up on an item", extra={"item_id": item.id}, exc_info=exc)
            return None
        return min(self._timings.max_retry_seconds, self._timings.retry_seconds * 2.0**attempt)


_KEEP = frozenset({Disposition.FAIL_ITEM, Disposition.CHAT_GONE})
"""About the item itself (file gone, unsupported, refused): retrying cannot help."""


def stored_media(item: Item, file_id: str) -> MediaRef:
    """What the stored item says of its file: enough to fetch it again by `file_id` (a Telegram file id, or an
    imported item's path in its export) and route it by its bytes."""
    kind: MediaKind = item.kind  # type: ignore[assignment]
    sticker_format: Literal["static"] | None = "static" if item.kind == "sticker" and item.route == "image" else None
    return MediaRef(kind, FileRef(file_id, item.file_unique_id), sticker_format=sticker_format)
