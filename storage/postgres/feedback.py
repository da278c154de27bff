"""What people told the bot about a chat's media, and each item's nearest earlier item, on PostgreSQL (see
storage.feedback). Vectors are pgvector values; what a dismissal or the ignore list means (near copies included) is
decided by bot.core.feedback on the vectors read back, the same for both backends.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from storage.feedback import (
    COUNT_DISMISSAL,
    DISMISS,
    DISMISSALS,
    IGNORE,
    IGNORED,
    UNDO_DISMISSAL,
    UNIGNORE,
    both_sides,
    dismissal_from_row,
    ignored_from_row,
    nearest_record,
)
from storage.models import FACET_MEDIA, FACET_TEXT, Dismissal, Ignored, NearestRecord
from storage.postgres.db import Connection, PgDatabase
from storage.postgres.sql import numbered, row_count
from storage.vectors import unit_vector

_INSERT_NEAREST = (
    "INSERT INTO nearest (item_id, chat_id, date, neighbour_id, score, called) VALUES ($1, $2, $3, $4, $5, $6) "
    "ON CONFLICT (item_id) DO UPDATE SET called = nearest.called OR excluded.called"
)
_CLOSEST_ABOVE = (
    "SELECT item_id, neighbour_id, score FROM nearest WHERE chat_id = $1 AND score >= $2 AND date >= $3 "
    "ORDER BY score LIMIT $4"
)
_CLOSEST_BELOW = (
    "SELECT item_id, neighbour_id, score FROM nearest WHERE chat_id = $1 AND score < $2 AND date >= $3 "
    "ORDER BY score DESC LIMIT $4"
)


class PgFeedbackRepository:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def dismiss(self, chat_id: int, pair: tuple[tuple[str, Any], tuple[str, Any]], by_name: str | None) -> int:
        """Record a pair ((file_unique_id, vector), …) as not a repost, and count the dismissal."""
        (file_a, vector_a), (file_b, vector_b) = pair
        async with self._db.transaction() as work:
            dismissal_id = await work.conn.fetchval(
                numbered(DISMISS), chat_id, file_a, file_b, unit_vector(vector_a), unit_vector(vector_b), by_name,
                int(time.time()),
            )
            await work.conn.execute(numbered(COUNT_DISMISSAL), chat_id)
        return int(dismissal_id)

    async def dismissals(self, chat_id: int) -> list[Dismissal]:
        return [dismissal_from_row(row, _decode) for row in await self._db.fetch(numbered(DISMISSALS), chat_id)]

    async def undo_dismissal(self, chat_id: int, dismissal_id: int) -> bool:
        return row_count(await self._db.execute(numbered(UNDO_DISMISSAL), chat_id, dismissal_id)) > 0

    async def ignore(self, chat_id: int, file_unique_id: str, vector: Any, kind: str, by_name: str | None) -> bool:
        """Put the media on the chat's ignore list; False when it already was."""
        status = await self._db.execute(numbered(IGNORE), chat_id, file_unique_id, unit_vector(vector), kind, by_name,
                                        int(time.time()))
        return row_count(status) > 0

    async def ignored(self, chat_id: int) -> list[Ignored]:
        return [ignored_from_row(row, _decode) for row in await self._db.fetch(numbered(IGNORED), chat_id)]

    async def unignore(self, chat_id: int, ignored_id: int) -> bool:
        return row_count(await self._db.execute(numbered(UNIGNORE), chat_id, ignored_id)) > 0

    async def media_vector(self, item_id: int) -> np.ndarray | None:
        """The vector that stands for an item: its media's, or a text message's own (None: the item is gone)."""
        stored = await self._db.fetchval(
            "SELECT embedding FROM vectors WHERE item_id = $1 AND facet IN ($2, $3) ORDER BY facet LIMIT 1",
            item_id, FACET_MEDIA, FACET_TEXT,
        )
        return None if stored is None else _decode(stored)

    async def record_nearest(self, chat_id: int, item_id: int, date: int, neighbour: tuple[int, float] | None, *,
                             called: bool) -> None:
        """The item's closest earlier item (None: the chat had nothing before it), and whether it was called out."""
        if neighbour is None:
            return
        await self.record_many([(item_id, chat_id, date, neighbour[0], neighbour[1], int(called))])

    async def record_many(self, rows: list[tuple[int, int, int, int, float, int]]) -> None:
        """(item_id, chat_id, date, neighbour_id, score, called) rows in one transaction (benchmarks, imports)."""
        async with self._db.transaction() as work:
            await _insert_nearest(work.conn, rows)

    async def nearest_counts(self, chat_id: int, since: int, thresholds: tuple[float, float]) -> tuple[int, int, int]:
        """(items with a record since then, of which at or above the first threshold, at or above the second),
        in one pass over the chat's range of `nearest_by_chat_date`."""
        row = await self._db.fetch(
            "SELECT count(*), count(*) FILTER (WHERE score >= $3), count(*) FILTER (WHERE score >= $4) "
            "FROM nearest WHERE chat_id = $1 AND date >= $2",
            chat_id, since, float(thresholds[0]), float(thresholds[1]),
        )
        return int(row[0][0]), int(row[0][1]), int(row[0][2])

    async def closest_to(self, chat_id: int, since: int, threshold: float, limit: int) -> list[NearestRecord]:
        """Up to `limit` records with the scores closest to the threshold, from both sides when both have some."""
        async with self._db.read() as conn:
            above = await conn.fetch(_CLOSEST_ABOVE, chat_id, float(threshold), since, limit)
            below = await conn.fetch(_CLOSEST_BELOW, chat_id, float(threshold), since, limit)
        return both_sides([nearest_record(r) for r in above], [nearest_record(r) for r in below], threshold, limit)


async def _insert_nearest(conn: Connection, rows: list[tuple[int, int, int, int, float, int]]) -> None:
    await conn.executemany(_INSERT_NEAREST, [
        (item_id, chat_id, date, neighbour_id, float(score), bool(called))
        for item_id, chat_id, date, neighbour_id, score, called in rows
    ])


def _decode(stored: Any) -> np.ndarray:
    """A pgvector value as a float32 array of its own."""
    return np.asarray(stored.to_numpy(), dtype=np.float32)
