"""The int8 index answers exactly: the top-k after the float32 re-rank equals float32 brute force, on random data
and on clusters of near-duplicates (what reposts look like), for every dimension the supported models give; and
the registry keeps its maps within their bounds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from bot.search.index import CHAT_OVERHEAD_BYTES, ChatIndex, IndexRegistry
from storage.models import FACET_CAPTION, FACET_MEDIA
from storage.store import Store
from storage.vectors import QuantisedBlock, VectorBlock
from tests.support.index import InMemoryVectors, index_of
from tests.support.storage import TEST_MODEL, new_item, open_store, random_unit_vectors

K = 10
DIMS = [768, 1024, 1152, 2560]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(tmp_path / "bot.db") as opened:
        yield opened


def _media_block(matrix: np.ndarray) -> VectorBlock:
    return VectorBlock(np.arange(1, len(matrix) + 1, dtype=np.int64), np.zeros(len(matrix), np.int8), matrix)


def _clustered(count: int, dim: int, seed: int) -> np.ndarray:
    """Clusters of 40 reposts of one picture: tiny perturbations (cosine ~0.999) and exact copies (ties)."""
    rng = np.random.default_rng(seed)
    centres = random_unit_vectors(count // 40, dim, seed)
    matrix = np.repeat(centres, 40, axis=0)
    matrix += rng.standard_normal(matrix.shape, dtype=np.float32) * np.float32(0.04 / np.sqrt(dim))
    matrix[::7] = matrix[1::7][: len(matrix[::7])]  # every 7th row duplicates its neighbour exactly
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


async def _recall_at_k(index: ChatIndex, matrix: np.ndarray, queries: np.ndarray) -> float:
    """Recall@K against float32 brute force, counting ties by score: a found item is right if its exact score is at
    least the true K-th best (identical vectors are interchangeable)."""
    found_right = 0
    for query in queries:
        exact = matrix @ query
        kth = np.sort(exact)[-K]
        hits = await index.search(query, K)
        assert len(hits) == K
        scores = np.array([exact[item_id - 1] for item_id, _, _ in hits])
        np.testing.assert_allclose([score for *_, score in hits], scores, rtol=1e-5, atol=1e-6)  # exact cosines
        found_right += int(np.count_nonzero(scores >= kth - 1e-6))
    return found_right / (K * len(queries))


@pytest.mark.parametrize("dim", DIMS)
async def test_top_10_equals_float32_on_random_data(dim: int) -> None:
    matrix = random_unit_vectors(5000, dim, seed=dim)
    index, exact = index_of(dim, _media_block(matrix))
    recall = await _recall_at_k(index, matrix, random_unit_vectors(40, dim, seed=dim + 1))
    assert recall >= 0.999
    assert recall == 1.0
    assert sum(exact.reads) <= 40 * K * 4 * 4, "re-ranking reads a few candidates, not the chat"


@pytest.mark.parametrize("dim", DIMS)
async def test_top_10_equals_float32_on_clustered_near_duplicates(dim: int) -> None:
    matrix = _clustered(4000, dim, seed=dim)
    index, _ = index_of(dim, _media_block(matrix))
    rng = np.random.default_rng(dim)
    # New reposts: a stored picture perturbed a little, so dozens of rows score within ~1e-3 of each other.
    queries = matrix[rng.choice(len(matrix), 30, replace=False)]
    queries = queries + rng.standard_normal(queries.shape, dtype=np.float32) * np.float32(0.02 / np.sqrt(dim))
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    recall = await _recall_at_k(index, matrix, queries)
    assert recall >= 0.999
    assert recall == 1.0


async def test_filters_and_facets_keep_exact_semantics_at_full_dimension() -> None:
    dim = 1024
    matrix = _clustered(1200, dim, seed=3)
    items = len(matrix) // 2  # two facets per item: media in the first half, caption in the second
    block = VectorBlock(
        np.concatenate([np.arange(1, items + 1), np.arange(1, items + 1)]).astype(np.int64),
        np.concatenate([np.full(items, FACET_MEDIA), np.full(items, FACET_CAPTION)]).astype(np.int8),
        matrix,
    )
    index, _ = index_of(dim, block)
    query = matrix[5]
    exclude = {6, 7, 8}
    scores = block.matrix @ query
    best: dict[int, tuple[int, float]] = {}
    for item_id, facet, score in zip(block.item_ids.tolist(), block.facets.tolist(), scores.tolist(), strict=True):
        if item_id not in exclude and (item_id not in best or score > best[item_id][1]):
            best[item_id] = (facet, score)
    expected = sorted(best.items(), key=lambda entry: -entry[1][1])[:K]
    hits = await index.search(query, K, exclude_item_ids=exclude)
    np.testing.assert_allclose([s for *_, s in hits], [s for _, (_, s) in expected], rtol=1e-5, atol=1e-6)
    assert not exclude & {item_id for item_id, _, _ in hits}
    assert len({item_id for item_id, _, _ in hits}) == K
    caption_hits = await index.search(query, K, facets={FACET_CAPTION})
    assert {facet for _, facet, _ in caption_hits} == {FACET_CAPTION}


async def test_a_removed_item_is_gone_from_the_next_search_even_while_storage_still_has_it() -> None:
    matrix = random_unit_vectors(3000, 1024, seed=7)
    index, _ = index_of(1024, _media_block(matrix))
    top = (await index.search(matrix[41], 3))[0]
    assert top[0] == 42
    index.remove_item(42)
    assert 42 not in {item_id for item_id, _, _ in await index.search(matrix[41], 3)}


async def test_an_item_removed_while_its_vector_is_read_is_not_returned() -> None:
    """Removal during the re-rank's storage read: the read no longer finds it, and a widened scan sees the change."""
    matrix = random_unit_vectors(2000, 1024, seed=8)
    block = _media_block(matrix)

    class Removing(InMemoryVectors):
        async def read_vectors(self, keys: Sequence[tuple[int, int]]) -> VectorBlock:
            if (1, 0) in self.vectors:
                del self.vectors[(1, 0)]
                index.remove_item(1)
            await asyncio.sleep(0)
            return await super().read_vectors(keys)

    index = ChatIndex(1024, QuantisedBlock.of(block), Removing(block))
    hits = await index.search(matrix[0], 5)
    assert 1 not in {item_id for item_id, _, _ in hits} and len(hits) == 5


