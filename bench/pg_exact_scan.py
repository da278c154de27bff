"""Exact search of one chat in PostgreSQL: the bot's path (half-precision candidates, exact re-rank) beside a
full-precision exact scan, latency at a given chat size.

Run ``python -m bench.pg_exact_scan [--size 100000] [--dim 1024] [--other 20000] [--queries 20] [--k 10]``.

A throwaway PostgreSQL 18 + pgvector (the test server) gets one chat of `size` random unit vectors and `other`
vectors of another chat, loaded with COPY, then ANALYZE and a warm-up query; then `queries` fresh random queries go
through `PgVectorIndex.search` (the bot's own path: storage.postgres.search, one hit per item) and through
`FULL_SCAN`, the exact scan of the full vectors it replaced, on a copy of the same rows as schema v1 stored them
(`SCHEMA_V1_COPY`), in the same run. Reported: median and p90 latency of each, whether both found the same items,
and the plan of the bot's statement. ``--storage MAIN`` keeps the full vector in the row beside its half-precision
copy (the schema moves it out: EXTERNAL). The in-memory index on the same sizes is ``python -m bench.search``.

With a chat holding most of the table, PostgreSQL rightly scans the table in parallel; with many chats it reads the
chat's rows through `vectors_by_chat_model` (tests/test_postgres_store.py asserts that plan).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence

import asyncpg
from pgvector.asyncpg import register_vector

from storage.models import ALL_FACETS, FACET_MEDIA
from storage.postgres.search import CANDIDATES_PER_RESULT, SEARCH, PgVectorIndex
from storage.postgres.store import PgStore
from storage.vectors import FloatMatrix
from tests.support.postgres import ThrowawayPostgres
from tests.support.storage import TEST_MODEL, random_unit_vectors

CHUNK = 10_000
FULL_SCAN = (
    "SELECT item_id, facet, embedding <#> $3::vector AS distance FROM vectors_v1 "
    "WHERE chat_id = $1 AND model = $2 AND facet = ANY($4::smallint[]) AND NOT (item_id = ANY($5::bigint[])) "
    "ORDER BY distance, item_id, facet LIMIT $6"
)
"""The search of schema v1, before the half-precision first pass: the best k × facets rows by the full vectors."""
SCHEMA_V1_COPY = (
    "CREATE TABLE vectors_v1 (item_id BIGINT NOT NULL, facet SMALLINT NOT NULL, chat_id BIGINT NOT NULL, "
    "model TEXT NOT NULL, embedding vector NOT NULL, PRIMARY KEY (item_id, facet))",
    "ALTER TABLE vectors_v1 ALTER COLUMN embedding SET STORAGE MAIN",
    "INSERT INTO vectors_v1 SELECT item_id, facet, chat_id, model, embedding FROM vectors",
    "CREATE INDEX vectors_v1_by_chat_model ON vectors_v1 (chat_id, model)",
)
"""The same rows as schema v1 stored them (the full vector inline, no half-precision copy), for `FULL_SCAN`."""



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
            for statement in SCHEMA_V1_COPY:
                await store.db.execute(statement)
            await store.db.execute("ANALYZE")
            print(f"loaded {size} + {other} vectors of {dim} dimensions in {time.perf_counter() - started:.0f} s")
            index = PgVectorIndex(store.db, TEST_MODEL)
            await index.search(1, random_unit_vectors(1, dim, seed=-1 % 2**31)[0], k)  # warm the cache
            found: dict[str, list[list[int]]] = {"new": [], "full": []}

            async def new(query: FloatMatrix) -> None:
                found["new"].append([hit[0] for hit in await index.search(1, query, k)])

            async def full(query: FloatMatrix) -> None:
                rows = await store.db.fetch(FULL_SCAN, 1, TEST_MODEL, query, sorted(ALL_FACETS), [],
                                            k * len(ALL_FACETS))
                found["full"].append(list(dict.fromkeys(int(row[0]) for row in rows))[:k])

            batch = random_unit_vectors(queries, dim, seed=123_457)
            _report(f"half-precision candidates + exact re-rank (the bot), chat of {size}", await _time(new, batch), k)
            _report(f"full-precision exact scan, schema v1 (FULL_SCAN), chat of {size}", await _time(full, batch), k)
            same = sum(a == b for a, b in zip(found["new"], found["full"], strict=True))
            print(f"same items in the same order: {same} of {queries} queries")
            probe = random_unit_vectors(1, dim, seed=7)[0]
            plan = await store.db.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {SEARCH}", 1, TEST_MODEL, probe,
                                        sorted(ALL_FACETS), [], k * len(ALL_FACETS) * CANDIDATES_PER_RESULT, probe)
            print("\n".join(row[0] if len(row[0]) < 200 else row[0][:120] + " …" for row in plan))
        finally:
            await store.close()
    finally:
        server.stop()


async def _time(search: Callable[[FloatMatrix], Awaitable[None]], queries: Sequence[FloatMatrix]) -> list[float]:
    times = []
    for query in queries:
        began = time.perf_counter()
        await search(query)
        times.append(time.perf_counter() - began)
    return sorted(times)


def _report(what: str, times: list[float], k: int) -> None:
    p90 = times[int(0.9 * (len(times) - 1))]
    print(f"{what}: median {statistics.median(times) * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms over {len(times)} "
          f"queries (k={k})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--other", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--storage", choices=("PLAIN", "MAIN", "EXTERNAL", "EXTENDED"),
                        help="the full vector column's storage, to compare with the schema's (EXTERNAL)")
    args = parser.parse_args()
    asyncio.run(run(args.size, args.dim, args.other, args.queries, args.k, args.storage))


if __name__ == "__main__":
    main()
