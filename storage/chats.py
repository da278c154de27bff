"""A chat as a whole: its settings, whether the bot is still in it (and since when not), and moving or deleting
everything stored about it.

A chat without a row has the default settings and is active, so nothing needs to be created when the bot first
sees a chat. Removal is remembered with its time so that data is purged only after the retention period.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from typing import Any

import aiosqlite

from storage import per_chat_tables
from storage.db import Database
from storage.items import ItemRepository
from storage.models import ChatSettings
from storage.per_chat_tables import SETTINGS_COLUMNS

log = logging.getLogger(__name__)

SETTINGS_FIELDS = frozenset(field.name for field in dataclasses.fields(ChatSettings))
_COLUMNS = ", ".join(SETTINGS_COLUMNS)
_SELECT_SETTINGS = f"SELECT {_COLUMNS} FROM chats WHERE chat_id = ?"  # noqa: S608 - constant column names
_UPSERT_SETTINGS = (
    f"INSERT INTO chats (chat_id, {_COLUMNS}) VALUES ({', '.join('?' * (len(SETTINGS_COLUMNS) + 1))}) "  # noqa: S608
    "ON CONFLICT (chat_id) DO UPDATE SET " + ", ".join(f"{name} = excluded.{name}" for name in SETTINGS_COLUMNS)
)
ALERT_STYLES = frozenset({"reply", "reaction", "off"})
LANGUAGES = frozenset({"auto", "en", "zh"})
MAX_LEEWAY_HOURS = 24 * 30


class ChatRepository:
    def __init__(self, db: Database, items: ItemRepository) -> None:
        self._db = db
        self._items = items

    async def settings(self, chat_id: int) -> ChatSettings:
        async with self._db.read() as conn:
            return await _read_settings(conn, chat_id)

    async def update_settings(self, chat_id: int, **changes: Any) -> ChatSettings:
        """Change some settings (by ChatSettings field name), keep the others; returns the result."""
        unknown = set(changes) - SETTINGS_FIELDS
        if unknown:
            raise ValueError(f"unknown chat settings {sorted(unknown)}")
        async with self._db.transaction() as conn:
            current = await _read_settings(conn, chat_id)
            updated = validated(dataclasses.replace(current, **changes))
            await conn.execute(_UPSERT_SETTINGS, (chat_id, *(getattr(updated, name) for name in SETTINGS_COLUMNS)))
        return updated

    async def remember_title(self, chat_id: int, title: str) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO chats (chat_id, title) VALUES (?, ?) ON CONFLICT (chat_id) DO UPDATE "
                "SET title = excluded.title", (chat_id, title),
            )

    async def titles(self) -> dict[int, str]:
        async with self._db.read() as conn:
            rows = await conn.execute_fetchall("SELECT chat_id, title FROM chats WHERE title IS NOT NULL")
        return {int(row[0]): str(row[1]) for row in rows}

    async def mark_removed(self, chat_id: int, at: int) -> None:
        """The bot left or was removed; told twice, the earliest time stays, so retention is not reset."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO chats (chat_id, removed_at) VALUES (?, ?) "
                "ON CONFLICT (chat_id) DO UPDATE SET removed_at = coalesce(removed_at, excluded.removed_at)",
                (chat_id, at),
            )

    async def mark_active(self, chat_id: int) -> None:
        async with self._db.transaction() as conn:
            await conn.execute("UPDATE chats SET removed_at = NULL WHERE chat_id = ?", (chat_id,))

    async def known_ids(self) -> set[int]:
        """Every chat the bot has stored anything for: settings, items or queued work."""
        async with self._db.read() as conn:
            rows = await conn.execute_fetchall(
                "SELECT chat_id FROM chats UNION SELECT DISTINCT chat_id FROM items "
                "UNION SELECT DISTINCT chat_id FROM jobs"
            )
        return {int(row[0]) for row in rows}

    async def is_active(self, chat_id: int) -> bool:
        async with self._db.read() as conn:
            rows = await conn.execute_fetchall(
                "SELECT 1 FROM chats WHERE chat_id = ? AND removed_at IS NOT NULL", (chat_id,)
            )
        return not list(rows)

    async def expired(self, removed_before: int) -> list[int]:
        """Chats the bot left before that time: their data is due for purging."""
        async with self._db.read() as conn:
            rows = await conn.execute_fetchall(
                "SELECT chat_id FROM chats WHERE removed_at < ? ORDER BY chat_id", (removed_before,)
            )
        return [int(row[0]) for row in rows]

    async def with_retention(self) -> list[tuple[int, int]]:
        """(chat id, retention days) of every chat that keeps its items for a limited time."""
        async with self._db.read() as conn:
            rows = await conn.execute_fetchall(
                "SELECT chat_id, retention_days FROM chats WHERE retention_days IS NOT NULL ORDER BY chat_id"
            )
        return [(int(row[0]), int(row[1])) for row in rows]

    async def move(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup: all its data follows in one transaction; a replay changes nothing."""
        if old_chat_id == new_chat_id:
            return
        async with self._db.transaction() as conn:
            await per_chat_tables.move_chat(conn, old_chat_id, new_chat_id, now=int(time.time()))
            self._items.reset_chats_after_commit((old_chat_id, new_chat_id))
        log.info("chat moved", extra={"chat_id": old_chat_id, "new_chat_id": new_chat_id})

    async def purge(self, chat_id: int) -> None:
        """Delete everything stored about the chat, in one transaction."""
        async with self._db.transaction() as conn:
            await per_chat_tables.purge_chat(conn, chat_id)
            self._items.reset_chats_after_commit((chat_id,))
        log.info("chat purged", extra={"chat_id": chat_id})


async def _read_settings(conn: aiosqlite.Connection, chat_id: int) -> ChatSettings:
    rows = list(await conn.execute_fetchall(_SELECT_SETTINGS, (chat_id,)))
    return settings_from_row(tuple(rows[0])) if rows else ChatSettings()


def settings_from_row(row: tuple[Any, ...]) -> ChatSettings:
    """The SETTINGS_COLUMNS of a `chats` row, in that order (either backend)."""
    threshold, stickers, animations, style, hours, language, retention, texts = row
    return ChatSettings(
        repost_threshold=None if threshold is None else float(threshold),
        alert_stickers=bool(stickers),
        alert_animations=bool(animations),
        retention_days=None if retention is None else int(retention),
        alert_style=str(style),
        own_repost_hours=int(hours),
        language=str(language),
        text_indexing=bool(texts),
    )


def validated(settings: ChatSettings) -> ChatSettings:
    """Refuses what the columns could hold but the bot cannot use (either backend)."""
    threshold = settings.repost_threshold
    if threshold is not None and (
        isinstance(threshold, bool) or not isinstance(threshold, int | float) or not math.isfinite(threshold)
        or not -1.0 <= threshold <= 1.0
    ):  # fmt: skip
        raise ValueError(f"repost_threshold must be a cosine similarity in [-1, 1] or None, got {threshold!r}")
    for name in ("alert_stickers", "alert_animations", "text_indexing"):
        if not isinstance(getattr(settings, name), bool):
            raise ValueError(f"{name} must be a bool")
    days = settings.retention_days
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 1):
        raise ValueError(f"retention_days must be a positive number of days or None, got {days!r}")
    if settings.alert_style not in ALERT_STYLES:
        raise ValueError(f"alert_style must be one of {sorted(ALERT_STYLES)}")
    if settings.language not in LANGUAGES:
        raise ValueError(f"language must be one of {sorted(LANGUAGES)}")
    hours = settings.own_repost_hours
    if isinstance(hours, bool) or not isinstance(hours, int) or not 0 <= hours <= MAX_LEEWAY_HOURS:
        raise ValueError(f"own_repost_hours must be an int in [0, {MAX_LEEWAY_HOURS}]")
    return settings if threshold is None else dataclasses.replace(settings, repost_threshold=float(threshold))
