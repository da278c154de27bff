"""The database: connection settings, transactions, and schema migrations (fresh and upgrade)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite
import numpy as np
import pytest

from storage.db import PAGE_SIZE, Database
from storage.migrations import MIGRATIONS, Migration, SchemaTooNewError, migrate, schema_version, sql
from storage.models import FACET_MEDIA
from storage.store import Store
from tests.support.storage import new_item, open_store


async def _scalar(db: Database, query: str) -> object:
    async with db.read() as conn:
        rows = list(await conn.execute_fetchall(query))
    return rows[0][0]


async def test_open_creates_folder_and_configures_connection(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "nested" / "folder" / "bot.db")
    try:
        assert (tmp_path / "nested" / "folder" / "bot.db").exists()
        assert await _scalar(db, "PRAGMA journal_mode") == "wal"
        assert await _scalar(db, "PRAGMA foreign_keys") == 1
        assert await _scalar(db, "PRAGMA synchronous") == 1  # NORMAL
        assert await _scalar(db, "PRAGMA busy_timeout") == 5000
        assert await _scalar(db, "PRAGMA page_size") == PAGE_SIZE
    finally:
        await db.close()


async def test_fresh_database_is_at_latest_version_with_every_table(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "bot.db")
    try:
        assert await schema_version(db.conn) == MIGRATIONS[-1].version
        async with db.read() as conn:
            tables = {row[0] for row in await conn.execute_fetchall("SELECT name FROM sqlite_master")}
        expected = {"items", "vectors", "segments", "embedding_cache", "chats", "chat_moves", "jobs", "usage"}
        assert expected | {"chat_counters", "schema_version"} <= tables
    finally:
        await db.close()


def test_migrations_are_numbered_one_by_one() -> None:
    assert [migration.version for migration in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


@asynccontextmanager
async def database_at_version(path: Path, version: int) -> AsyncIterator[aiosqlite.Connection]:
    """A database file migrated only up to `version`, as an older bot left it; the block writes its rows."""
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        assert await migrate(conn, MIGRATIONS[:version]) == version
        yield conn


async def test_old_database_is_upgraded_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    async with database_at_version(path, 1) as conn:
        await conn.execute(
            "INSERT INTO items (id, chat_id, origin_chat_id, message_id, date, kind, file_id, "
            "file_unique_id, model, route) "
            "VALUES (1, 10, 10, 5, 100, 'photo', 'f', 'u', 'test-model', 'image')"
        )
        await conn.execute(
            "INSERT INTO vectors (item_id, facet, chat_id, model, vector) VALUES (1, 0, 10, 'test-model', ?)",
            (np.array([1, 0, 0, 0], np.float32).tobytes(),),
        )

    store = await Store.open(path)
    try:
        assert await schema_version(store.db.conn) == MIGRATIONS[-1].version
        item = await store.items.by_message(10, 5)
        assert item is not None and item.file_unique_id == "u"
        # Migration 5 tags every vector with its model and the dimension read from the stored BLOB.
        assert item.model == "test-model@4"
        assert (await store.items.load_vectors(10, "test-model@4")).item_ids.tolist() == [1]
        # Tables added by the later migration work.
        assert await store.jobs.enqueue("k", 10, "media", {}, now=1) is not None
    finally:
        await store.close()


async def test_jobs_finished_before_the_upgrade_age_from_their_creation(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    async with database_at_version(path, 2) as conn:
        await conn.execute(
            "INSERT INTO jobs (key, chat_id, kind, payload, state, next_attempt_at, created_at) "
            "VALUES ('k', 1, 'media', '{}', 'done', 10, 10)"
        )

    async with open_store(path) as store:
        assert await store.jobs.prune_finished(older_than=10) == 0
        assert await store.jobs.prune_finished(older_than=11) == 1


async def test_reopening_applies_nothing_twice(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.db")
    await store.items.add(new_item(), {FACET_MEDIA: [1.0, 0.0]})
    await store.close()
    store = await Store.open(tmp_path / "bot.db")
    try:
        applied = await _scalar(store.db, "SELECT count(*) FROM schema_version")
        assert applied == len(MIGRATIONS)
        assert await store.items.by_message(1, 1) is not None
    finally:
        await store.close()


async def test_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await migrate(conn)
        await conn.execute("INSERT INTO schema_version VALUES (999, 'from the future', 0)")
    with pytest.raises(SchemaTooNewError):
        await Database.open(path)


async def test_failed_migration_leaves_nothing_behind(tmp_path: Path) -> None:
    broken = (*MIGRATIONS, Migration(len(MIGRATIONS) + 1, "broken", sql("CREATE TABLE t (x)", "NOT SQL")))
    async with aiosqlite.connect(tmp_path / "bot.db", isolation_level=None) as conn:
        with pytest.raises(aiosqlite.OperationalError):
            await migrate(conn, broken)
        assert await schema_version(conn) == len(MIGRATIONS)
        rows = list(await conn.execute_fetchall("SELECT name FROM sqlite_master WHERE name = 't'"))
        assert rows == []


async def test_transaction_rolls_back_on_error_and_commits_otherwise(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "bot.db")
    try:
        with pytest.raises(RuntimeError):
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO chats (chat_id) VALUES (1)")
                raise RuntimeError("boom")
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO chats (chat_id) VALUES (2)")
        async with db.read() as conn:
            chats = [row[0] for row in await conn.execute_fetchall("SELECT chat_id FROM chats")]
        assert chats == [2]
    finally:
        await db.close()


async def test_after_commit_callbacks_run_only_when_the_transaction_commits(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "bot.db")
    calls: list[str] = []
    try:
        async with db.transaction():
            db.after_commit(lambda: calls.append("committed"))
            assert calls == []
        assert calls == ["committed"]
        with pytest.raises(ValueError):
            async with db.transaction():
                db.after_commit(lambda: calls.append("rolled back"))
                raise ValueError
        assert calls == ["committed"]
        with pytest.raises(RuntimeError):
            db.after_commit(lambda: None)
    finally:
        await db.close()
