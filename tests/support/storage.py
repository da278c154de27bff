"""Builders for tests that need stored items: defaults for every field, so a test names only what matters."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from storage.models import NewItem
from storage.postgres.store import PgStore
from storage.store import Store
from storage.vectors import FloatMatrix

TEST_MODEL = "test-model"
AnyStore = Store | PgStore


def new_item(chat_id: int = 1, message_id: int = 1, **changes: Any) -> NewItem:
    """A photo posted by user 7 at `1_700_000_000 + message_id`, file ids derived from the message id."""
    item = NewItem(
        chat_id=chat_id,
        message_id=message_id,
        sender_id=7,
        sender_name="Alice",
        date=1_700_000_000 + message_id,
        kind="photo",
        file_id=f"file-{chat_id}-{message_id}",
        file_unique_id=f"unique-{chat_id}-{message_id}",
        caption=None,
        model=TEST_MODEL,
        route="image",
    )
    return replace(item, **changes)


def random_unit_vectors(count: int, dim: int, seed: int = 0) -> FloatMatrix:
    """`count` random directions (rows), reproducible by seed."""
    matrix = np.random.default_rng(seed).standard_normal((count, dim), dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix


@asynccontextmanager
async def open_store(path: Path) -> AsyncIterator[Store]:
    store = await Store.open(path)
    try:
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def open_store_at(url: str) -> AsyncIterator[AnyStore]:
    """The store of a DATABASE_URL (the `backend_url` fixture): PostgreSQL, or a SQLite file."""
    store: AnyStore = await (PgStore.open(url) if url.startswith("postgresql://")
                             else Store.open(Path(url.removeprefix("sqlite:///"))))
    try:
        yield store
    finally:
        await store.close()


async def run_sql(store: AnyStore, query: str, *args: object) -> list[tuple[Any, ...]]:
    """A statement written with `$n` placeholders, on either backend, in a transaction of its own; its rows (vectors
    as their text, so rows compare by value). `dims(column)` is the length of a vector column."""
    if isinstance(store, PgStore):
        query = re.sub(r"\bdims\((\S+?)\)", r"vector_dims(\1)", query)
        return [tuple(str(value) if hasattr(value, "to_numpy") else value for value in row)
                for row in await store.db.fetch(query, *args)]
    query = re.sub(r"\bdims\((\S+?)\)", r"(length(\1) / 4)", query)
    async with store.db.transaction() as conn:
        return [tuple(row) for row in await conn.execute_fetchall(re.sub(r"\$(\d+)", r"?\1", query), args)]


async def schema_columns(store: AnyStore) -> dict[str, set[str]]:
    """The backend's tables and their columns."""
    if isinstance(store, PgStore):
        found = await run_sql(store, "SELECT table_name, column_name FROM information_schema.columns "
                                     "WHERE table_schema = 'public'")
    else:
        found = await run_sql(store, "SELECT m.name, p.name FROM sqlite_master AS m, pragma_table_info(m.name) AS p "
                                     "WHERE m.type = 'table'")
    tables: dict[str, set[str]] = {}
    for table, column in found:
        tables.setdefault(str(table), set()).add(str(column))
    return tables


async def rows_mentioning(store: AnyStore, chat_id: int) -> dict[str, int]:
    """Rows of every table with a chat-id column holding `chat_id`, by table and column."""
    found: dict[str, int] = {}
    for table, columns in sorted((await schema_columns(store)).items()):
        for column in sorted(column for column in columns if column.endswith("chat_id")):
            (row,) = await run_sql(store, f"SELECT count(*) FROM {table} WHERE {column} = $1", chat_id)  # noqa: S608
            if row[0]:
                found[f"{table}.{column}"] = int(row[0])
    return found
