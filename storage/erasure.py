"""Deleting items for good: every trace of them, in one transaction, and a tombstone so they never come back.

"Deleted" means gone from the database, not flagged: the item row (ids, names, caption), its vectors and their
sealed copies, the queue jobs that carried the message (their payloads hold the caption too), and the cached
embeddings of its file when no remaining item uses that file (a vector derived from someone's media is not kept
under another key). What remains is a tombstone holding only the message's Telegram address, so that a replayed
update or a history import of the same message does not re-create it. All functions run inside the caller's
transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import aiosqlite

from storage import segments
from storage.models import Item


async def erase_items(conn: aiosqlite.Connection, items: Sequence[Item], *, now: int) -> None:
    ids = json.dumps([item.id for item in items])
    await segments.unseal_items(conn, [item.id for item in items])
    await conn.execute("DELETE FROM vectors WHERE item_id IN (SELECT value FROM json_each(?))", (ids,))
    await conn.execute("DELETE FROM items WHERE id IN (SELECT value FROM json_each(?))", (ids,))
    await conn.execute(
        "DELETE FROM embedding_cache WHERE file_unique_id IN (SELECT value FROM json_each(?)) "
        "AND NOT EXISTS (SELECT 1 FROM items WHERE items.file_unique_id = embedding_cache.file_unique_id)",
        (json.dumps(sorted({item.file_unique_id for item in items})),),
    )
    await _erase_feedback(conn, items)
    await forget_addresses(conn, [(item.origin_chat_id or item.chat_id, item.message_id) for item in items], now=now)
    for chat_id, model in sorted({(item.chat_id, item.model) for item in items}):
        await segments.seal(conn, chat_id, model)


async def _erase_feedback(conn: aiosqlite.Connection, items: Sequence[Item]) -> None:
    """What people told the bot about these items goes with them: their nearest-neighbour records, and the
    dismissals and ignore-list entries that keep a copy of their file's vector, unless another item of the chat still
    holds that file. Runs after the items' rows are gone."""
    ids = json.dumps([item.id for item in items])
    await conn.execute(
        "DELETE FROM nearest WHERE item_id IN (SELECT value FROM json_each(?)) "
        "OR neighbour_id IN (SELECT value FROM json_each(?))",
        (ids, ids),
    )
    files = json.dumps(sorted({(item.chat_id, item.file_unique_id) for item in items}))
    orphaned = ("SELECT json_extract(value, '$[0]') AS chat_id, json_extract(value, '$[1]') AS file FROM json_each(?) "
                "WHERE NOT EXISTS (SELECT 1 FROM items WHERE items.chat_id = json_extract(value, '$[0]') "
                "AND items.file_unique_id = json_extract(value, '$[1]'))")
    await conn.execute(
        f"DELETE FROM dismissals WHERE EXISTS (SELECT 1 FROM ({orphaned}) AS o "  # noqa: S608 - a constant
        "WHERE o.chat_id = dismissals.chat_id AND o.file IN (dismissals.file_a, dismissals.file_b))",
        (files,),
    )
    await conn.execute(
        f"DELETE FROM ignored WHERE EXISTS (SELECT 1 FROM ({orphaned}) AS o "  # noqa: S608 - a constant
        "WHERE o.chat_id = ignored.chat_id AND o.file = ignored.file_unique_id)",
        (files,),
    )


async def forget_addresses(conn: aiosqlite.Connection, addresses: Sequence[tuple[int, int]], *, now: int) -> int:
    """The messages at these (chat id, message id) addresses: their queue jobs go (also unfinished ones: a message
    forgotten before it was processed is never processed), and a tombstone stays. Returns the jobs deleted."""
    keys = json.dumps([list(address) for address in addresses])
    jobs = await conn.execute(
        "DELETE FROM jobs WHERE EXISTS (SELECT 1 FROM json_each(?) AS k "
        "WHERE json_extract(jobs.payload, '$.chat.id') = json_extract(k.value, '$[0]') "
        "AND json_extract(jobs.payload, '$.message_id') = json_extract(k.value, '$[1]'))",
        (keys,),
    )
    await conn.execute(
        "INSERT OR IGNORE INTO forgotten_messages (chat_id, message_id, forgotten_at) "
        "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), ? FROM json_each(?)",
        (now, keys),
    )
    return jobs.rowcount


async def drop_vectors(conn: aiosqlite.Connection, items: Sequence[Item]) -> None:
    """An original Telegram no longer serves: its vectors go (it is never found again), the item row stays."""
    ids = json.dumps([item.id for item in items])
    await segments.unseal_items(conn, [item.id for item in items])
    await conn.execute("DELETE FROM vectors WHERE item_id IN (SELECT value FROM json_each(?))", (ids,))
    await conn.execute("UPDATE items SET unavailable = 1 WHERE id IN (SELECT value FROM json_each(?))", (ids,))
    for chat_id, model in sorted({(item.chat_id, item.model) for item in items}):
        await segments.seal(conn, chat_id, model)


async def forgotten(conn: aiosqlite.Connection, addresses: Sequence[tuple[int, int]]) -> set[tuple[int, int]]:
    """Which of these (chat id, message id) addresses were deleted on request."""
    rows = await conn.execute_fetchall(
        "SELECT f.chat_id, f.message_id FROM json_each(?) AS k JOIN forgotten_messages AS f "
        "ON f.chat_id = json_extract(k.value, '$[0]') AND f.message_id = json_extract(k.value, '$[1]')",
        (json.dumps([list(address) for address in addresses]),),
    )
    return {(int(row[0]), int(row[1])) for row in rows}
