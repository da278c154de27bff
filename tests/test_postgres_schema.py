"""The PostgreSQL schema: created at start, migrated once even when several processes start at once."""

from __future__ import annotations

import asyncio

import asyncpg
import numpy as np
import pytest

from storage.migrations import SchemaTooNewError
from storage.postgres.db import PgDatabase
from storage.postgres.migrations import MIGRATIONS
from tests.support.postgres import ThrowawayPostgres


async def test_two_processes_starting_at_once_migrate_once(postgres_server: ThrowawayPostgres) -> None:
    dsn = postgres_server.dsn(postgres_server.new_database())
    first, second = await asyncio.gather(PgDatabase.open(dsn), PgDatabase.open(dsn))
    try:
        versions = await first.fetch("SELECT version FROM schema_version ORDER BY version")
        assert [row["version"] for row in versions] == [m.version for m in MIGRATIONS]
        assert await second.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    finally:
        await first.close()
        await second.close()


async def test_vectors_round_trip_and_are_compared_in_the_database(postgres_dsn: str) -> None:
    db = await PgDatabase.open(postgres_dsn)
    try:
        async with db.transaction() as work:
            item_id = await work.conn.fetchval(
                "INSERT INTO items (chat_id, origin_chat_id, message_id, date, kind, file_id, file_unique_id, model,"
                " route) VALUES (1, 1, 1, 1, 'photo', 'f', 'u', 'm@4', 'image') RETURNING id")
            await work.conn.execute("INSERT INTO vectors VALUES ($1, 0, 1, 'm@4', $2)", item_id,
                                    np.array([0.6, 0.8, 0, 0], dtype=np.float32))
        rows = await db.fetch("SELECT embedding, embedding <#> $1 AS negative_dot FROM vectors",
                              np.array([1, 0, 0, 0], dtype=np.float32))
        assert np.allclose(rows[0]["embedding"].to_numpy(), [0.6, 0.8, 0, 0])
        assert rows[0]["negative_dot"] == pytest.approx(-0.6)
    finally:
        await db.close()


async def test_a_database_newer_than_the_code_is_refused(postgres_dsn: str) -> None:
    conn = await asyncpg.connect(postgres_dsn)
    try:
        await conn.execute("INSERT INTO schema_version (version, description) VALUES (1000, 'from the future')")
    finally:
        await conn.close()
    with pytest.raises(SchemaTooNewError):
        await PgDatabase.open(postgres_dsn)
