"""/similar: the most similar earlier media of the chat, for a media message the asker replied to."""

from __future__ import annotations

import numpy as np

from bot.core.asking import Asking
from bot.core.embedding import Payer
from bot.core.neighbours import Neighbours
from bot.core.pages import Question, ResultPages
from bot.core.ports import ItemStore
from bot.core.results import Audience, Decision, Hit
from bot.core.spaces import ModelSpaces
from bot.core.types import IncomingMedia


class SimilarService:
    def __init__(self, items: ItemStore, spaces: ModelSpaces, neighbours: Neighbours, asking: Asking,
                 pages: ResultPages, *, min_score: float) -> None:
        self._items = items
        self._pages = pages
        self._spaces = spaces
        self._neighbours = neighbours
        self._asking = asking
        self._min_score = min_score

    async def answer(self, to: Audience, target: IncomingMedia) -> Decision:
        return await self._asking.answer(to, "similar", lambda: self._find(to, target))

    async def _find(self, to: Audience, target: IncomingMedia) -> Decision:
        """An indexed item's vector comes from the cache (no API call); media the bot never saw is embedded now,
        within its poster's caps, as if it had been ingested."""
        item = await self._items.by_message(target.chat.id, target.message_id)
        embedding = await self._spaces.embedding(target.chat.id)
        vector = await embedding.cached(target.media)
        if vector is None:
            vector = (await embedding.media(target.media, None, Payer(target.chat.id, target.sender.id))).media
        exclude = (item.id,) if item is not None else ()
        chat_id = target.chat.id

        async def find(query_vector: np.ndarray, k: int) -> list[Hit]:
            return await self._neighbours.nearest(chat_id, query_vector, k=k, min_score=self._min_score,
                                                  exclude_item_ids=exclude)

        return await self._pages.first(to, Question(chat_id, vector, find))
