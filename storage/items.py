"""Stored media items and their vectors, and the events that keep in-memory indexes in step with SQLite.

Writes notify listeners only after COMMIT (and before any other transaction can start), so an index never
holds a vector that SQLite rolled back, and observes changes in commit order. See `storage.segments` for the
vector layout.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Protocol

import aiosqlite
import numpy.typing as npt

from storage import erasure, segments
from storage.db import Database
from storage.models import ALL_FACETS, FACET_CAPTION, FACET_MEDIA, FACET_TEXT, Item, NewItem
from storage.vectors import FloatMatrix, QuantisedBlock, VectorBlock, to_blob, unit_vector

log = logging.getLogger(__name__)

Vectors = Mapping[int, npt.ArrayLike]
"""Vectors of one item by facet: FACET_MEDIA (FACET_CAPTION optional) for media, FACET_TEXT alone for a message."""


@dataclass(frozen=True, eq=False)
class VectorsChanged:
    """Committed: these facets of the item now have these unit vectors (None: the facet was removed).

    `new_item` says the item did not exist before, so appending its vectors is enough.
    """

    chat_id: int
    model: str
    item_id: int
    vectors: Mapping[int, FloatMatrix | None]
    new_item: bool


@dataclass(frozen=True)
class ChatsReset:
    """Committed: items of these chats were moved or deleted in bulk; in-memory copies must be rebuilt."""

    chat_ids: tuple[int, ...]


ItemEvent = VectorsChanged | ChatsReset

GONE = {facet: None for facet in ALL_FACETS}
"""A VectorsChanged payload removing every facet of an item (deleted, or its original is gone)."""


class ForgottenMessage(LookupError):
    """The message's item was deleted on request: it is not stored again (unless posted again, as a new message)."""


class Row(Protocol):
    """A result row readable by column name: sqlite3's Row or asyncpg's Record."""

    def __getitem__(self, key: str, /) -> Any: ...


class ItemListener(Protocol):
    def on_item_event(self, event: ItemEvent) -> None: ...


class ItemListeners:
    """The in-process listeners of one item repository (either backend). They hear of a change only once its
    transaction committed, so what they rebuild from the database sees it."""

    def __init__(self) -> None:
        self._listeners: list[ItemListener] = []

    def add(self, listener: ItemListener) -> None:
        self._listeners.append(listener)

    def telling(self, events: Sequence[ItemEvent]) -> Callable[[], None]:
        """An after-commit callback telling every listener each event, in order."""

        def tell() -> None:
            for event in events:
                for listener in self._listeners:
                    listener.on_item_event(event)

        return tell


