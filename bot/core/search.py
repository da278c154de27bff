"""/search <words>: the chat's pictures and videos that match a description, by content or by caption."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bot.core.asking import Asking
from bot.core.embedding import Payer
from bot.core.neighbours import Neighbours
from bot.core.pages import Question, ResultPages, split_kind_prefix
from bot.core.results import Audience, Decision, Hit
from bot.core.spaces import ModelSpaces

MAX_QUERY_CHARS = 1000


@dataclass(frozen=True)
class SearchFloors:
    image: float
    """Text-to-picture cosines run low: a separate, lower floor."""
    caption: float
    """Text-to-text cosines run high: a separate, higher floor."""


class SearchService:
    def __init__(self, spaces: ModelSpaces, neighbours: Neighbours, asking: Asking,
                 floors: SearchFloors, pages: ResultPages) -> None:
        self._spaces = spaces
        self._neighbours = neighbours
        self._asking = asking
        self._floors = floors
        self._pages = pages

    async def answer(self, to: Audience, query: str, asker_id: int | None) -> Decision:
        return await self._asking.answer(to, "search", lambda: self._find(to, query, asker_id))

    async def _find(self, to: Audience, query: str, asker_id: int | None) -> Decision:
        """`photo:`, `video:` and `gif:` narrow the kinds; the words after the prefix are what is embedded, with
        the model whose vectors the chat's index holds."""
        kinds, words = split_kind_prefix(query)
        embedding = await self._spaces.embedding(to.chat.id)
        vector, _spend = await embedding.text(words[:MAX_QUERY_CHARS], Payer(to.chat.id, asker_id))
        chat_id = to.chat.id

        async def find(query_vector: np.ndarray, k: int) -> list[Hit]:
            return await self._neighbours.by_text(chat_id, query_vector, k=k, image_floor=self._floors.image,
                                                  caption_floor=self._floors.caption)

        return await self._pages.first(to, Question(chat_id, vector, find, kinds, query))
