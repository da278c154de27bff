"""Nearest items of a chat, searched where the vectors are: an exact scan of the chat's rows in PostgreSQL.

Implements `bot.search.protocol.VectorIndex` structurally (storage never imports bot). Vectors are unit length, so
pgvector's negative inner product `<#>` is minus the cosine. The scan reads only the chat's rows of one model,
through the (chat_id, model) index, and keeps the best `k × facets` rows with a top-N sort: each item has at most
one row per facet, so those rows hold the best k distinct items, which are picked here, each with its best facet.
Every process reads the same tables, so a search sees whatever any process committed before it started.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy.typing as npt

from storage.models import ALL_FACETS
from storage.postgres.db import PgDatabase
from storage.vectors import unit_vector

SEARCH = (
    "SELECT item_id, facet, embedding <#> $3::vector AS distance FROM vectors "
    "WHERE chat_id = $1 AND model = $2 AND facet = ANY($4::smallint[]) AND NOT (item_id = ANY($5::bigint[])) "
    "ORDER BY distance, item_id, facet LIMIT $6"
)
"""The chat's best rows of one model: scanned through `vectors_by_chat_model`, never another chat's rows."""


class PgVectorIndex:
    def __init__(self, db: PgDatabase, model: str) -> None:
        self._db = db
        self.model = model

    async def search(
        self,
        chat_id: int,
        query: npt.ArrayLike,
        k: int,
        *,
        facets: Collection[int] | None = None,
        exclude_item_ids: Collection[int] = (),
    ) -> list[tuple[int, int, float]]:
        """The k items of the chat most similar to `query` by exact cosine, best first, each once with its best
        facet among `facets` (None: all), never one of `exclude_item_ids`."""
        wanted = sorted(ALL_FACETS if facets is None else set(facets))
        if k <= 0 or not wanted:
            return []
        rows = await self._db.fetch(SEARCH, chat_id, self.model, unit_vector(query), wanted,
                                    sorted(set(exclude_item_ids)), k * len(wanted))
        best: dict[int, tuple[int, int, float]] = {}
        for item_id, facet, distance in rows:
            if item_id not in best:
                best[item_id] = (int(item_id), int(facet), -float(distance))
        return list(best.values())[:k]

    async def count(self, chat_id: int) -> int:
        """How many vectors of the chat are searchable."""
        return int(await self._db.fetchval("SELECT count(*) FROM vectors WHERE chat_id = $1 AND model = $2",
                                           chat_id, self.model))
