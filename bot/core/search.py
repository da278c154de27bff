"""/search <words>: the chat's pictures and videos that match a description, by content or by caption."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.asking import Asking
from bot.core.embedding import Payer
from bot.core.neighbours import Neighbours
from bot.core.originals import SPARE_HITS
from bot.core.results import Audience, Decision, Matches, NoMatches
from bot.core.spaces import ModelSpaces

SEARCH_RESULTS = 5
MAX_QUERY_CHARS = 1000


@dataclass(frozen=True)
class SearchFloors:
    image: float
    """Text-to-picture cosines run low: a separate, lower floor."""
    caption: float
    """Text-to-text cosines run high: a separate, higher floor."""


class SearchService:
    def __init__(self, spaces: ModelSpaces, neighbours: Neighbours, asking: Asking,
                 floors: SearchFloors) -> None:
        self._spaces = spaces
        self._neighbours = neighbours
        self._asking = asking
        self._floors = floors

    async def answer(self, to: Audience, query: str, asker_id: int | None) -> Decision:
        return await self._asking.answer(to, "search", lambda: self._find(to, query, asker_id))

    async def _find(self, to: Audience, query: str, asker_id: int | None) -> Decision:
        embedding = await self._spaces.embedding(to.chat.id)
        vector, _spend = await embedding.text(query[:MAX_QUERY_CHARS], Payer(to.chat.id, asker_id))
        hits = await self._neighbours.by_text(to.chat.id, vector, k=SEARCH_RESULTS + SPARE_HITS,
                                              image_floor=self._floors.image, caption_floor=self._floors.caption)
        if not hits:
            return NoMatches(to, query=query)
        return Matches(to, hits[:SEARCH_RESULTS], query=query, spare=hits[SEARCH_RESULTS:])
