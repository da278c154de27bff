"""Stored media items and their vectors in PostgreSQL: the same contract as `storage.items.ItemRepository`.

Vectors live in pgvector columns, one row per item and facet, and are searched where they are
(storage.postgres.search), so no process holds a copy to keep in step: only bulk changes of whole chats
(`ChatsReset`, after COMMIT) are told to listeners, for what they remember per chat (a chat's model space).
Several processes may store the same message at once: the unique message address decides, and both get the one
stored item.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from storage.items import (
    ChatsReset,
    ItemListener,
    ItemListeners,
    Vectors,
    as_stored,
    item_from_row,
    only_item,
    origin_of,
    unit_vectors,
)
from storage.models import FACET_CAPTION, FACET_MEDIA, FACET_TEXT, Item, NewItem
from storage.postgres import erasure
from storage.postgres.db import Connection, PgDatabase, Transaction
from storage.vectors import FloatMatrix, QuantisedBlock, VectorBlock, unit_vector

log = logging.getLogger(__name__)

VectorRow = tuple[int, int, int, str, FloatMatrix]
"""(item_id, facet, chat_id, model, unit vector): one row of `vectors`."""

_INSERT_ITEM = (
    "INSERT INTO items (chat_id, origin_chat_id, message_id, sender_id, sender_name, date, kind, file_id, "
    "file_unique_id, caption, model, route, media_group_id, source_path) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
    "$10, $11, $12, $13, $14) ON CONFLICT (origin_chat_id, message_id) DO NOTHING RETURNING id"
)
_UPSERT_VECTOR = (
    "INSERT INTO vectors (item_id, facet, chat_id, model, embedding) VALUES ($1, $2, $3, $4, $5) "
    "ON CONFLICT (item_id, facet) DO UPDATE SET embedding = excluded.embedding"
)


class PgItemRepository:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db
        self._listeners = ItemListeners()

    def add_listener(self, listener: ItemListener) -> None:
        self._listeners.add(listener)

    async def add(self, item: NewItem, vectors: Vectors) -> Item:
        """Store the item; a second add of the same message returns the stored item unchanged. A forgotten message
        raises ForgottenMessage."""
        return only_item(item, await self.add_many([(item, vectors)]))

    async def add_many(self, entries: Sequence[tuple[NewItem, Vectors]]) -> list[Item]:
        """`add` for many items in one transaction; results in `entries` order, without forgotten messages."""
        prepared = [(item, unit_vectors(vectors)) for item, vectors in entries]
        async with self._db.transaction() as work:
            conn = work.conn
            gone = await erasure.forgotten(conn, [(item.chat_id, item.message_id) for item, _ in prepared])
            moved = await _chat_moves(conn, {item.chat_id for item, _ in prepared})
            first: dict[tuple[int, int], tuple[NewItem, dict[int, FloatMatrix]]] = {}  # the first entry wins
            for item, units in prepared:
                first.setdefault((item.chat_id, item.message_id), (item, units))
            known: dict[tuple[int, int], Item] = {}
            created: list[VectorRow] = []
            # In address order: two processes storing overlapping batches lock the rows in one order, never in a
            # deadlock.
            for address in sorted(set(first) - gone):
                item, units = first[address]
                known[address], new = await _insert_or_get(conn, item, moved.get(item.chat_id, item.chat_id))
                created += _vector_rows(known[address], units) if new else []
            await write_vectors(conn, created)
        return [known[(item.chat_id, item.message_id)] for item, _ in prepared
                if (item.chat_id, item.message_id) in known]

    async def get(self, item_id: int) -> Item | None:
        return await self._one("SELECT * FROM items WHERE id = $1", item_id)

    async def get_many(self, ids: Sequence[int]) -> dict[int, Item]:
        rows = await self._db.fetch("SELECT * FROM items WHERE id = ANY($1::bigint[])", list(ids))
        return {item.id: item for item in map(item_from_row, rows)}

    async def by_message(self, chat_id: int, message_id: int) -> Item | None:
        """The item of the message posted in `chat_id`, wherever it lives now."""
        return await self._one("SELECT * FROM items WHERE origin_chat_id = $1 AND message_id = $2", chat_id,
                               message_id)

    async def first_with_file(
        self, chat_id: int, file_unique_id: str, *, exclude_message_id: int | None = None
    ) -> Item | None:
        """The earliest post of exactly this file in the chat: an identical repost, no embedding needed."""
        return await self._one(
            "SELECT * FROM items WHERE chat_id = $1 AND file_unique_id = $2 AND NOT unavailable "
            "AND ($3::bigint IS NULL OR message_id != $3) ORDER BY date, id LIMIT 1",
            chat_id, file_unique_id, exclude_message_id,
        )

    async def set_caption(self, item_id: int, caption: str | None, vector: npt.ArrayLike | None) -> None:
        """An edited caption: new text, and its vector (None: the caption vector is removed)."""
        async with self._db.transaction() as work:
            await work.conn.execute("UPDATE items SET caption = $1 WHERE id = $2", caption, item_id)
            await _replace_facet(work.conn, item_id, FACET_CAPTION, vector)

    async def set_text(self, item_id: int, text: str, vector: npt.ArrayLike) -> None:
        """An edited text message: its new text and vector."""
        async with self._db.transaction() as work:
            await work.conn.execute("UPDATE items SET caption = $1 WHERE id = $2", text, item_id)
            await _replace_facet(work.conn, item_id, FACET_TEXT, vector)

    async def replace_media(
        self, item_id: int, *, kind: str, file_id: str, file_unique_id: str, route: str, vector: npt.ArrayLike
    ) -> None:
        """An edited message whose media was replaced: the item keeps its id and caption."""
        async with self._db.transaction() as work:
            await work.conn.execute(
                "UPDATE items SET kind = $1, file_id = $2, file_unique_id = $3, route = $4 WHERE id = $5",
                kind, file_id, file_unique_id, route, item_id,
            )
            await _replace_facet(work.conn, item_id, FACET_MEDIA, vector)

    async def by_sender(self, sender_id: int, chat_id: int | None = None) -> list[Item]:
        """Everything one person posted, in one chat or in all, oldest first."""
        return await self._many(
            "SELECT * FROM items WHERE sender_id = $1 AND ($2::bigint IS NULL OR chat_id = $2) "
            "ORDER BY chat_id, date, id", sender_id, chat_id,
        )

    async def older_than(self, chat_id: int, before: int) -> list[Item]:
        """The chat's items posted before `before` (unix seconds): due for deletion under its retention."""
        return await self._many("SELECT * FROM items WHERE chat_id = $1 AND date < $2 ORDER BY id", chat_id, before)

    async def is_forgotten(self, chat_id: int, message_id: int) -> bool:
        async with self._db.read() as conn:
            return bool(await erasure.forgotten(conn, [(chat_id, message_id)]))

    async def forget(self, items: Sequence[Item], *, now: int) -> int:
        """Delete these items and every trace of them (see storage.erasure); they are never found again nor
        re-created from the same message. Returns how many were deleted."""
        if not items:
            return 0
        async with self._db.transaction() as work:
            await erasure.erase_items(work.conn, items, now=now)
        log.info("items forgotten", extra={"count": len(items)})
        return len(items)

    async def forget_unstored(self, chat_id: int, message_id: int, *, now: int) -> bool:
        """A message forgotten before (or without) its item being stored: it never will be. True when a queued job
        of it was deleted."""
        async with self._db.transaction() as work:
            return await erasure.forget_addresses(work.conn, [(chat_id, message_id)], now=now) > 0

    async def mark_unavailable(self, chat_id: int, file_ids: Sequence[str]) -> list[Item]:
        """Telegram no longer serves these files in this chat: their items are never shown (or found) again."""
        async with self._db.transaction() as work:
            rows = await work.conn.fetch(
                "SELECT * FROM items WHERE chat_id = $1 AND NOT unavailable AND file_id = ANY($2::text[]) "
                "ORDER BY id FOR UPDATE", chat_id, list(file_ids),
            )
            items = [item_from_row(row) for row in rows]
            await erasure.drop_vectors(work.conn, items)
        return items

    async def unavailable_count(self, chat_id: int) -> int:
        return int(await self._db.fetchval("SELECT count(*) FROM items WHERE chat_id = $1 AND unavailable",
                                           chat_id))

    async def count_kind(self, chat_id: int, kind: str) -> int:
        return (await self.counts_by_kind(chat_id)).get(kind, 0)

    async def of_kind(self, chat_id: int, kind: str) -> list[Item]:
        """The chat's items of one kind (its text messages, to delete when text indexing is turned off)."""
        return await self._many("SELECT * FROM items WHERE chat_id = $1 AND kind = $2 ORDER BY id", chat_id, kind)

    async def load_vectors(self, chat_id: int, model: str) -> VectorBlock:
        """Every float32 vector of the chat, row by row (for tests and tools; searches run in the database)."""
        rows = await self._db.fetch(
            "SELECT item_id, facet, embedding FROM vectors WHERE chat_id = $1 AND model = $2 ORDER BY item_id, facet",
            chat_id, model,
        )
        return _block(rows)

    async def load_codes(self, chat_id: int, model: str) -> QuantisedBlock:
        """Every vector of the chat as int8 codes and scales, as an in-memory index would hold them."""
        return QuantisedBlock.of(await self.load_vectors(chat_id, model))

    async def read_vectors(self, chat_id: int, model: str, keys: Sequence[tuple[int, int]]) -> VectorBlock:
        """The float32 vectors of these (item_id, facet) rows of the chat; rows removed meanwhile are left out."""
        rows = await self._db.fetch(
            "SELECT v.item_id, v.facet, v.embedding FROM unnest($3::bigint[], $4::smallint[]) AS k (item_id, facet) "
            "JOIN vectors AS v ON v.item_id = k.item_id AND v.facet = k.facet "
            "WHERE v.chat_id = $1 AND v.model = $2",
            chat_id, model, [key[0] for key in keys], [key[1] for key in keys],
        )
        return _block(rows)

    async def counts_by_kind(self, chat_id: int) -> dict[str, int]:
        return await self._counts("SELECT kind, count(*) FROM items WHERE chat_id = $1 GROUP BY kind", chat_id)

    async def counts_by_route(self, chat_id: int) -> dict[str, int]:
        return await self._counts("SELECT route, count(*) FROM items WHERE chat_id = $1 GROUP BY route", chat_id)

    async def top_posters(self, chat_id: int, limit: int = 5) -> list[tuple[int | None, str | None, int]]:
        """(sender_id, the sender's latest name, items) by count; anonymous senders count as one poster."""
        rows = await self._db.fetch(
            "SELECT sender_id, (array_agg(sender_name ORDER BY id DESC))[1], count(*) AS posts, max(id) AS latest "
            "FROM items WHERE chat_id = $1 GROUP BY sender_id ORDER BY posts DESC, latest DESC LIMIT $2",
            chat_id, limit,
        )
        return [(row[0], row[1], int(row[2])) for row in rows]

    def reset_chats_after_commit(self, work: Transaction, chat_ids: tuple[int, ...]) -> None:
        """Called inside a transaction that moves, deletes or switches whole chats: listeners forget them."""
        work.after_commit(self._listeners.telling([ChatsReset(chat_ids)]))

    async def _one(self, query: str, *args: object) -> Item | None:
        rows = await self._db.fetch(query, *args)
        return item_from_row(rows[0]) if rows else None

    async def _many(self, query: str, *args: object) -> list[Item]:
        return [item_from_row(row) for row in await self._db.fetch(query, *args)]

    async def _counts(self, query: str, chat_id: int) -> dict[str, int]:
        return {str(row[0]): int(row[1]) for row in await self._db.fetch(query, chat_id)}


