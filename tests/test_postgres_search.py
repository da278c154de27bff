"""PostgreSQL search: a half-precision first pass and an exact re-rank give exactly an exact scan's results."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import asyncpg
import numpy as np
import pytest
from pgvector.asyncpg import register_vector

from storage.models import FACET_CAPTION, FACET_MEDIA, FACET_TEXT
from storage.postgres.migrations import MIGRATIONS, migrate
from storage.postgres.search import SEARCH, WITHIN, PgVectorIndex
from storage.postgres.store import PgStore
from storage.vectors import FloatMatrix
from tests.support.postgres import ThrowawayPostgres
from tests.support.storage import TEST_MODEL, new_item, random_unit_vectors

DIM = 256
K = 10


def _count_statements(pg_store: PgStore, monkeypatch: pytest.MonkeyPatch) -> Callable[[], tuple[int, int]]:
    """How many first passes and how many threshold passes the store's database has run since this call."""
    calls: list[str] = []
    fetch = pg_store.db.fetch

    async def counting(query: str, *args: Any) -> list[asyncpg.Record]:
        calls.append(query)
        return await fetch(query, *args)

    monkeypatch.setattr(pg_store.db, "fetch", counting)
    return lambda: (calls.count(SEARCH), calls.count(WITHIN))


async def _exact_top_k(pg_store: PgStore, chat_id: int, query: FloatMatrix, k: int, facets: Collection[int],
                       excluded: Collection[int]) -> list[tuple[int, int, float]]:
    """A numpy float32 exact scan of the stored vectors: each item once with its best facet, ties by id, facet."""
    block = await pg_store.items.load_vectors(chat_id, TEST_MODEL)
    scores = block.matrix @ (query / np.linalg.norm(query)).astype(np.float32)
    order = sorted(range(len(scores)), key=lambda row: (-float(scores[row]), int(block.item_ids[row]),
                                                        int(block.facets[row])))
    best: dict[int, tuple[int, int, float]] = {}
    for row in order:
        item_id, facet = int(block.item_ids[row]), int(block.facets[row])
        if facet in facets and item_id not in excluded and item_id not in best:
            best[item_id] = (item_id, facet, float(scores[row]))
    return list(best.values())[:k]


def _assert_same(hits: list[tuple[int, int, float]], truth: list[tuple[int, int, float]]) -> None:
    assert [(item_id, facet) for item_id, facet, _ in hits] == [(item_id, facet) for item_id, facet, _ in truth]
    for (_, _, score), (_, _, expected) in zip(hits, truth, strict=True):
        assert score == pytest.approx(expected, abs=1e-6)


def _near(centre: FloatMatrix, count: int, spread: float, seed: int) -> FloatMatrix:
    """Unit vectors around `centre`, each within cosine ~1 − spread²·dim/2 of it."""
    noise = np.random.default_rng(seed).standard_normal((count, centre.size)).astype(np.float32)
    matrix = centre + spread * noise
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


def _half_rank(matrix: FloatMatrix, query: FloatMatrix) -> np.ndarray:
    """Rows by their half-precision distance, as the first pass sees them."""
    half = matrix.astype(np.float16).astype(np.float32) @ query.astype(np.float16).astype(np.float32)
    return np.argsort(-half, kind="stable")


async def test_random_data_gives_the_exact_answer_from_the_first_candidates(
        pg_store: PgStore, monkeypatch: pytest.MonkeyPatch) -> None:
    matrix = random_unit_vectors(1700, DIM, seed=11)
    items = await pg_store.items.add_many(
        [(new_item(1, m, caption="c"), {FACET_MEDIA: matrix[2 * m], FACET_CAPTION: matrix[2 * m + 1]})
         for m in range(600)] + [(new_item(1, 1000 + m, kind="text"), {FACET_TEXT: matrix[1200 + m]})
                                 for m in range(400)]
        + [(new_item(2, m), {FACET_MEDIA: matrix[1600 + m]}) for m in range(100)])
    index = PgVectorIndex(pg_store.db, TEST_MODEL)
    statements = _count_statements(pg_store, monkeypatch)
    excluded = {items[0].id, items[5].id, items[900].id}
    for seed, facets in enumerate(({FACET_MEDIA, FACET_CAPTION}, {FACET_MEDIA}, {FACET_TEXT}, None, None, None)):
        # Half of the queries are a stored vector, slightly moved: close hits, as a repost check sees them.
        query = random_unit_vectors(1, DIM, seed=100 + seed)[0] + (matrix[seed * 97] * 4 if seed % 2 else 0)
        wanted = {FACET_MEDIA, FACET_CAPTION, FACET_TEXT} if facets is None else facets
        hits = await index.search(1, query * 3.0, K, facets=facets, exclude_item_ids=excluded)
        _assert_same(hits, await _exact_top_k(pg_store, 1, query, K, wanted, excluded))
    assert statements() == (6, 0)  # one statement each: the first m candidates were enough


