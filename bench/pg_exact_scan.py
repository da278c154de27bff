"""Exact search of one chat in PostgreSQL (pgvector `<#>` over the chat's rows): latency at a given chat size.

Run ``python -m bench.pg_exact_scan [--size 100000] [--dim 1024] [--other 20000] [--queries 20] [--k 10]``.

A throwaway PostgreSQL 18 + pgvector (the test server) gets one chat of `size` random unit vectors and `other`
vectors of another chat, loaded with COPY, then ANALYZE and a warm-up query; then `queries` fresh random queries go
through `PgVectorIndex.search` (the bot's own path: the SQL of storage.postgres.search, one hit per item). Reported:
median and p90 latency, and the plan of the query. ``--storage EXTENDED`` compares the schema's inline (MAIN) vector
column with PostgreSQL's default out-of-line one. The in-memory index on the same sizes is ``python -m bench.search``.

With a chat holding most of the table, PostgreSQL rightly scans the table in parallel; with many chats it reads the
chat's rows through `vectors_by_chat_model` (tests/test_postgres_store.py asserts that plan).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import asyncpg
from pgvector.asyncpg import register_vector

from storage.models import FACET_MEDIA
from storage.postgres.search import SEARCH, PgVectorIndex
from storage.postgres.store import PgStore
from tests.support.postgres import ThrowawayPostgres
from tests.support.storage import TEST_MODEL, random_unit_vectors

CHUNK = 10_000


async def _load(dsn: str, chat_id: int, count: int, dim: int, first_id: int) -> None:
    conn = await asyncpg.connect(dsn)
    await register_vector(conn)
    try:
        for start in range(0, count, CHUNK):
            stop = min(count, start + CHUNK)
            ids = range(first_id + start, first_id + stop)
            await conn.copy_records_to_table("items", columns=(
                "id", "chat_id", "origin_chat_id", "message_id", "date", "kind", "file_id", "file_unique_id", "model",
                "route"), records=[(i, chat_id, chat_id, i, i, "photo", f"f{i}", f"u{i}", TEST_MODEL, "image")
                                   for i in ids])
            matrix = random_unit_vectors(stop - start, dim, seed=first_id + start)
            await conn.copy_records_to_table("vectors", columns=("item_id", "facet", "chat_id", "model", "embedding"),
                                             records=[(i, FACET_MEDIA, chat_id, TEST_MODEL, row)
                                                      for i, row in zip(ids, matrix, strict=True)])
    finally:
        await conn.close()


async def run(size: int, dim: int, other: int, queries: int, k: int, storage: str | None) -> None:
    server = ThrowawayPostgres()
    server.start()
    try:
        dsn = server.dsn(server.new_database())
        store = await PgStore.open(dsn)
        try:
            if storage:
                await store.db.execute(f"ALTER TABLE vectors ALTER COLUMN embedding SET STORAGE {storage}")
            started = time.perf_counter()
            await _load(dsn, 1, size, dim, 1)
            await _load(dsn, 2, other, dim, size + 1)
            await store.db.execute("ANALYZE")
            print(f"loaded {size} + {other} vectors of {dim} dimensions in {time.perf_counter() - started:.0f} s")
            index = PgVectorIndex(store.db, TEST_MODEL)
            await index.search(1, random_unit_vectors(1, dim, seed=-1 % 2**31)[0], k)  # warm the cache
            times = []
            for query in random_unit_vectors(queries, dim, seed=123_457):
                began = time.perf_counter()
                await index.search(1, query, k)
                times.append(time.perf_counter() - began)
            times.sort()
            print(f"exact search, chat of {size}: median {statistics.median(times) * 1000:.0f} ms, "
                  f"p90 {times[int(0.9 * (len(times) - 1))] * 1000:.0f} ms over {queries} queries (k={k})")
            plan = await store.db.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {SEARCH}", 1, TEST_MODEL,
                                        random_unit_vectors(1, dim, seed=7)[0], [0, 1, 2], [], 3 * k)
            print("\n".join(row[0] if len(row[0]) < 200 else row[0][:120] + " …" for row in plan))
        finally:
            await store.close()
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--other", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--storage", choices=("PLAIN", "MAIN", "EXTERNAL", "EXTENDED"),
                        help="the vector column's storage, to compare with the schema's")
    args = parser.parse_args()
    asyncio.run(run(args.size, args.dim, args.other, args.queries, args.k, args.storage))


if __name__ == "__main__":
    main()
