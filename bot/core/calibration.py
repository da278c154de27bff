"""What a repost threshold would do, before an admin commits to it, from the chat's own history.

Each item's closest earlier item was recorded when it was stored (storage.feedback), so counting the alerts a
threshold would have raised over the last 30 days is one range query, and no vector is compared or embedded again:
under a second for a chat of 100 k items (bench/calibration.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.core.ports import ChatStore, FeedbackStore, ItemStore
from bot.core.repost import repost_threshold
from bot.core.results import Audience, Borderline, ThresholdPreview

PREVIEW_DAYS = 30
BORDERLINE_PAIRS = 5
SECONDS_PER_DAY = 86400


class Calibration:
    def __init__(self, feedback: FeedbackStore, items: ItemStore, chats: ChatStore, *, default_threshold: float,
                 clock: Callable[[], float] = time.time) -> None:
        self._feedback = feedback
        self._items = items
        self._chats = chats
        self._default = default_threshold
        self._clock = clock

    async def preview(self, to: Audience, proposed: float) -> ThresholdPreview:
        chat_id = to.chat.id
        current = repost_threshold(await self._chats.settings(chat_id), self._default)
        since = int(self._clock()) - PREVIEW_DAYS * SECONDS_PER_DAY
        measured, would_alert, alerts_now = await self._feedback.nearest_counts(chat_id, since, (proposed, current))
        records = await self._feedback.closest_to(chat_id, since, proposed, BORDERLINE_PAIRS)
        items = await self._items.get_many([i for r in records for i in (r.item_id, r.neighbour_id)])
        borderline = [Borderline(items[r.item_id], items[r.neighbour_id], r.score) for r in records
                      if r.item_id in items and r.neighbour_id in items]
        return ThresholdPreview(to, proposed=proposed, current=current, days=PREVIEW_DAYS, would_alert=would_alert,
                                alerts_now=alerts_now, measured=measured, borderline=borderline)
