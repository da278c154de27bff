"""What people told the bot about a chat's media (pairs that are not reposts, an ignore list), and each item's
nearest earlier item as found when it was stored.

The nearest-neighbour records make a threshold preview a range query: re-comparing every pair of a 100 k item chat
would take minutes, reading one score per item takes milliseconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import aiosqlite
import numpy as np

from storage.db import Database
from storage.models import FACET_MEDIA, FACET_TEXT, Dismissal, Ignored, NearestRecord
from storage.vectors import from_blob, to_blob, unit_vector

# Statements both backends run as they are (storage.postgres numbers the `?` placeholders).
DISMISS = ("INSERT INTO dismissals (chat_id, file_a, file_b, vector_a, vector_b, by_name, at) "
           "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id")
COUNT_DISMISSAL = ("INSERT INTO chat_counters (chat_id, alerts_dismissed) VALUES (?, 1) ON CONFLICT (chat_id) "
                   "DO UPDATE SET alerts_dismissed = chat_counters.alerts_dismissed + 1")
DISMISSALS = ("SELECT id, chat_id, file_a, file_b, vector_a, vector_b, by_name, at FROM dismissals "
              "WHERE chat_id = ? ORDER BY id")
UNDO_DISMISSAL = "DELETE FROM dismissals WHERE chat_id = ? AND id = ?"
IGNORE = ("INSERT INTO ignored (chat_id, file_unique_id, vector, kind, by_name, at) VALUES (?, ?, ?, ?, ?, ?) "
          "ON CONFLICT (chat_id, file_unique_id) DO NOTHING")
IGNORED = "SELECT id, chat_id, file_unique_id, vector, kind, by_name, at FROM ignored WHERE chat_id = ? ORDER BY id"
UNIGNORE = "DELETE FROM ignored WHERE chat_id = ? AND id = ?"

Decode = Callable[[Any], Any]
"""A stored vector (a BLOB, a pgvector value) as a numpy array."""

_COUNT_SINCE = "SELECT count(*) FROM nearest INDEXED BY nearest_by_chat_date WHERE chat_id = ? AND date >= ?"
_COUNT_AT_OR_ABOVE = (
    "SELECT count(*) FROM nearest INDEXED BY nearest_by_chat_score WHERE chat_id = ? AND score >= ? AND date >= ?"
)


class FeedbackRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def dismiss(self, chat_id: int, pair: tuple[tuple[str, Any], tuple[str, Any]], by_name: str | None) -> int:
        """Record a pair ((file_unique_id, vector), …) as not a repost, and count the dismissal."""
        (file_a, vector_a), (file_b, vector_b) = pair
        async with self._db.transaction() as conn:
            (row,) = await conn.execute_fetchall(
                DISMISS,
                (chat_id, file_a, file_b, to_blob(unit_vector(vector_a)), to_blob(unit_vector(vector_b)), by_name,
                 int(time.time())),
            )
            await conn.execute(COUNT_DISMISSAL, (chat_id,))
        return int(row[0])

    async def dismissals(self, chat_id: int) -> list[Dismissal]:
        async with self._db.read() as conn:
            rows = await conn.execute_fetchall(DISMISSALS, (chat_id,))
        return [dismissal_from_row(row, from_blob) for row in rows]

    async def undo_dismissal(self, chat_id: int, dismissal_id: int) -> bool:
        return await self._delete(UNDO_DISMISSAL, (chat_id, dismissal_id))

    async def ignore(self, chat_id: int, file_unique_id: str, vector: Any, kind: str, by_name: str | None) -> bool:
        """Put the media on the chat's ignore list; False when it already was."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                IGNORE, (chat_id, file_unique_id, to_blob(unit_vector(vector)), kind, by_name, int(time.time())),
            )
        return cursor.rowcount > 0

    async def ignored(self, chat_id: int) -> list[Ignored]:
        async with self._db.read() as conn:
            rows = await conn.execute_fetchall(IGNORED, (chat_id,))
        return [ignored_from_row(row, from_blob) for row in rows]

    async def unignore(self, chat_id: int, ignored_id: int) -> bool:
        return await self._delete(UNIGNORE, (chat_id, ignored_id))

    async def media_vector(self, item_id: int) -> np.ndarray | None:
        """The vector that stands for an item: its media's, or a text message's own (None: the item is gone)."""
        async with self._db.read() as conn:
            rows = list(await conn.execute_fetchall(
                "SELECT vector FROM vectors WHERE item_id = ? AND facet IN (?, ?) ORDER BY facet LIMIT 1",
                (item_id, FACET_MEDIA, FACET_TEXT)))
        return np.array(from_blob(rows[0][0])) if rows else None

    async def record_nearest(self, chat_id: int, item_id: int, date: int, neighbour: tuple[int, float] | None, *,
                             called: bool) -> None:
        """The item's closest earlier item (None: the chat had nothing before it), and whether it was called out."""
        if neighbour is None:
            return
        async with self._db.transaction() as conn:
            await _insert_nearest(conn, [(item_id, chat_id, date, neighbour[0], neighbour[1], int(called))])

    async def record_many(self, rows: list[tuple[int, int, int, int, float, int]]) -> None:
        """(item_id, chat_id, date, neighbour_id, score, called) rows in one transaction (benchmarks, imports)."""
        async with self._db.transaction() as conn:
            await _insert_nearest(conn, rows)

    async def nearest_counts(self, chat_id: int, since: int, thresholds: tuple[float, float]) -> tuple[int, int, int]:
        """(items with a record since then, of which at or above the first threshold, at or above the second).

        Each count is a range of one covering index, so a chat of 100 k items is counted in milliseconds."""
        async with self._db.read() as conn:
            counts = [await _count(conn, _COUNT_SINCE, (chat_id, since))]
            for threshold in thresholds:
                counts.append(await _count(conn, _COUNT_AT_OR_ABOVE, (chat_id, threshold, since)))
        return counts[0], counts[1], counts[2]

    async def closest_to(self, chat_id: int, since: int, threshold: float, limit: int) -> list[NearestRecord]:
        """Up to `limit` records with the scores closest to the threshold, from both sides when both have some."""
        async with self._db.read() as conn:
            above = await conn.execute_fetchall(
                "SELECT item_id, neighbour_id, score FROM nearest INDEXED BY nearest_by_chat_score "
                "WHERE chat_id = ? AND score >= ? AND date >= ? ORDER BY score LIMIT ?",
                (chat_id, threshold, since, limit),
            )
            below = await conn.execute_fetchall(
                "SELECT item_id, neighbour_id, score FROM nearest INDEXED BY nearest_by_chat_score "
                "WHERE chat_id = ? AND score < ? AND date >= ? ORDER BY score DESC LIMIT ?",
                (chat_id, threshold, since, limit),
            )
        return both_sides([nearest_record(r) for r in above], [nearest_record(r) for r in below], threshold, limit)

    async def _delete(self, statement: str, params: tuple[int, int]) -> bool:
        async with self._db.transaction() as conn:
            cursor = await conn.execute(statement, params)
        return cursor.rowcount > 0


