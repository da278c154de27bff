"""Numbered schema migrations, applied in order at start-up, each in its own transaction.

`schema_version` records every applied migration. A migration is never edited once released: a schema change
is a new entry at the end of `MIGRATIONS`. A database newer than the code is refused rather than guessed at.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import aiosqlite
import numpy as np

from storage.vectors import quantise

log = logging.getLogger(__name__)

Apply = Callable[[aiosqlite.Connection], Awaitable[None]]


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer version of the bot; opening it could corrupt it."""


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Apply


def sql(*statements: str) -> Apply:
    """A migration of plain statements (no scripts: sqlite3's executescript would COMMIT mid-migration)."""

    async def apply(conn: aiosqlite.Connection) -> None:
        for statement in statements:
            await conn.execute(statement)

    return apply


MEDIA_SCHEMA = sql(
    # (origin_chat_id, message_id) is the Telegram address of the message and never changes; chat_id is the chat
    # whose index holds the item and changes when a group becomes a supergroup.
    """CREATE TABLE items (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL,
        origin_chat_id INTEGER NOT NULL,
        message_id INTEGER NOT NULL,
        sender_id INTEGER,
        sender_name TEXT,
        date INTEGER NOT NULL,
        kind TEXT NOT NULL,
        file_id TEXT NOT NULL,
        file_unique_id TEXT NOT NULL,
        caption TEXT,
        model TEXT NOT NULL,
        route TEXT NOT NULL,
        media_group_id TEXT,
        UNIQUE (origin_chat_id, message_id)
    )""",
    "CREATE INDEX items_by_chat_file ON items (chat_id, file_unique_id, date)",
    "CREATE INDEX items_by_file ON items (file_unique_id)",
    # The source of truth for vectors: one row per (item, facet). segment_id names the sealed segment that also
    # holds a copy (NULL: still in the chat's unsealed tail). chat_id and model are copied from the item so that the
    # tail of a chat is one index range.
    """CREATE TABLE vectors (
        item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
        facet INTEGER NOT NULL,
        chat_id INTEGER NOT NULL,
        model TEXT NOT NULL,
        segment_id INTEGER,
        vector BLOB NOT NULL,
        PRIMARY KEY (item_id, facet)
    )""",
    "CREATE INDEX vectors_by_segment ON vectors (chat_id, model, segment_id)",
    # A read-optimised copy of `rows` vectors of one chat: little-endian int64 ids, int8 facets, float32 matrix.
    # Small columns first, so that listing segments does not read the BLOBs' overflow pages.
    """CREATE TABLE segments (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL,
        model TEXT NOT NULL,
        rows INTEGER NOT NULL,
        item_ids BLOB NOT NULL,
        facets BLOB NOT NULL,
        matrix BLOB NOT NULL
    )""",
    "CREATE INDEX segments_by_chat ON segments (chat_id, model)",
    """CREATE TABLE embedding_cache (
        file_unique_id TEXT NOT NULL,
        model TEXT NOT NULL,
        route TEXT NOT NULL,
        vector BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (file_unique_id, model)
    )""",
    """CREATE TABLE chats (
        chat_id INTEGER PRIMARY KEY,
        repost_threshold REAL,
        alert_stickers INTEGER NOT NULL DEFAULT 0,
        alert_animations INTEGER NOT NULL DEFAULT 1,
        removed_at INTEGER
    )""",
    """CREATE TABLE chat_moves (
        old_chat_id INTEGER PRIMARY KEY,
        new_chat_id INTEGER NOT NULL,
        moved_at INTEGER NOT NULL
    )""",
)

