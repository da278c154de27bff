"""What only the PostgreSQL backend has to show: exact search in the database (against numpy, through the chat's
index), several processes on one database (a search sees another's item, one item per message when both store it,
one re-embedder at a time)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from storage.models import FACET_CAPTION, FACET_MEDIA, FACET_TEXT
from storage.postgres import reembedding
from storage.postgres.search import SEARCH, PgVectorIndex
from storage.postgres.store import PgStore
from tests.support.storage import TEST_MODEL, new_item, random_unit_vectors

DIM = 16


def _brute_force(rows: dict[tuple[int, int], np.ndarray], query: np.ndarray, k: int, facets: set[int],
                 excluded: set[int]) -> list[tuple[int, int]]:
    best: dict[int, tuple[float, int]] = {}
    for (item_id, facet), vector in rows.items():
        score = float(vector @ query)
        if facet in facets and item_id not in excluded and (item_id not in best or score > best[item_id][0]):
            best[item_id] = (score, facet)
    ranked = sorted(best.items(), key=lambda entry: -entry[1][0])[:k]
    return [(item_id, facet) for item_id, (_, facet) in ranked]


async def test_search_is_exact_each_item_once_with_its_best_facet_never_excluded(pg_store: PgStore) -> None:
    matrix = random_unit_vectors(120, DIM, seed=1)
    items = await pg_store.items.add_many(
        [(new_item(1, m, caption="c"), {FACET_MEDIA: matrix[2 * m], FACET_CAPTION: matrix[2 * m + 1]})
         for m in range(50)] + [(new_item(1, 100 + m, kind="text"), {FACET_TEXT: matrix[100 + m]}) for m in range(10)]
        + [(new_item(2, m), {FACET_MEDIA: matrix[m]}) for m in range(10)])  # another chat, never found
    block = await pg_store.items.load_vectors(1, TEST_MODEL)
    truth = {(item_id, facet): vector for item_id, facet, vector in zip(
        block.item_ids.tolist(), block.facets.tolist(), block.matrix, strict=True)}
    index = PgVectorIndex(pg_store.db, TEST_MODEL)
    excluded = {items[0].id, items[7].id}
    for seed, facets in enumerate(({FACET_MEDIA, FACET_CAPTION}, {FACET_MEDIA}, {FACET_TEXT}, None)):
        query = random_unit_vectors(1, DIM, seed=100 + seed)[0]
        hits = await index.search(1, query * 3.0, 12, facets=facets, exclude_item_ids=excluded)
        wanted = {FACET_MEDIA, FACET_CAPTION, FACET_TEXT} if facets is None else facets
        assert [(item_id, facet) for item_id, facet, _ in hits] == _brute_force(truth, query, 12, wanted, excluded)
        for item_id, facet, score in hits:
            assert score == pytest.approx(float(truth[(item_id, facet)] @ query), abs=1e-5)
    assert await index.count(1) == 110 and await index.count(2) == 10 and await index.count(3) == 0
    assert await index.search(1, matrix[0], 0) == [] and await index.search(1, matrix[0], 5, facets=()) == []
    assert await PgVectorIndex(pg_store.db, "other-model").search(1, matrix[0], 5) == []


async def test_the_search_reads_only_the_chats_rows_through_its_index(pg_store: PgStore) -> None:
    matrix = random_unit_vectors(40, DIM, seed=2)
    for chat_id in range(1, 61):
        await pg_store.items.add_many([(new_item(chat_id, m), {FACET_MEDIA: matrix[m]}) for m in range(40)])
    await pg_store.db.execute("ANALYZE")
    plan = "\n".join(row[0] for row in await pg_store.db.fetch(
        f"EXPLAIN {SEARCH}", 7, TEST_MODEL, matrix[0], [FACET_MEDIA], [], 10, matrix[0]))
    candidates = plan.split("CTE candidates")[1].split("->  Nested Loop")[0]  # the half-precision first pass
    assert "vectors_by_chat_model" in candidates and "Seq Scan" not in plan, plan


async def test_an_item_stored_by_one_process_is_found_by_a_search_on_another(postgres_dsn: str) -> None:
    first, second = await PgStore.open(postgres_dsn), await PgStore.open(postgres_dsn)
    try:
        index = PgVectorIndex(second.db, TEST_MODEL)
        vector = random_unit_vectors(1, DIM, seed=3)[0]
        assert await index.search(1, vector, 5) == []
        item = await first.items.add(new_item(1, 1), {FACET_MEDIA: vector})
        (hit,) = await index.search(1, vector, 5)  # no cache to refresh: the database is the index
        assert hit[:2] == (item.id, FACET_MEDIA) and hit[2] == pytest.approx(1.0)
    finally:
        await first.close()
        await second.close()


async def test_two_processes_storing_one_message_at_once_make_one_item(postgres_dsn: str) -> None:
    first, second = await PgStore.open(postgres_dsn), await PgStore.open(postgres_dsn)
    try:
        vectors = random_unit_vectors(20, DIM, seed=4)
        entries = [(new_item(1, m), {FACET_MEDIA: vectors[m]}) for m in range(20)]
        mine, theirs = await asyncio.gather(first.items.add_many(entries), second.items.add_many(entries[::-1]))
        assert mine == theirs[::-1]
        assert await first.db.fetchval("SELECT count(*) FROM items") == 20
        assert await first.db.fetchval("SELECT count(*) FROM vectors") == 20
    finally:
        await first.close()
        await second.close()


async def test_one_process_re_embeds_at_a_time_and_another_takes_over_when_it_stops(
        postgres_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reembedding, "TAKE_OVER_SECONDS", 0.05)
    first, second = await PgStore.open(postgres_dsn), await PgStore.open(postgres_dsn)
    try:
        leader_done = asyncio.Event()
        order: list[str] = []

        async def run(pg_store: PgStore, name: str, hold: asyncio.Event | None) -> None:
            async with pg_store.reembedding.sole_runner():
                order.append(f"{name} starts")
                if hold is not None:
                    await hold.wait()
                order.append(f"{name} stops")

        leader = asyncio.create_task(run(first, "first", leader_done))
        await asyncio.sleep(0.1)
        standby = asyncio.create_task(run(second, "second", None))
        await asyncio.sleep(0.3)
        assert order == ["first starts"]  # the second waits while the first runs
        leader_done.set()
        await asyncio.wait_for(asyncio.gather(leader, standby), 5)
        assert order == ["first starts", "first stops", "second starts", "second stops"]
    finally:
        await first.close()
        await second.close()