async def _insert_nearest(conn: aiosqlite.Connection, rows: list[tuple[int, int, int, int, float, int]]) -> None:
    await conn.executemany(
        "INSERT INTO nearest (item_id, chat_id, date, neighbour_id, score, called) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (item_id) DO UPDATE SET called = max(called, excluded.called)", rows,
    )


def dismissal_from_row(r: Any, decode: Decode) -> Dismissal:
    """A row of DISMISSALS."""
    return Dismissal(int(r[0]), int(r[1]), str(r[2]), str(r[3]), decode(r[4]), decode(r[5]), r[6], int(r[7]))


def ignored_from_row(r: Any, decode: Decode) -> Ignored:
    """A row of IGNORED."""
    return Ignored(int(r[0]), int(r[1]), str(r[2]), decode(r[3]), str(r[4]), r[5], int(r[6]))


def nearest_record(row: Any) -> NearestRecord:
    """A row (item_id, neighbour_id, score)."""
    return NearestRecord(int(row[0]), int(row[1]), float(row[2]))


def both_sides(above: list[NearestRecord], below: list[NearestRecord], threshold: float,
                limit: int) -> list[NearestRecord]:
    """The closest records overall, but never all from one side while the other has some: an admin wants to see
    both what the threshold would start catching and what it would let through."""
    closest = sorted(above + below, key=lambda r: (abs(r.score - threshold), r.item_id))[:limit]
    for side in (above, below):
        if side and limit > 1 and not any(r in closest for r in side):
            closest[-1] = side[0]
    return sorted(closest, key=lambda r: r.score, reverse=True)


async def _count(conn: aiosqlite.Connection, query: str, params: tuple[int | float, ...]) -> int:
    (row,) = await conn.execute_fetchall(query, params)
    return int(row[0])
