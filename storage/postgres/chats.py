"""A chat as a whole in PostgreSQL: the same contract as `storage.chats.ChatRepository` (settings, titles,
membership), and moving or deleting everything stored about it, table by table as `storage.per_chat_tables` does
for SQLite (both backends are checked against its `CHAT_TABLES`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from storage.chats import SETTINGS_FIELDS, settings_from_row, validated
from storage.models import ChatSettings
from storage.per_chat_tables import SETTINGS_COLUMNS
from storage.postgres.db import Connection, PgDatabase, translated
from storage.postgres.items import PgItemRepository

log = logging.getLogger(__name__)

_COLUMNS = ", ".join(SETTINGS_COLUMNS)
_SELECT_SETTINGS = f"SELECT {_COLUMNS} FROM chats WHERE chat_id = $1"  # noqa: S608 - constant column names
_UPSERT_SETTINGS = (
    f"INSERT INTO chats (chat_id, {_COLUMNS}) "  # noqa: S608 - constant column names
    f"VALUES ({', '.join(f'${n}' for n in range(1, len(SETTINGS_COLUMNS) + 2))}) "
    "ON CONFLICT (chat_id) DO UPDATE SET " + ", ".join(f"{name} = excluded.{name}" for name in SETTINGS_COLUMNS)
)


class PgChatRepository:
    def __init__(self, db: PgDatabase, items: PgItemRepository) -> None:
        self._db = db
        self._items = items

    async def settings(self, chat_id: int) -> ChatSettings:
        with translated():
            return await _read_settings(self._db.pool, chat_id)

    async def update_settings(self, chat_id: int, **changes: Any) -> ChatSettings:
        """Change some settings (by ChatSettings field name), keep the others; returns the result. Two processes
        changing different settings of one chat at once both keep theirs (the row is locked while merged)."""
        unknown = set(changes) - SETTINGS_FIELDS
        if unknown:
            raise ValueError(f"unknown chat settings {sorted(unknown)}")
        async with self._db.transaction() as work:
            await work.conn.execute("INSERT INTO chats (chat_id) VALUES ($1) ON CONFLICT DO NOTHING", chat_id)
            await work.conn.execute("SELECT 1 FROM chats WHERE chat_id = $1 FOR UPDATE", chat_id)
            updated = validated(dataclasses.replace(await _read_settings(work.conn, chat_id), **changes))
            await work.conn.execute(_UPSERT_SETTINGS, chat_id, *(getattr(updated, name) for name in SETTINGS_COLUMNS))
        return updated

    async def remember_title(self, chat_id: int, title: str) -> None:
        await self._db.execute(
            "INSERT INTO chats (chat_id, title) VALUES ($1, $2) ON CONFLICT (chat_id) DO UPDATE "
            "SET title = excluded.title", chat_id, title,
        )

    async def titles(self) -> dict[int, str]:
        rows = await self._db.fetch("SELECT chat_id, title FROM chats WHERE title IS NOT NULL")
        return {int(row[0]): str(row[1]) for row in rows}

    async def mark_removed(self, chat_id: int, at: int) -> None:
        """The bot left or was removed; told twice, the earliest time stays, so retention is not reset."""
        await self._db.execute(
            "INSERT INTO chats (chat_id, removed_at) VALUES ($1, $2) ON CONFLICT (chat_id) DO UPDATE "
            "SET removed_at = coalesce(chats.removed_at, excluded.removed_at)", chat_id, at,
        )

    async def mark_active(self, chat_id: int) -> None:
        await self._db.execute("UPDATE chats SET removed_at = NULL WHERE chat_id = $1", chat_id)

    async def known_ids(self) -> set[int]:
        """Every chat the bot has stored anything for: settings, items or queued work."""
        rows = await self._db.fetch("SELECT chat_id FROM chats UNION SELECT chat_id FROM items "
                                    "UNION SELECT chat_id FROM jobs")
        return {int(row[0]) for row in rows}

    async def is_active(self, chat_id: int) -> bool:
        return not await self._db.fetchval(
            "SELECT EXISTS (SELECT 1 FROM chats WHERE chat_id = $1 AND removed_at IS NOT NULL)", chat_id)

    async def expired(self, removed_before: int) -> list[int]:
        """Chats the bot left before that time: their data is due for purging."""
        rows = await self._db.fetch("SELECT chat_id FROM chats WHERE removed_at < $1 ORDER BY chat_id",
                                    removed_before)
        return [int(row[0]) for row in rows]

    async def with_retention(self) -> list[tuple[int, int]]:
        """(chat id, retention days) of every chat that keeps its items for a limited time."""
        rows = await self._db.fetch(
            "SELECT chat_id, retention_days FROM chats WHERE retention_days IS NOT NULL ORDER BY chat_id")
        return [(int(row[0]), int(row[1])) for row in rows]

    async def move(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup: all its data follows in one transaction; a replay changes nothing."""
        if old_chat_id == new_chat_id:
            return
        async with self._db.transaction() as work:
            await move_chat(work.conn, old_chat_id, new_chat_id, now=int(time.time()))
            self._items.reset_chats_after_commit(work, (old_chat_id, new_chat_id))
        log.info("chat moved", extra={"chat_id": old_chat_id, "new_chat_id": new_chat_id})

    async def purge(self, chat_id: int) -> None:
        """Delete everything stored about the chat, in one transaction."""
        async with self._db.transaction() as work:
            await purge_chat(work.conn, chat_id)
            self._items.reset_chats_after_commit(work, (chat_id,))
        log.info("chat purged", extra={"chat_id": chat_id})