QUEUE_AND_USAGE_SCHEMA = sql(
    """CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        chat_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        error TEXT,
        reply_state TEXT,
        created_at INTEGER NOT NULL
    )""",
    "CREATE INDEX jobs_unfinished_by_chat ON jobs (chat_id, id) WHERE state IN ('pending', 'running')",
    "CREATE INDEX jobs_by_state ON jobs (state, next_attempt_at)",
    "CREATE INDEX jobs_by_chat_state ON jobs (chat_id, state)",
    # user_id 0 stands for "no known sender" (anonymous admins, channels): a NULL would defeat the primary key.
    """CREATE TABLE usage (
        chat_id INTEGER NOT NULL,
        user_id INTEGER NOT NULL,
        day INTEGER NOT NULL,
        requests REAL NOT NULL DEFAULT 0,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        image_tokens INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (chat_id, user_id, day)
    ) WITHOUT ROWID""",
    "CREATE INDEX usage_by_day_user ON usage (day, user_id)",
    """CREATE TABLE chat_counters (
        chat_id INTEGER PRIMARY KEY,
        reposts_called INTEGER NOT NULL DEFAULT 0,
        skipped_over_cap INTEGER NOT NULL DEFAULT 0
    )""",
)

JOB_UPDATED_AT = sql(
    # When a job's row last changed; for a done or failed job, when it finished. Jobs that finished before this
    # column existed count from their creation, the best time known for them.
    "ALTER TABLE jobs ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0",
    "UPDATE jobs SET updated_at = created_at",
    "CREATE INDEX jobs_finished_by_age ON jobs (updated_at) WHERE state IN ('done', 'failed')",
)

REPLIES_FAILED_COUNTER = sql(
    "ALTER TABLE chat_counters ADD COLUMN replies_failed INTEGER NOT NULL DEFAULT 0",
)

TEXT_INDEXING_SETTING = sql(
    # Off by default: indexing a chat's messages stores its conversation, so its admins opt in.
    "ALTER TABLE chats ADD COLUMN text_indexing INTEGER NOT NULL DEFAULT 0",
)

SHARED_REQUEST_BUDGET = sql(
    # The DashScope request starts of the last minute, shared by the bot and an import-history beside it
    # (storage/budget.py); rows older than a minute are deleted as new ones come in.
    "CREATE TABLE api_requests (at REAL NOT NULL, lane TEXT NOT NULL)",
    "CREATE INDEX api_requests_by_time ON api_requests (at)",
)


async def int8_segments(conn: aiosqlite.Connection) -> None:
    """Segments hold int8 codes and per-row scales instead of the float32 matrix: the in-memory index loads those
    (a quarter of the bytes) and re-ranks from the float32 rows of `vectors`, which stay the truth. Every existing
    segment is converted in place (same id, so `vectors.segment_id` stays valid), one segment at a time."""
    await conn.execute(
        """CREATE TABLE segments_int8 (
            id INTEGER PRIMARY KEY,
            chat_id INTEGER NOT NULL,
            model TEXT NOT NULL,
            rows INTEGER NOT NULL,
            item_ids BLOB NOT NULL,
            facets BLOB NOT NULL,
            scales BLOB NOT NULL,
            codes BLOB NOT NULL
        )"""
    )
    async with conn.execute("SELECT id, chat_id, model, rows, item_ids, facets, matrix FROM segments") as cursor:
        while (segment := await cursor.fetchone()) is not None:
            segment_id, chat_id, model, rows, item_ids, facets, matrix = segment
            codes, scales = quantise(np.frombuffer(matrix, "<f4").reshape(rows, -1))
            await conn.execute(
                "INSERT INTO segments_int8 (id, chat_id, model, rows, item_ids, facets, scales, codes) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (segment_id, chat_id, model, rows, item_ids, facets, scales.astype("<f4").tobytes(), codes.tobytes()),
            )
    await conn.execute("DROP TABLE segments")
    await conn.execute("ALTER TABLE segments_int8 RENAME TO segments")
    await conn.execute("CREATE INDEX segments_by_chat ON segments (chat_id, model)")