async def test_near_duplicates_reordered_by_half_precision_still_give_the_exact_answer(
        pg_store: PgStore, monkeypatch: pytest.MonkeyPatch) -> None:
    centre = random_unit_vectors(1, DIM, seed=21)[0]
    cluster = _near(centre, 300, 0.002, seed=22)
    assert float((cluster @ centre).min()) > 0.999
    others = random_unit_vectors(300, DIM, seed=23)
    await pg_store.items.add_many([(new_item(1, m), {FACET_MEDIA: vector})
                                for m, vector in enumerate(np.concatenate([cluster, others]))])
    index = PgVectorIndex(pg_store.db, TEST_MODEL)
    statements = _count_statements(pg_store, monkeypatch)
    for seed in range(4):
        query = _near(centre, 1, 0.002, seed=30 + seed)[0]
        truth = await _exact_top_k(pg_store, 1, query, K, {FACET_MEDIA}, ())
        exact = np.argsort(-(cluster @ query), kind="stable")
        assert list(_half_rank(cluster, query)[:K]) != list(exact[:K])  # half precision alone would be wrong
        _assert_same(await index.search(1, query, K), truth)
    assert statements() == (4, 4)  # the first candidates could not prove the answer: a second pass took them all


async def test_rows_within_the_error_of_each_other_cost_one_more_pass_however_many(
        pg_store: PgStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """200 rows within half precision's error of each other: the first 4 candidates (k = 1) prove nothing, and the
    second pass takes every row within the proven threshold at once (not 4, 8, 16… candidates in turn)."""
    centre = random_unit_vectors(1, DIM, seed=41)[0]
    await pg_store.items.add_many([(new_item(1, m), {FACET_MEDIA: vector})
                                for m, vector in enumerate(_near(centre, 200, 0.0005, seed=42))])
    statements = _count_statements(pg_store, monkeypatch)
    hits = await PgVectorIndex(pg_store.db, TEST_MODEL).search(1, centre, 1, facets={FACET_MEDIA})
    _assert_same(hits, await _exact_top_k(pg_store, 1, centre, 1, {FACET_MEDIA}, ()))
    assert statements() == (1, 1)


async def test_a_picture_forwarded_hundreds_of_times_is_found_in_two_passes_ties_by_age(
        pg_store: PgStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Forwards of one file share its cached vector: 500 identical rows tie exactly; the answer is the k oldest
    (lowest ids), as an exact scan orders ties, among rows of other pictures."""
    picture = random_unit_vectors(1, DIM, seed=51)[0]
    others = random_unit_vectors(300, DIM, seed=52)
    items = await pg_store.items.add_many(
        [(new_item(1, m), {FACET_MEDIA: other}) for m, other in enumerate(others)]
        + [(new_item(1, 1000 + m), {FACET_MEDIA: picture}) for m in range(500)])
    statements = _count_statements(pg_store, monkeypatch)
    hits = await PgVectorIndex(pg_store.db, TEST_MODEL).search(1, picture, K)
    assert [item_id for item_id, _, _ in hits] == [item.id for item in items[300:300 + K]]
    _assert_same(hits, await _exact_top_k(pg_store, 1, picture, K, {FACET_MEDIA}, ()))
    assert statements() == (1, 1)


async def test_migration_2_gives_existing_vectors_their_half_precision_copy(
        postgres_server: ThrowawayPostgres) -> None:
    conn = await asyncpg.connect(postgres_server.dsn(postgres_server.new_database()))
    try:
        assert await migrate(conn, MIGRATIONS[:1]) == 1
        await register_vector(conn)
        matrix = random_unit_vectors(30, 1024, seed=51)  # 4 KB: too big to stay in a row with its copy
        for m, vector in enumerate(matrix):
            item_id = await conn.fetchval(
                "INSERT INTO items (chat_id, origin_chat_id, message_id, date, kind, file_id, file_unique_id, model,"
                " route) VALUES (1, 1, $1, 1, 'photo', 'f', 'u', $2, 'image') RETURNING id", m, TEST_MODEL)
            await conn.execute("INSERT INTO vectors (item_id, facet, chat_id, model, embedding) "
                               "VALUES ($1, $2, 1, $3, $4)", item_id, FACET_MEDIA, TEST_MODEL, vector)
        assert await migrate(conn) == MIGRATIONS[-1].version == 2
        rows = await conn.fetch("SELECT embedding, embedding_half::text AS half, embedding_half = embedding::halfvec "
                                "AS same, pg_column_toast_chunk_id(embedding) IS NOT NULL AS out_of_line "
                                "FROM vectors ORDER BY item_id")
        assert len(rows) == 30 and all(row["same"] and row["out_of_line"] for row in rows)
        for row, vector in zip(rows, matrix, strict=True):
            half = np.array(row["half"].strip("[]").split(","), dtype=np.float32)
            assert np.array_equal(half, vector.astype(np.float16).astype(np.float32))
            assert np.array_equal(row["embedding"].to_numpy(), vector)
        storage = dict(await conn.fetch("SELECT attname, attstorage::text FROM pg_attribute "
                                        "WHERE attrelid = 'vectors'::regclass AND attname LIKE 'embedding%'"))
        assert storage == {"embedding": "e", "embedding_half": "p"}
        assert await conn.fetchval("SELECT attnotnull FROM pg_attribute WHERE attrelid = 'vectors'::regclass "
                                   "AND attname = 'embedding_half'")
    finally:
        await conn.close()