async def _read_settings(conn: Connection, chat_id: int) -> ChatSettings:
    row = await conn.fetchrow(_SELECT_SETTINGS, chat_id)
    return ChatSettings() if row is None else settings_from_row(tuple(row))


# Each statement takes the old chat id as $1 and the new one (if it needs it) as $2, and selects by the old one: a
# replay finds nothing to move. A feedback entry the new chat already holds (the same ignored file) wins over the old
# chat's.
_FORGET_ALBUMS = (
    "DELETE FROM album_items WHERE chat_id = $1",
    "DELETE FROM album_alerts WHERE chat_id = $1",
)

_MOVE = (
    "UPDATE items SET chat_id = $2 WHERE chat_id = $1",
    "UPDATE vectors SET chat_id = $2 WHERE chat_id = $1",
    # The old group's settings win: the supergroup is the same community, created by the migration.
    f"INSERT INTO chats (chat_id, {_COLUMNS}, removed_at) SELECT $2, {_COLUMNS}, NULL FROM chats "  # noqa: S608
    "WHERE chat_id = $1 ON CONFLICT (chat_id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in SETTINGS_COLUMNS),
    "DELETE FROM chats WHERE chat_id = $1",
    "UPDATE dismissals SET chat_id = $2 WHERE chat_id = $1",
    "UPDATE ignored SET chat_id = $2 WHERE chat_id = $1 AND NOT EXISTS (SELECT 1 FROM ignored AS mine "
    "WHERE mine.chat_id = $2 AND mine.file_unique_id = ignored.file_unique_id)",
    "DELETE FROM ignored WHERE chat_id = $1",
    "UPDATE nearest SET chat_id = $2 WHERE chat_id = $1",
    # Counters add up: the new chat may already have usage of its own for the same day.
    "INSERT INTO usage (chat_id, user_id, day, requests, input_tokens, image_tokens) "
    "SELECT $2, user_id, day, requests, input_tokens, image_tokens FROM usage WHERE chat_id = $1 "
    "ON CONFLICT (chat_id, user_id, day) DO UPDATE SET requests = usage.requests + excluded.requests, "
    "input_tokens = usage.input_tokens + excluded.input_tokens, "
    "image_tokens = usage.image_tokens + excluded.image_tokens",
    "DELETE FROM usage WHERE chat_id = $1",
    "INSERT INTO chat_counters (chat_id, reposts_called, skipped_over_cap, replies_failed, alerts_dismissed) "
    "SELECT $2, reposts_called, skipped_over_cap, replies_failed, alerts_dismissed FROM chat_counters "
    "WHERE chat_id = $1 ON CONFLICT (chat_id) DO UPDATE SET "
    "reposts_called = chat_counters.reposts_called + excluded.reposts_called, "
    "skipped_over_cap = chat_counters.skipped_over_cap + excluded.skipped_over_cap, "
    "replies_failed = chat_counters.replies_failed + excluded.replies_failed, "
    "alerts_dismissed = chat_counters.alerts_dismissed + excluded.alerts_dismissed",
    "DELETE FROM chat_counters WHERE chat_id = $1",
    "UPDATE jobs SET chat_id = $2 WHERE chat_id = $1",
    "UPDATE reembedded SET chat_id = $2 WHERE chat_id = $1",
    "UPDATE confirmations SET chat_id = $2 WHERE chat_id = $1",
    "UPDATE confirmations SET target_chat_id = $2 WHERE target_chat_id = $1",
    # forgotten_messages stay keyed by the Telegram address (the old chat's id), as items' origin_chat_id does.
    # Late arrivals addressed to any earlier id of the chat are routed to its newest id.
    "UPDATE chat_moves SET new_chat_id = $2 WHERE new_chat_id = $1",
    # The group's pacing goes on in the supergroup; an album still being collected under the old id loses its alert
    # (its items are stored), as the migration message arrives between two albums in practice.
    "UPDATE alerts_sent SET chat_id = $2 WHERE chat_id = $1",
    *_FORGET_ALBUMS,
)

