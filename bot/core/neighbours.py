"""Nearest earlier media in one chat: for a new item, for `/similar`, and for `/search <text>`.

Only the chat's own index is consulted, so results can never cross chats. Each result is one message: an item found
by both its picture and its caption appears once, with its best score.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from bot.core.ports import ItemStore
from bot.core.results import Hit
from bot.observability import metrics
from bot.search.protocol import VectorIndex
from storage.models import FACET_CAPTION, FACET_MEDIA, FACET_TEXT, Item

MEDIA_ONLY = (FACET_MEDIA,)


class Neighbours:
    def __init__(self, items: ItemStore, index: VectorIndex) -> None:
        self._items = items
        self._index = index

    async def nearest(self, chat_id: int, vector: np.ndarray, *, k: int, min_score: float,
                      facets: Collection[int] = MEDIA_ONLY, exclude_item_ids: Collection[int] = (),
                      before_item_id: int | None = None) -> list[Hit]:
        """Top-k hits at or above `min_score`; `before_item_id` keeps only items stored earlier than that one."""
        # Ask for extra rows: the later-item filter below may discard some.
        with metrics.SEARCH_SECONDS.time():
            rows = await self._index.search(chat_id, vector, k + len(exclude_item_ids) + 8, facets=facets,
                                            exclude_item_ids=exclude_item_ids)
        wanted = [(item_id, score) for item_id, _facet, score in rows
                  if score >= min_score and (before_item_id is None or item_id < before_item_id)][:k]
        found = await self._items.get_many([item_id for item_id, _ in wanted])
        return [Hit(found[item_id], score) for item_id, score in wanted if item_id in found]

    async def by_text(self, chat_id: int, vector: np.ndarray, *, k: int, image_floor: float,
                      caption_floor: float) -> list[Hit]:
        """Text against pictures, and against captions and messages, each with its own floor: text-to-text cosines
        run much higher than text-to-image ones, so one floor would let any caption match any query. An item found
        both ways appears once, with its better score."""
        by_media = await self.nearest(chat_id, vector, k=k, min_score=image_floor, facets=MEDIA_ONLY)
        by_caption = await self.nearest(chat_id, vector, k=k, min_score=caption_floor,
                                        facets=(FACET_CAPTION, FACET_TEXT))
        best: dict[int, Hit] = {}
        for hit in by_media + by_caption:
            if hit.item.id not in best or hit.score > best[hit.item.id].score:
                best[hit.item.id] = hit
        return sorted(best.values(), key=lambda h: h.score, reverse=True)[:k]

    async def identical(self, item: Item) -> Hit | None:
        """The earliest post of the very same Telegram file in this chat (a byte-exact repost)."""
        earlier = await self._items.first_with_file(item.chat_id, item.file_unique_id,
                                                    exclude_message_id=item.message_id)
        if earlier is None or earlier.id >= item.id:
            return None
        return Hit(earlier, 1.0, identical=True)

    async def index_size(self, chat_id: int) -> int:
        return await self._index.count(chat_id)