async def write_vectors(conn: Connection, rows: Sequence[VectorRow]) -> None:
    """Insert or replace these rows; one dimension per chat and model, else the chat could not be searched."""
    for (chat_id, model), dims in _dimensions(rows).items():
        stored = await conn.fetchval(
            "SELECT vector_dims(embedding) FROM vectors WHERE chat_id = $1 AND model = $2 "
            "AND NOT (item_id = ANY($3::bigint[])) LIMIT 1",
            chat_id, model, sorted({row[0] for row in rows if row[2] == chat_id and row[3] == model}),
        )
        if len(dims) > 1 or (stored is not None and stored not in dims):
            raise ValueError(f"vectors of different dimensions for chat {chat_id}, model {model!r}")
    await conn.executemany(_UPSERT_VECTOR, rows)


def _dimensions(rows: Iterable[VectorRow]) -> dict[tuple[int, str], set[int]]:
    found: dict[tuple[int, str], set[int]] = {}
    for _, _, chat_id, model, vector in rows:
        found.setdefault((chat_id, model), set()).add(int(vector.size))
    return found


async def _insert_or_get(conn: Connection, item: NewItem, chat_id: int) -> tuple[Item, bool]:
    """The new item and True, or the one already stored for this message (by this or another process) and False."""
    stored = as_stored(item, 0, chat_id)
    item_id = await conn.fetchval(
        _INSERT_ITEM, stored.chat_id, origin_of(stored), stored.message_id, stored.sender_id, stored.sender_name,
        stored.date, stored.kind, stored.file_id, stored.file_unique_id, stored.caption, stored.model, stored.route,
        stored.media_group_id, stored.source_path,
    )
    if item_id is not None:
        return as_stored(item, int(item_id), chat_id), True
    row = await conn.fetchrow("SELECT * FROM items WHERE origin_chat_id = $1 AND message_id = $2", item.chat_id,
                              item.message_id)
    return item_from_row(row), False