_INSERT_ITEM = (
    "INSERT INTO items (id, chat_id, origin_chat_id, message_id, sender_id, sender_name, date, kind, "
    "file_id, file_unique_id, caption, model, route, media_group_id, source_path) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class ItemRepository:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._listeners = ItemListeners()

    def add_listener(self, listener: ItemListener) -> None:
        self._listeners.add(listener)

    async def add(self, item: NewItem, vectors: Vectors) -> Item:
        """Store the item; a second add of the same message returns the stored item unchanged. A forgotten message
        raises ForgottenMessage."""
        return only_item(item, await self.add_many([(item, vectors)]))

    async def add_many(self, entries: Sequence[tuple[NewItem, Vectors]]) -> list[Item]:
        """`add` for many items in one transaction (imports, benchmarks); results in `entries` order, without the
        messages that were forgotten (deleted on request)."""
        prepared = [(item, unit_vectors(vectors)) for item, vectors in entries]
        async with self._db.transaction() as conn:
            gone = await erasure.forgotten(conn, [(item.chat_id, item.message_id) for item, _ in prepared])
            prepared = [(item, units) for item, units in prepared if (item.chat_id, item.message_id) not in gone]
            known = await _existing_items(conn, [item for item, _ in prepared])
            moved = await _chat_moves(conn, {item.chat_id for item, _ in prepared})
            results, created = _plan_batch(prepared, known, moved, await _next_item_id(conn))
            await conn.executemany(_INSERT_ITEM, [_item_params(item) for item, _ in created])
            await segments.write_vectors(conn, [row for item, units in created for row in _vector_rows(item, units)])
            for chat_id, model in sorted({(item.chat_id, item.model) for item, _ in created}):
                await segments.seal(conn, chat_id, model)
            self._notify_after_commit(
                [VectorsChanged(item.chat_id, item.model, item.id, units, new_item=True) for item, units in created]
            )
        return results

    async def get(self, item_id: int) -> Item | None:
        return await self._one("SELECT * FROM items WHERE id = ?", (item_id,))

    async def get_many(self, ids: Sequence[int]) -> dict[int, Item]:
        async with self._db.read() as conn:
            rows = await conn.execute_fetchall(
                "SELECT * FROM items WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(list(ids)),)
            )
        return {item.id: item for item in map(item_from_row, rows)}

    async def by_message(self, chat_id: int, message_id: int) -> Item | None:
        """The item of the message posted in `chat_id`, wherever it lives now."""
        return await self._one("SELECT * FROM items WHERE origin_chat_id = ? AND message_id = ?", (chat_id, message_id))

    async def first_with_file(
        self, chat_id: int, file_unique_id: str, *, exclude_message_id: int | None = None
    ) -> Item | None:
        """The earliest post of exactly this file in the chat: an identical repost, no embedding needed."""
        return await self._one(
            "SELECT * FROM items WHERE chat_id = :chat AND file_unique_id = :file AND unavailable = 0 "
            "AND (:exclude IS NULL OR message_id != :exclude) ORDER BY date, id LIMIT 1",
            {"chat": chat_id, "file": file_unique_id, "exclude": exclude_message_id},
        )

    async def set_caption(self, item_id: int, caption: str | None, vector: npt.ArrayLike | None) -> None:
        """An edited caption: new text, and its vector (None: the caption vector is removed)."""
        async with self._db.transaction() as conn:
            await conn.execute("UPDATE items SET caption = ? WHERE id = ?", (caption, item_id))
            await self._replace_facet(conn, item_id, FACET_CAPTION, vector)

    async def set_text(self, item_id: int, text: str, vector: npt.ArrayLike) -> None:
        """An edited text message: its new text and vector."""
        async with self._db.transaction() as conn:
            await conn.execute("UPDATE items SET caption = ? WHERE id = ?", (text, item_id))
            await self._replace_facet(conn, item_id, FACET_TEXT, vector)

    async def replace_media(
        self, item_id: int, *, kind: str, file_id: str, file_unique_id: str, route: str, vector: npt.ArrayLike
    ) -> None:
        """An edited message whose media was replaced: the item keeps its id and caption."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE items SET kind = ?, file_id = ?, file_unique_id = ?, route = ? WHERE id = ?",
                (kind, file_id, file_unique_id, route, item_id),
            )
            await self._replace_facet(conn, item_id, FACET_MEDIA, vector)

    async def by_sender(self, sender_id: int, chat_id: int | None = None) -> list[Item]:
        """Everything one person posted, in one chat or in all, oldest first."""
        async with self._db.read() as conn:
            rows = await conn.execute_fetchall(
                "SELECT * FROM items WHERE sender_id = :sender AND (:chat IS NULL OR chat_id = :chat) "
                "ORDER BY chat_id, date, id",
                {"sender": sender_id, "chat": chat_id},
            )
        return [item_from_row(row) for row in rows]

    async def older_than(self, chat_id: int, before: int) -> list[Item]:
        """The chat's items posted before `before` (unix seconds): due for deletion under its retention."""
        async with self._db.read() as conn:
            rows = await conn.execute_fetchall(
                "SELECT * FROM items WHERE chat_id = ? AND date < ? ORDER BY id", (chat_id, before)
            )
        return [item_from_row(row) for row in rows]

    async def is_forgotten(self, chat_id: int, message_id: int) -> bool:
        async with self._db.read() as conn:
            return bool(await erasure.forgotten(conn, [(chat_id, message_id)]))

    async def forget(self, items: Sequence[Item], *, now: int) -> int:
        """Delete these items and every trace of them (see storage.erasure); they leave the indexes at once and are
        never re-created from the same message. Returns how many were deleted."""
        if not items:
            return 0
        async with self._db.transaction() as conn:
            await erasure.erase_items(conn, items, now=now)
            self._notify_after_commit(
                [VectorsChanged(item.chat_id, item.model, item.id, GONE, new_item=False) for item in items]
            )
        log.info("items forgotten", extra={"count": len(items)})
        return len(items)

    async def forget_unstored(self, chat_id: int, message_id: int, *, now: int) -> bool:
        """A message forgotten before (or without) its item being stored: it never will be. True when a queued job
        of it was deleted."""
        async with self._db.transaction() as conn:
            return await erasure.forget_addresses(conn, [(chat_id, message_id)], now=now) > 0

    async def mark_unavailable(self, chat_id: int, file_ids: Sequence[str]) -> list[Item]:
        """Telegram no longer serves these files in this chat: their items are never shown (or found) again."""
        async with self._db.transaction() as conn:
            rows = await conn.execute_fetchall(
                "SELECT * FROM items WHERE chat_id = ? AND unavailable = 0 "
                "AND file_id IN (SELECT value FROM json_each(?))",
                (chat_id, json.dumps(list(file_ids))),
            )
            items = [item_from_row(row) for row in rows]
            await erasure.drop_vectors(conn, items)
            self._notify_after_commit(
                [VectorsChanged(item.chat_id, item.model, item.id, GONE, new_item=False) for item in items]
            )
        return items

    async def unavailable_count(self, chat_id: int) -> int:
        async with self._db.read() as conn:
            rows = await conn.execute_fetchall(
                "SELECT count(*) FROM items WHERE chat_id = ? AND unavailable = 1", (chat_id,)
            )
        return int(next(iter(rows))[0])

    async def count_kind(self, chat_id: int, kind: str) -> int:
        return (await self.counts_by_kind(chat_id)).get(kind, 0)

    async def of_kind(self, chat_id: int, kind: str) -> list[Item]:
        """The chat's items of one kind (its text messages, to delete when text indexing is turned off)."""
        async with self._db.read() as conn:
            rows = await conn.execute_fetchall(
                "SELECT * FROM items WHERE chat_id = ? AND kind = ? ORDER BY id", (chat_id, kind)
            )
        return [item_from_row(row) for row in rows]

    async def load_vectors(self, chat_id: int, model: str) -> VectorBlock:
        """Every float32 vector of the chat, row by row (the truth, for tests and tools; not a fast path)."""
        async with self._db.read() as conn:
            return await segments.read_block(conn, chat_id, model)

    async def load_codes(self, chat_id: int, model: str) -> QuantisedBlock:
        """Every vector of the chat as int8 codes and scales: what an in-memory index loads (a few large reads)."""
        async with self._db.read() as conn:
            return await segments.read_codes(conn, chat_id, model)

    async def read_vectors(self, chat_id: int, model: str, keys: Sequence[tuple[int, int]]) -> VectorBlock:
        """The float32 vectors of these (item_id, facet) rows of the chat; rows removed meanwhile are left out."""
        async with self._db.read() as conn:
            return await segments.read_vectors(conn, chat_id, model, keys)

    async def counts_by_kind(self, chat_id: int) -> dict[str, int]:
        return await self._counts("SELECT kind, count(*) FROM items WHERE chat_id = ? GROUP BY kind", chat_id)

    async def counts_by_route(self, chat_id: int) -> dict[str, int]:
        return await self._counts("SELECT route, count(*) FROM items WHERE chat_id = ? GROUP BY route", chat_id)

    async def top_posters(self, chat_id: int, limit: int = 5) -> list[tuple[int | None, str | None, int]]:
        """(sender_id, the sender's latest name, items) by count; anonymous senders count as one poster."""
        async with self._db.read() as conn:
            # With a single max() aggregate, SQLite takes the bare column sender_name from the max(id) row.
            rows = await conn.execute_fetchall(
                "SELECT sender_id, sender_name, count(*) AS posts, max(id) AS latest FROM items "
                "WHERE chat_id = ? GROUP BY sender_id ORDER BY posts DESC, latest DESC LIMIT ?",
                (chat_id, limit),
            )
        return [(row[0], row[1], int(row[2])) for row in rows]

    async def _replace_facet(
        self, conn: aiosqlite.Connection, item_id: int, facet: int, vector: npt.ArrayLike | None
    ) -> None:
        rows = await conn.execute_fetchall("SELECT chat_id, model FROM items WHERE id = ?", (item_id,))
        if not rows:
            raise LookupError(f"no item {item_id}")
        chat_id, model = next(iter(rows))
        unit = None if vector is None else unit_vector(vector)
        # A re-embedding staged before this edit is stale: the item is embedded again with its new content.
        await conn.execute("DELETE FROM reembedded WHERE item_id = ? AND state = 'ready'", (item_id,))
        await segments.unseal_items(conn, [item_id])
        if unit is None:
            await conn.execute("DELETE FROM vectors WHERE item_id = ? AND facet = ?", (item_id, facet))
        else:
            await segments.write_vectors(conn, [(item_id, facet, chat_id, model, to_blob(unit))])
        await segments.seal(conn, chat_id, model)
        self._notify_after_commit([VectorsChanged(chat_id, model, item_id, {facet: unit}, new_item=False)])

    def reset_chats_after_commit(self, chat_ids: tuple[int, ...]) -> None:
        """Called inside a transaction that moves or deletes whole chats (storage.chats): listeners rebuild them."""
        self._notify_after_commit([ChatsReset(chat_ids)])

    def _notify_after_commit(self, events: Sequence[ItemEvent]) -> None:
        if events:
            self._db.after_commit(self._listeners.telling(events))

    async def _one(self, query: str, params: tuple[Any, ...] | dict[str, Any]) -> Item | None:
        async with self._db.read() as conn:
            rows = list(await conn.execute_fetchall(query, params))
        return item_from_row(rows[0]) if rows else None

    async def _counts(self, query: str, chat_id: int) -> dict[str, int]:
        async with self._db.read() as conn:
            rows = await conn.execute_fetchall(query, (chat_id,))
        return {str(row[0]): int(row[1]) for row in rows}


def only_item(item: NewItem, stored: Sequence[Item]) -> Item:
    """What `add_many` of one item returned: the item, or nothing because its message was forgotten."""
    if not stored:
        raise ForgottenMessage(f"message {item.message_id} of chat {item.chat_id} was forgotten")
    return stored[0]


def unit_vectors(vectors: Vectors) -> dict[int, FloatMatrix]:
    """Validated before any SQL runs, so a bad vector never leaves half an item behind."""
    if FACET_MEDIA not in vectors and FACET_TEXT not in vectors:
        raise ValueError("an item needs a FACET_MEDIA vector (a text message: a FACET_TEXT one)")
    unknown = set(vectors) - set(ALL_FACETS)
    if unknown:
        raise ValueError(f"unknown facets {sorted(unknown)}")
    units = {facet: unit_vector(vector) for facet, vector in vectors.items()}
    if len({unit.size for unit in units.values()}) != 1:
        raise ValueError("all facets of an item must have the same dimension")
    return units


async def _existing_items(conn: aiosqlite.Connection, items: Iterable[NewItem]) -> dict[tuple[int, int], Item]:
    """Stored items among these messages, keyed by the message address (origin chat, message id)."""
    keys = json.dumps([[item.chat_id, item.message_id] for item in items])
    rows = await conn.execute_fetchall(
        "SELECT items.* FROM json_each(?) AS k JOIN items "
        "ON items.origin_chat_id = json_extract(k.value, '$[0]') AND items.message_id = json_extract(k.value, '$[1]')",
        (keys,),
    )
    return {(int(row["origin_chat_id"]), int(row["message_id"])): item_from_row(row) for row in rows}


async def _chat_moves(conn: aiosqlite.Connection, chat_ids: Iterable[int]) -> dict[int, int]:
    """Where chats that became supergroups live now: a late message of the old group joins the new chat."""
    rows = await conn.execute_fetchall(
        "SELECT old_chat_id, new_chat_id FROM chat_moves WHERE old_chat_id IN (SELECT value FROM json_each(?))",
        (json.dumps(sorted(chat_ids)),),
    )
    return {int(row[0]): int(row[1]) for row in rows}


async def _next_item_id(conn: aiosqlite.Connection) -> int:
    """Ids are assigned here (under the write lock): a batch is one executemany, not a round trip per row."""
    rows = await conn.execute_fetchall("SELECT coalesce(max(id), 0) + 1 FROM items")
    return int(next(iter(rows))[0])


def _plan_batch(
    prepared: Sequence[tuple[NewItem, dict[int, FloatMatrix]]],
    known: dict[tuple[int, int], Item],
    moved: Mapping[int, int],
    next_id: int,
) -> tuple[list[Item], list[tuple[Item, dict[int, FloatMatrix]]]]:
    """The item each entry resolves to (duplicates included), and the new ones with their ids; updates `known`."""
    results: list[Item] = []
    created: list[tuple[Item, dict[int, FloatMatrix]]] = []
    for item, units in prepared:
        stored = known.get((item.chat_id, item.message_id))
        if stored is None:
            stored = as_stored(item, next_id + len(created), moved.get(item.chat_id, item.chat_id))
            known[(item.chat_id, item.message_id)] = stored
            created.append((stored, units))
        results.append(stored)
    return results, created


def as_stored(item: NewItem, item_id: int, chat_id: int) -> Item:
    values = {field.name: getattr(item, field.name) for field in fields(NewItem)}
    values["chat_id"] = chat_id
    return Item(**values, id=item_id, origin_chat_id=None if chat_id == item.chat_id else item.chat_id)


def origin_of(item: Item) -> int:
    return item.chat_id if item.origin_chat_id is None else item.origin_chat_id


def _item_params(item: Item) -> tuple[Any, ...]:
    return (
        item.id, item.chat_id, origin_of(item), item.message_id, item.sender_id, item.sender_name,
        item.date, item.kind, item.file_id, item.file_unique_id, item.caption, item.model, item.route,
        item.media_group_id, item.source_path,
    )  # fmt: skip


def _vector_rows(item: Item, vectors: Mapping[int, FloatMatrix]) -> list[segments.VectorRow]:
    return [(item.id, facet, item.chat_id, item.model, to_blob(vector)) for facet, vector in sorted(vectors.items())]


def item_from_row(row: Row) -> Item:
    """Also reads PostgreSQL's records (storage.postgres.items): the columns are named alike."""
    origin = row["origin_chat_id"]
    return Item(
        id=row["id"],
        chat_id=row["chat_id"],
        origin_chat_id=None if origin == row["chat_id"] else origin,
        message_id=row["message_id"],
        sender_id=row["sender_id"],
        sender_name=row["sender_name"],
        date=row["date"],
        kind=row["kind"],
        file_id=row["file_id"],
        file_unique_id=row["file_unique_id"],
        caption=row["caption"],
        model=row["model"],
        route=row["route"],
        media_group_id=row["media_group_id"],
        source_path=row["source_path"],
    )
