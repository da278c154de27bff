"""Everything SQLite holds about one chat, moved or deleted as a whole.

Kept in one place so that a new per-chat table cannot be forgotten by either operation. Both functions run
inside the caller's transaction: a group→supergroup move or a retention purge is all-or-nothing.
"""

from __future__ import annotations

import aiosqlite

from storage import segments

SETTINGS_COLUMNS = ("repost_threshold", "alert_stickers", "alert_animations", "alert_style", "own_repost_hours",
                    "language", "retention_days", "text_indexing")
"""The settings columns of `chats`, named as the ChatSettings fields: moved with the chat, read and written by
storage.chats."""

CHAT_TABLES: dict[str, tuple[str, ...]] = {
    "items": ("chat_id",),
    "vectors": ("chat_id",),
    "segments": ("chat_id",),
    "chats": ("chat_id",),
    "chat_moves": ("new_chat_id",),
    "jobs": ("chat_id",),
    "usage": ("chat_id",),
    "chat_counters": ("chat_id",),
    "dismissals": ("chat_id",),
    "ignored": ("chat_id",),
    "nearest": ("chat_id",),
    "reembedded": ("chat_id",),
    "confirmations": ("chat_id", "target_chat_id"),
    "forgotten_messages": ("chat_id",),
    "alerts_sent": ("chat_id",),
    "album_items": ("chat_id",),
    "album_alerts": ("chat_id",),
}
"""Every table holding a chat's rows (in either backend's schema), by the columns naming the chat: a move leaves none
under the old id but the tombstones (`forgotten_messages`, keyed by the Telegram address) and the move's own record
(`chat_moves.old_chat_id`), and a purge leaves none at all. Both backends' move and purge (this module, and
storage.postgres.chats) are tested against it, and a test fails when a schema grows a chat column not listed here."""

# What people told the bot about a chat's media, and each item's nearest earlier one (storage.feedback). An entry
# the new chat already holds (the same ignored file) wins over the old chat's duplicate.
_MOVE_FEEDBACK = (
    "UPDATE OR IGNORE dismissals SET chat_id = :new WHERE chat_id = :old",
    "UPDATE OR IGNORE ignored SET chat_id = :new WHERE chat_id = :old",
    "UPDATE OR IGNORE nearest SET chat_id = :new WHERE chat_id = :old",
    "DELETE FROM ignored WHERE chat_id = :old",
)
_PURGE_FEEDBACK = (
    "DELETE FROM dismissals WHERE chat_id = ?",
    "DELETE FROM ignored WHERE chat_id = ?",
    "DELETE FROM nearest WHERE chat_id = ?",
)


async def move_chat(conn: aiosqlite.Connection, old_chat_id: int, new_chat_id: int, *, now: int) -> None:
    """Re-home the chat's data; all statements select by `old_chat_id`, so a replay finds nothing to move."""
    await conn.execute("UPDATE items SET chat_id = ? WHERE chat_id = ?", (new_chat_id, old_chat_id))
    await segments.move_chat(conn, old_chat_id, new_chat_id)
    await _move_settings(conn, old_chat_id, new_chat_id)
    for statement in _MOVE_FEEDBACK:
        await conn.execute(statement, {"new": new_chat_id, "old": old_chat_id})
    await _move_usage(conn, old_chat_id, new_chat_id)
    await conn.execute("UPDATE jobs SET chat_id = ? WHERE chat_id = ?", (new_chat_id, old_chat_id))
    await conn.execute("UPDATE reembedded SET chat_id = ? WHERE chat_id = ?", (new_chat_id, old_chat_id))
    await conn.execute("UPDATE confirmations SET chat_id = ? WHERE chat_id = ?", (new_chat_id, old_chat_id))
    await conn.execute(
        "UPDATE confirmations SET target_chat_id = ? WHERE target_chat_id = ?", (new_chat_id, old_chat_id)
    )
    # forgotten_messages stay keyed by the Telegram address (the old chat's id), as items' origin_chat_id does.
    # Late arrivals addressed to any earlier id of the chat are routed to its newest id.
    await conn.execute("UPDATE chat_moves SET new_chat_id = ? WHERE new_chat_id = ?", (new_chat_id, old_chat_id))
    await conn.execute(
        "INSERT INTO chat_moves (old_chat_id, new_chat_id, moved_at) VALUES (?, ?, ?) "
        "ON CONFLICT (old_chat_id) DO UPDATE SET new_chat_id = excluded.new_chat_id, moved_at = "
        "excluded.moved_at",
        (old_chat_id, new_chat_id, now),
    )


