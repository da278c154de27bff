"""The seam between the use cases and whatever searches a chat's vectors (today: the in-memory int8 index).

A PostgreSQL-side search (pgvector) could implement the same protocol; `bot.core.search.SearchService` only
depends on this.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

import numpy.typing as npt

SearchHit = tuple[int, int, float]
"""(item_id, facet, cosine similarity)."""


class VectorIndex(Protocol):
    async def search(
        self,
        chat_id: int,
        query: npt.ArrayLike,
        k: int,
        *,
        facets: Collection[int] | None = None,
        exclude_item_ids: Collection[int] = (),
    ) -> list[SearchHit]:
        """The k items of the chat most similar to `query` by exact cosine, best first, each once with its best
        facet among `facets` (None: all), never one of `exclude_item_ids`."""
        ...

    async def count(self, chat_id: int) -> int:
        """How many vectors of the chat are searchable."""
        ...