async def test_growth_keeps_adds_amortised_and_memory_within_1_2_kb_per_1024_d_vector() -> None:
    vectors = random_unit_vectors(5000, 1024, seed=9)
    index, exact = index_of(1024)
    for n, vector in enumerate(vectors, 1):
        exact.add(n, FACET_MEDIA, vector)
        index.add(n, FACET_MEDIA, vector)
    assert index.nbytes / len(index) <= 1200
    loaded, _ = index_of(1024, _media_block(vectors))
    assert loaded.nbytes == 5000 * (1024 + 4 + 8 + 1) + CHAT_OVERHEAD_BYTES
    assert await index.search(vectors[17], 1) == [(18, FACET_MEDIA, pytest.approx(1.0, abs=1e-6))]


async def _add_chat(store: Store, chat_id: int, count: int, dim: int, seed: int) -> None:
    vectors = random_unit_vectors(count, dim, seed)
    await store.items.add_many([(new_item(chat_id, m), {FACET_MEDIA: vectors[m]}) for m in range(count)])


async def test_registry_evicts_least_recently_used_chats_and_reloads_them(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    dim = 64
    for chat_id in (1, 2, 3):
        await _add_chat(store, chat_id, 100, dim, seed=chat_id)
    one_chat = 100 * (dim + 13) + CHAT_OVERHEAD_BYTES
    registry = IndexRegistry(store.items, TEST_MODEL, dim, memory_budget_bytes=2 * one_chat)
    loads: list[int] = []
    original = store.items.load_codes

    async def load(chat_id: int, model: str) -> QuantisedBlock:
        loads.append(chat_id)
        return await original(chat_id, model)

    monkeypatch.setattr(store.items, "load_codes", load)
    query = random_unit_vectors(1, dim, seed=50)[0]
    first = await registry.search(1, query, 5)
    await registry.search(2, query, 5)
    await registry.search(1, query, 5)  # chat 1 is now the most recent: chat 2 goes first
    await registry.search(3, query, 5)

    assert loads == [1, 2, 3]
    assert registry.loaded_chats() == 2 and registry.memory_bytes() <= 2 * one_chat
    await _add_chat(store, 2, 0, dim, seed=0)
    assert await registry.search(2, query, 5) is not None and loads == [1, 2, 3, 2]
    assert await registry.search(1, query, 5) == first  # evicted by the reload of 2, reloaded: same answer
    assert loads == [1, 2, 3, 2, 1]
    assert registry.memory_bytes() == sum(i.nbytes for i in registry._indexes.values())


@pytest.mark.slow  # 10 000 chats loaded one by one: 10-20 s
async def test_ten_thousand_small_chats_keep_every_map_within_its_bound(store: Store) -> None:
    dim = 16
    chats = 10_000
    vectors = random_unit_vectors(chats, dim, seed=11)
    await store.items.add_many([(new_item(chat_id, 1), {FACET_MEDIA: vectors[chat_id]}) for chat_id in range(chats)])
    budget = 100 * (CHAT_OVERHEAD_BYTES + 16 * (dim + 13))
    registry = IndexRegistry(store.items, TEST_MODEL, dim, memory_budget_bytes=budget)

    for start in range(0, chats, 50):  # 50 chats at a time, concurrently; one of them searched
        loaded = await asyncio.gather(*(registry.get(c) for c in range(start, start + 50)))
        assert [len(index) for index in loaded] == [1] * 50
        assert (await registry.search(start, vectors[start], 1))[0][2] == pytest.approx(1.0, abs=1e-6)
        sizes = registry.map_sizes()
        assert registry.memory_bytes() <= budget
        assert sizes["indexes"] <= budget // CHAT_OVERHEAD_BYTES
        assert sizes["pending"] == sizes["loading"] == sizes["reset_while_loading"] == 0

    assert registry.loaded_chats() <= budget // CHAT_OVERHEAD_BYTES