async def purge_chat(conn: aiosqlite.Connection, chat_id: int) -> None:
    """Delete the chat's data, including cached embeddings of files that no other chat has posted."""
    await conn.execute(
        """
        DELETE FROM embedding_cache WHERE file_unique_id IN (
            SELECT mine.file_unique_id FROM items AS mine WHERE mine.chat_id = ? AND NOT EXISTS (
                SELECT 1 FROM items AS other
                WHERE other.file_unique_id = mine.file_unique_id AND other.chat_id != ?))
        """,
        (chat_id, chat_id),
    )
    await segments.purge_chat(conn, chat_id)
    # Tombstones of the chat, under its own id and under the ids it had before becoming a supergroup.
    await conn.execute(
        "DELETE FROM forgotten_messages WHERE chat_id = ? OR chat_id IN "
        "(SELECT old_chat_id FROM chat_moves WHERE new_chat_id = ?)",
        (chat_id, chat_id),
    )
    for statement in (
        "DELETE FROM reembedded WHERE chat_id = ?",
        "DELETE FROM items WHERE chat_id = ?",
        "DELETE FROM chats WHERE chat_id = ?",
        "DELETE FROM usage WHERE chat_id = ?",
        "DELETE FROM chat_counters WHERE chat_id = ?",
        "DELETE FROM jobs WHERE chat_id = ?",
        "DELETE FROM confirmations WHERE chat_id = ?1 OR target_chat_id = ?1",
        "DELETE FROM chat_moves WHERE new_chat_id = ?",
        *_PURGE_FEEDBACK,
    ):
        await conn.execute(statement, (chat_id,))


async def _move_settings(conn: aiosqlite.Connection, old_chat_id: int, new_chat_id: int) -> None:
    # The old group's settings win: the supergroup is the same community, and it cannot have been configured
    # before the migration that created it.
    columns = ", ".join(SETTINGS_COLUMNS)
    updates = ", ".join(f"{name} = excluded.{name}" for name in SETTINGS_COLUMNS)
    await conn.execute(
        f"INSERT INTO chats (chat_id, {columns}, removed_at) SELECT ?, {columns}, NULL FROM chats "  # noqa: S608
        f"WHERE chat_id = ? ON CONFLICT (chat_id) DO UPDATE SET {updates}",
        (new_chat_id, old_chat_id),
    )
    await conn.execute("DELETE FROM chats WHERE chat_id = ?", (old_chat_id,))


async def _move_usage(conn: aiosqlite.Connection, old_chat_id: int, new_chat_id: int) -> None:
    # Counters add up: the new chat may already have usage of its own for the same day.
    await conn.execute(
        "INSERT INTO usage (chat_id, user_id, day, requests, input_tokens, image_tokens) "
        "SELECT ?, user_id, day, requests, input_tokens, image_tokens FROM usage WHERE chat_id = ? "
        "ON CONFLICT (chat_id, user_id, day) DO UPDATE SET requests = requests + excluded.requests, "
        "input_tokens = input_tokens + excluded.input_tokens, image_tokens = image_tokens + "
        "excluded.image_tokens",
        (new_chat_id, old_chat_id),
    )
    await conn.execute("DELETE FROM usage WHERE chat_id = ?", (old_chat_id,))
    await conn.execute(
        "INSERT INTO chat_counters (chat_id, reposts_called, skipped_over_cap, replies_failed, alerts_dismissed) "
        "SELECT ?, reposts_called, skipped_over_cap, replies_failed, alerts_dismissed FROM chat_counters "
        "WHERE chat_id = ? ON CONFLICT (chat_id) DO UPDATE SET reposts_called = reposts_called + "
        "excluded.reposts_called, skipped_over_cap = skipped_over_cap + excluded.skipped_over_cap, "
        "replies_failed = replies_failed + excluded.replies_failed, "
        "alerts_dismissed = alerts_dismissed + excluded.alerts_dismissed",
        (new_chat_id, old_chat_id),
    )
    await conn.execute("DELETE FROM chat_counters WHERE chat_id = ?", (old_chat_id,))
