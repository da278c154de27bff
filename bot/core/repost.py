"""Where the repost threshold is applied, and how often a group may be alerted.

A repost is the same Telegram file (`file_unique_id`) or a media vector at or above the chat's threshold. Stickers
and GIFs repeat by nature, so each chat decides whether they are called out (stickers are not, by default).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence

from bot.bounded import ExpiringMap
from bot.core.ports import AlertLedger
from bot.core.results import Hit
from bot.observability import metrics
from storage.models import ChatSettings

log = logging.getLogger(__name__)

PACER_WINDOW_SECONDS = 60.0
PACER_MAX_CHATS = 10_000


def repost_threshold(settings: ChatSettings, default: float) -> float:
    return settings.repost_threshold if settings.repost_threshold is not None else default


def alerts_enabled_for(kind: str, settings: ChatSettings) -> bool:
    if kind == "sticker":
        return settings.alert_stickers
    if kind == "animation":
        return settings.alert_animations
    return True


def repost_verdict(hits: Sequence[Hit], threshold: float) -> Hit | None:
    """The earlier post this one repeats, if any: an identical file wins over the closest vector."""
    identical = [h for h in hits if h.identical]
    if identical:
        return min(identical, key=lambda h: h.item.date)
    best = max(hits, key=lambda h: h.score, default=None)
    return best if best is not None and best.score >= threshold else None


class MemoryAlertLedger:
    """The alerts of the last minute per chat, in this process: the truth where one process sends every alert
    (SQLite mode). A chat's window is forgotten a minute after its last alert, when it is empty anyway, and at most
    `max_chats` windows are held (when more chats alerted within one minute, the window nearest to emptying goes
    first)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_chats: int = PACER_MAX_CHATS) -> None:
        self._clock = clock
        self._sent: ExpiringMap[int, deque[float]] = ExpiringMap(PACER_WINDOW_SECONDS, max_chats, clock)

    async def record_if_room(self, chat_id: int, per_minute: int) -> bool:
        return self.admit(chat_id, per_minute)

    def admit(self, chat_id: int, per_minute: int) -> bool:
        now = self._clock()
        window = self._sent.get(chat_id)
        if window is None:
            window = deque()
        while window and now - window[0] >= PACER_WINDOW_SECONDS:
            window.popleft()
        if len(window) >= per_minute:
            return False
        window.append(now)
        self._sent.put(chat_id, window)
        return True


class AlertPacer:
    """A sliding one-minute window per chat: Telegram allows about 20 messages a minute in a group, and an alert
    storm is worse than a missed alert, so alerts over the budget are dropped (they are still counted in /stats).

    The windows are the ledger's: this process's memory, or the database's when several processes alert the same
    groups (storage.postgres.coordination.PgAlertLedger), so the budget is the group's, not each process's."""

    def __init__(self, per_minute: int, ledger: AlertLedger | None = None) -> None:
        self._per_minute = per_minute
        self._ledger: AlertLedger = ledger if ledger is not None else MemoryAlertLedger()

    async def try_acquire(self, chat_id: int) -> bool:
        if await self._ledger.record_if_room(chat_id, self._per_minute):
            return True
        metrics.ALERTS_DROPPED.inc()
        log.info("alert dropped by pacing", extra={"chat_id": chat_id})
        return False
