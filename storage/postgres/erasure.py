"""Deleting items for good in PostgreSQL: the same rules as `storage.erasure` (read its docstring), in SQL of this
backend. The item rows go, and their vectors and staged re-embeddings with them (foreign keys cascade); a tombstone
keeps only each message's Telegram address. All functions run inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from storage.models import Item
from storage.postgres.db import Connection


async def erase_items(conn: Connection, items: Sequence[Item], *, now: int) -> None:
    ids = [item.id for item in items]
    await conn.execute("DELETE FROM items WHERE id = ANY($1::bigint[])", ids)
    await conn.execute(
        "DELETE FROM embedding_cache WHERE file_unique_id = ANY($1::text[]) "
        "AND NOT EXISTS (SELECT 1 FROM items WHERE items.file_unique_id = embedding_cache.file_unique_id)",
        sorted({item.file_unique_id for item in items}),
    )
    await _erase_feedback(conn, items)
    await forget_addresses(conn, [(item.origin_chat_id or item.chat_id, item.message_id) for item in items], now=now)


async def _erase_feedback(conn: Connection, items: Sequence[Item]) -> None:
    """Nearest-neighbour records of these items, and dismissals and ignore-list entries holding a copy of their
    file's vector unless another item of the chat still holds that file. Runs after the items' rows are gone."""
    ids = [item.id for item in items]
    await conn.execute("DELETE FROM nearest WHERE item_id = ANY($1::bigint[]) OR neighbour_id = ANY($1::bigint[])",
                       ids)
    pairs = sorted({(item.chat_id, item.file_unique_id) for item in items})
    orphaned = ("SELECT o.chat_id, o.file FROM unnest($1::bigint[], $2::text[]) AS o (chat_id, file) "
                "WHERE NOT EXISTS (SELECT 1 FROM items WHERE items.chat_id = o.chat_id "
                "AND items.file_unique_id = o.file)")
    chats, files = [chat for chat, _ in pairs], [file for _, file in pairs]
    await conn.execute(
        f"DELETE FROM dismissals WHERE EXISTS (SELECT 1 FROM ({orphaned}) AS o "  # noqa: S608 - a constant
        "WHERE o.chat_id = dismissals.chat_id AND o.file IN (dismissals.file_a, dismissals.file_b))",
        chats, files,
    )
    await conn.execute(
        f"DELETE FROM ignored WHERE EXISTS (SELECT 1 FROM ({orphaned}) AS o "  # noqa: S608 - a constant
        "WHERE o.chat_id = ignored.chat_id AND o.file = ignored.file_unique_id)",
        chats, files,
    )


async def forget_addresses(conn: Connection, addresses: Sequence[tuple[int, int]], *, now: int) -> int:
    """The messages at these (chat id, message id) addresses: their queue jobs go (unfinished ones too), and a
    tombstone stays. Returns the jobs deleted."""
    chats, messages = [chat for chat, _ in addresses], [message for _, message in addresses]
    status = await conn.execute(
        "DELETE FROM jobs USING unnest($1::bigint[], $2::bigint[]) AS k (chat_id, message_id) "
        "WHERE jobs.payload -> 'chat' ->> 'id' = k.chat_id::text "
        "AND jobs.payload ->> 'message_id' = k.message_id::text",
        chats, messages,
    )
    await conn.execute(
        "INSERT INTO forgotten_messages (chat_id, message_id, forgotten_at) "
        "SELECT chat_id, message_id, $3 FROM unnest($1::bigint[], $2::bigint[]) AS k (chat_id, message_id) "
        "ON CONFLICT DO NOTHING",
        chats, messages, now,
    )
    return int(status.split()[-1])


async def drop_vectors(conn: Connection, items: Sequence[Item]) -> None:
    """An original Telegram no longer serves: its vectors go (it is never found again), the item row stays."""
    ids = [item.id for item in items]
    await conn.execute("DELETE FROM vectors WHERE item_id = ANY($1::bigint[])", ids)
    await conn.execute("UPDATE items SET unavailable = TRUE WHERE id = ANY($1::bigint[])", ids)


async def forgotten(conn: Connection, addresses: Sequence[tuple[int, int]]) -> set[tuple[int, int]]:
    """Which of these (chat id, message id) addresses were deleted on request."""
    rows = await conn.fetch(
        "SELECT f.chat_id, f.message_id FROM unnest($1::bigint[], $2::bigint[]) AS k (chat_id, message_id) "
        "JOIN forgotten_messages AS f ON f.chat_id = k.chat_id AND f.message_id = k.message_id",
        [chat for chat, _ in addresses], [message for _, message in addresses],
    )
    return {(int(row[0]), int(row[1])) for row in rows}
