"""Nearest items of a chat, searched where the vectors are: exact results from a half-precision first pass.

Implements `bot.search.protocol.VectorIndex` structurally (storage never imports bot). Vectors are unit length, so
pgvector's negative inner product `<#>` is minus the cosine. One statement reads only the chat's rows of one model
(through the (chat_id, model) index): it ranks them by their half-precision copy `embedding_half` (2 KB kept in the
row, where the full vector is 4 KB out of line), keeps the best `m` as candidates, and re-ranks those by the full
`embedding`, returning exact distances. A bound on the half-precision error (`HALF_ERROR`) tells whether a row left
out could still belong in the answer. If it could (near-duplicates within the error of each other: the same picture
forwarded many times), a second statement takes every row within a threshold the first pass proves sufficient, so a
search costs at most two scans of the chat. The results are those of an exact scan, each item once with its best
facet. Every process reads the same tables, so a search sees whatever any process committed before it started.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy.typing as npt

from storage.models import ALL_FACETS
from storage.postgres.db import PgDatabase
from storage.vectors import unit_vector

SEARCH = (
    "WITH candidates AS MATERIALIZED ("
    "SELECT item_id, facet, embedding_half <#> $7::halfvec AS rough FROM vectors "
    "WHERE chat_id = $1 AND model = $2 AND facet = ANY($4::smallint[]) AND NOT (item_id = ANY($5::bigint[])) "
    "ORDER BY rough LIMIT $6) "
    "SELECT c.item_id, c.facet, v.embedding <#> $3::vector AS distance, c.rough FROM candidates AS c "
    "JOIN vectors AS v ON v.item_id = c.item_id AND v.facet = c.facet "
    "ORDER BY distance, c.item_id, c.facet"
)
"""The chat's best `$6` rows by half precision (scanned through `vectors_by_chat_model`, never another chat's
rows), with their exact distances, best first, and their half-precision ones. The query comes twice, as $3 (vector)
and $7 (halfvec): a cast in the statement would run once per row whenever PostgreSQL picks a generic plan."""

WITHIN = (
    "SELECT item_id, facet, embedding <#> $3::vector AS distance FROM vectors "
    "WHERE chat_id = $1 AND model = $2 AND facet = ANY($4::smallint[]) AND NOT (item_id = ANY($5::bigint[])) "
    "AND embedding_half <#> $7::halfvec <= $6 ORDER BY distance, item_id, facet LIMIT $8"
)
"""The chat's rows whose half-precision distance is at most `$6`, re-ranked by their full vectors (read only for
those rows), the best `$8` first: k × facets rows hold the best k distinct items."""

CANDIDATES_PER_RESULT = 4
"""The first pass keeps k × facets × this many rows: enough for random data; near-duplicates may need more."""

HALF_ERROR = 0.002
"""A bound on |exact distance − half-precision distance| for unit vectors of up to 4 000 dimensions (halfvec's limit).

Rounding to half precision (round to nearest, 11-bit significand) changes each component by at most u = 2^-11 of
itself (or by 2^-25 when the result is subnormal), so q̃ = q + δq with ‖δq‖ ≤ u‖q‖ + 2^-25·√n, likewise x̃.
Then q̃·x̃ − q·x = δq·x + q·δx + δq·δx and, by Cauchy–Schwarz with ‖q‖ = ‖x‖ = 1,
|q̃·x̃ − q·x| ≤ 2u + u² + (small) ≈ 0.000977. Each float32 dot product adds at most n·2^-24·Σ|qᵢxᵢ| ≤ n·2^-24
(≤ 0.00024 at n = 4 000; far less in practice), twice: the total stays under 0.0015, and 0.002 leaves room."""


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
        facet among `facets` (None: all), never one of `exclude_item_ids`.

        Exact because every row outside the m candidates has a half-precision distance ≥ d_m, the last
        candidate's, hence an exact distance ≥ d_m − HALF_ERROR: when that is still worse than the k-th item found
        (or the chat has fewer than m matching rows, all of them candidates), no row left out can enter the
        answer or give a found item a better facet. Otherwise the rows within `_sufficient_threshold` are the
        candidates."""
        wanted = sorted(ALL_FACETS if facets is None else set(facets))
        if k <= 0 or not wanted:
            return []
        unit, excluded = unit_vector(query), sorted(set(exclude_item_ids))
        enough = k * len(wanted)
        limit = enough * CANDIDATES_PER_RESULT
        rows = await self._db.fetch(SEARCH, chat_id, self.model, unit, wanted, excluded, limit, unit)
        best = _best_items(rows, k)
        if len(rows) < limit or (len(best) == k and _settled(rows, best[-1][2])):
            return best
        threshold = _sufficient_threshold(rows, enough)
        rows = await self._db.fetch(WITHIN, chat_id, self.model, unit, wanted, excluded, threshold, unit, enough)
        return _best_items(rows, k)

    async def count(self, chat_id: int) -> int:
        """How many vectors of the chat are searchable."""
        return int(await self._db.fetchval("SELECT count(*) FROM vectors WHERE chat_id = $1 AND model = $2",
                                           chat_id, self.model))


def _best_items(rows: Sequence[Any], k: int) -> list[tuple[int, int, float]]:
    """The first k distinct items of rows ordered by exact distance, each with its first (best) facet, as scores."""
    best: dict[int, tuple[int, int, float]] = {}
    for item_id, facet, distance, *_ in rows:
        if item_id not in best:
            best[item_id] = (int(item_id), int(facet), -float(distance))
    return list(best.values())[:k]


def _settled(rows: Sequence[Any], kth_score: float) -> bool:
    """Whether every row outside these candidates is strictly worse than the k-th item (score `kth_score`)."""
    last_rough = max(float(row[3]) for row in rows)
    return last_rough - HALF_ERROR > -kth_score


def _sufficient_threshold(rows: Sequence[Any], enough: int) -> float:
    """A half-precision distance within which every row of the exact answer lies, from a first pass's candidates
    (the chat's best rows by half precision, at least `enough` = k × facets of them).

    Let A be the `enough`-th best half-precision distance. Those `enough` rows hold at least k distinct items (one
    row per facet), each at an exact distance ≤ A + HALF_ERROR, so the k-th best item's exact distance D_k is at most
    that too. Any row at an exact distance ≤ D_k (an answer, or a better facet of one) has a half-precision distance
    ≤ D_k + HALF_ERROR ≤ A + 2·HALF_ERROR."""
    rough = sorted(float(row[3]) for row in rows)
    return rough[enough - 1] + 2 * HALF_ERROR