ADMIN_CONTROLS = sql(
    # How a chat is alerted (reply | reaction | off), how long a poster may repost their own media unremarked,
    # and the language of group alerts (auto: each asker's own).
    "ALTER TABLE chats ADD COLUMN alert_style TEXT NOT NULL DEFAULT 'reply'",
    "ALTER TABLE chats ADD COLUMN own_repost_hours INTEGER NOT NULL DEFAULT 24",
    "ALTER TABLE chats ADD COLUMN language TEXT NOT NULL DEFAULT 'auto'",
    # The chat's last known title, so that the operators' overview can name every chat.
    "ALTER TABLE chats ADD COLUMN title TEXT",
    "ALTER TABLE chat_counters ADD COLUMN alerts_dismissed INTEGER NOT NULL DEFAULT 0",
    # A pair people said is not a repost. The vectors are copied so the pair keeps working after either item is
    # gone, and so that near-copies (>= 0.99) of either side are recognised without the items.
    """CREATE TABLE dismissals (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL,
        file_a TEXT NOT NULL,
        file_b TEXT NOT NULL,
        vector_a BLOB NOT NULL,
        vector_b BLOB NOT NULL,
        by_name TEXT,
        at INTEGER NOT NULL
    )""",
    "CREATE INDEX dismissals_by_chat ON dismissals (chat_id)",
    # Media whose likes never alert again in the chat (meme templates, recurring stickers).
    """CREATE TABLE ignored (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL,
        file_unique_id TEXT NOT NULL,
        vector BLOB NOT NULL,
        kind TEXT NOT NULL,
        by_name TEXT,
        at INTEGER NOT NULL,
        UNIQUE (chat_id, file_unique_id)
    )""",
    # Each item's closest earlier item when it was stored: the threshold preview reads these instead of
    # comparing every pair again. `called` marks the items that were called out as reposts (top reposters).
    """CREATE TABLE nearest (
        item_id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL,
        date INTEGER NOT NULL,
        neighbour_id INTEGER NOT NULL,
        score REAL NOT NULL,
        called INTEGER NOT NULL DEFAULT 0
    )""",
    # Covering indexes for the preview: how many items since a date, and how many at or above a score.
    "CREATE INDEX nearest_by_chat_date ON nearest (chat_id, date)",
    "CREATE INDEX nearest_by_chat_score ON nearest (chat_id, score, date)",
)

PEOPLES_DATA = sql(
    # Messages whose items were deleted on request (or by retention): a replayed update or a history import of the
    # same message must not bring them back. Keyed by the Telegram address (origin chat, message id); nothing else.
    """CREATE TABLE forgotten_messages (
        chat_id INTEGER NOT NULL,
        message_id INTEGER NOT NULL,
        forgotten_at INTEGER NOT NULL,
        PRIMARY KEY (chat_id, message_id)
    ) WITHOUT ROWID""",
    # A destructive command waiting for its button: the press carries only the id (callback data is 64 bytes).
    """CREATE TABLE confirmations (
        id INTEGER PRIMARY KEY,
        action TEXT NOT NULL,
        chat_id INTEGER NOT NULL,
        user_id INTEGER NOT NULL,
        target_chat_id INTEGER,
        created_at INTEGER NOT NULL
    )""",
    "CREATE INDEX confirmations_by_chat ON confirmations (chat_id)",
    # Telegram answered that the original (file or message) is gone: never shown again, counted in /stats.
    "ALTER TABLE items ADD COLUMN unavailable INTEGER NOT NULL DEFAULT 0",
    "CREATE INDEX items_by_sender ON items (sender_id, chat_id)",
    "CREATE INDEX items_by_chat_date ON items (chat_id, date)",
    # Days after which a chat's items are deleted; NULL keeps them forever.
    "ALTER TABLE chats ADD COLUMN retention_days INTEGER",
)