_PURGE = (
    # Cached embeddings of files that no other chat has posted.
    "DELETE FROM embedding_cache WHERE file_unique_id IN (SELECT mine.file_unique_id FROM items AS mine "
    "WHERE mine.chat_id = $1 AND NOT EXISTS (SELECT 1 FROM items AS other "
    "WHERE other.file_unique_id = mine.file_unique_id AND other.chat_id != $1))",
    # Tombstones of the chat, under its own id and under the ids it had before becoming a supergroup.
    "DELETE FROM forgotten_messages WHERE chat_id = $1 OR chat_id IN "
    "(SELECT old_chat_id FROM chat_moves WHERE new_chat_id = $1)",
    "DELETE FROM reembedded WHERE chat_id = $1",
    "DELETE FROM vectors WHERE chat_id = $1",
    "DELETE FROM items WHERE chat_id = $1",
    "DELETE FROM chats WHERE chat_id = $1",
    "DELETE FROM usage WHERE chat_id = $1",
    "DELETE FROM chat_counters WHERE chat_id = $1",
    "DELETE FROM jobs WHERE chat_id = $1",
    "DELETE FROM confirmations WHERE chat_id = $1 OR target_chat_id = $1",
    "DELETE FROM alerts_sent WHERE chat_id = $1",
    *_FORGET_ALBUMS,
    "DELETE FROM chat_moves WHERE new_chat_id = $1",
    "DELETE FROM dismissals WHERE chat_id = $1",
    "DELETE FROM ignored WHERE chat_id = $1",
    "DELETE FROM nearest WHERE chat_id = $1",
)


async def move_chat(conn: Connection, old_chat_id: int, new_chat_id: int, *, now: int) -> None:
    """Re-home the chat's data inside the caller's transaction."""
    for statement in _MOVE:
        await conn.execute(statement, *((old_chat_id, new_chat_id) if "$2" in statement else (old_chat_id,)))
    await conn.execute(
        "INSERT INTO chat_moves (old_chat_id, new_chat_id, moved_at) VALUES ($1, $2, $3) "
        "ON CONFLICT (old_chat_id) DO UPDATE SET new_chat_id = excluded.new_chat_id, moved_at = excluded.moved_at",
        old_chat_id, new_chat_id, now,
    )


async def purge_chat(conn: Connection, chat_id: int) -> None:
    """Delete the chat's data inside the caller's transaction."""
    for statement in _PURGE:
        await conn.execute(statement, chat_id)