async def _chat_moves(conn: Connection, chat_ids: Iterable[int]) -> dict[int, int]:
    """Where chats that became supergroups live now: a late message of the old group joins the new chat."""
    rows = await conn.fetch("SELECT old_chat_id, new_chat_id FROM chat_moves WHERE old_chat_id = ANY($1::bigint[])",
                            sorted(chat_ids))
    return {int(row[0]): int(row[1]) for row in rows}


async def _replace_facet(conn: Connection, item_id: int, facet: int, vector: npt.ArrayLike | None) -> None:
    row = await conn.fetchrow("SELECT chat_id, model FROM items WHERE id = $1 FOR UPDATE", item_id)
    if row is None:
        raise LookupError(f"no item {item_id}")
    unit = None if vector is None else unit_vector(vector)
    # A re-embedding staged before this edit is stale: the item is embedded again with its new content.
    await conn.execute("DELETE FROM reembedded WHERE item_id = $1 AND state = 'ready'", item_id)
    if unit is None:
        await conn.execute("DELETE FROM vectors WHERE item_id = $1 AND facet = $2", item_id, facet)
    else:
        await write_vectors(conn, [(item_id, facet, int(row["chat_id"]), str(row["model"]), unit)])


def _vector_rows(item: Item, units: dict[int, FloatMatrix]) -> list[VectorRow]:
    return [(item.id, facet, item.chat_id, item.model, vector) for facet, vector in sorted(units.items())]


def _block(rows: Sequence[Any]) -> VectorBlock:
    if not rows:
        return VectorBlock.empty(0)
    return VectorBlock(
        np.array([row[0] for row in rows], np.int64),
        np.array([row[1] for row in rows], np.int8),
        np.ascontiguousarray(np.stack([row[2].to_numpy() for row in rows]), np.float32),
    )