MODEL_AND_DIMENSION_TAGS = sql(
    # Vectors are comparable only within one model at one dimension, so every tag becomes `model@dimension`. The
    # dimension is read from the stored float32 BLOBs themselves: whatever the model answered is what was stored.
    "UPDATE items SET model = model || '@' || coalesce("
    "(SELECT length(v.vector) / 4 FROM vectors AS v WHERE v.item_id = items.id AND v.facet = 0), 0)",
    "UPDATE vectors SET model = model || '@' || (length(vector) / 4)",
    "UPDATE segments SET model = model || '@' || (length(codes) / rows)",
    "UPDATE embedding_cache SET model = model || '@' || (length(vector) / 4)",
    "CREATE INDEX items_by_chat_model ON items (chat_id, model)",
    # Re-embedding after a change of model or dimension: the new vectors of each item wait here (state 'ready')
    # until the whole chat is done and switches at once; an item whose file is gone is 'kept' on its old vectors.
    """CREATE TABLE reembedded (
        item_id INTEGER PRIMARY KEY REFERENCES items (id) ON DELETE CASCADE,
        chat_id INTEGER NOT NULL,
        model TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('ready', 'kept')),
        media BLOB,
        caption BLOB,
        reason TEXT,
        created_at INTEGER NOT NULL
    )""",
    "CREATE INDEX reembedded_by_chat ON reembedded (chat_id, model, state)",
)

IMPORTED_SOURCE_PATHS = sql(
    # Where an imported item's file is in its Telegram Desktop export, relative to the export folder
    # (`photos/photo_1@01-02-2024.jpg`), so that `import-history` can read it again after a model switch. NULL for
    # live items and for items imported before this version. A column, not a side table: it is one fact of the item,
    # so erasure, moves and purges carry it with the row and nothing can forget it.
    "ALTER TABLE items ADD COLUMN source_path TEXT",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "media items, vectors, segments, embedding cache, chats", MEDIA_SCHEMA),
    Migration(2, "durable job queue and usage counters", QUEUE_AND_USAGE_SCHEMA),
    Migration(3, "jobs record when they last changed, so finished ones can be pruned", JOB_UPDATED_AT),
    Migration(4, "count of replies given up after retries", REPLIES_FAILED_COUNTER),
    Migration(5, "int8 segments: codes and per-row scales instead of float32 matrices", int8_segments),
    Migration(6, "people's data: forgotten messages, confirmations, unavailable originals, retention",
              PEOPLES_DATA),
    Migration(7, "admin controls: alert style, leeway, language, dismissals, ignore list, nearest neighbours",
              ADMIN_CONTROLS),
    Migration(8, "vectors tagged model@dimension; re-embedding progress", MODEL_AND_DIMENSION_TAGS),
    Migration(9, "per-chat opt-in indexing of text messages", TEXT_INDEXING_SETTING),
    Migration(10, "where each imported item's file is in its export", IMPORTED_SOURCE_PATHS),
    Migration(11, "the DashScope request budget shared by every process on the database file",
              SHARED_REQUEST_BUDGET),
)


async def schema_version(conn: aiosqlite.Connection) -> int:
    cursor = await conn.execute("SELECT coalesce(max(version), 0) FROM schema_version")
    row = await cursor.fetchone()
    return int(row[0]) if row is not None else 0


async def migrate(conn: aiosqlite.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Bring the schema up to the last of `migrations`; returns the resulting version."""
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL)"
    )
    current = await schema_version(conn)
    latest = migrations[-1].version if migrations else 0
    if current > latest:
        raise SchemaTooNewError(f"database schema version {current} is newer than this code ({latest})")
    for migration in migrations:
        if migration.version > current:
            await _apply(conn, migration)
    return max(current, latest)


async def _apply(conn: aiosqlite.Connection, migration: Migration) -> None:
    await conn.execute("BEGIN IMMEDIATE")
    try:
        await migration.apply(conn)
        await conn.execute(
            "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
            (migration.version, migration.description, int(time.time())),
        )
    except BaseException:
        await conn.execute("ROLLBACK")
        raise
    await conn.execute("COMMIT")
    log.info("schema migrated", extra={"schema_version": migration.version, "migration": migration.description})
