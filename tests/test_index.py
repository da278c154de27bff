"""The in-memory index: exact top-k against a brute-force reference, and the registry kept in step with SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from pathlib import Path

import numpy as np
import pytest

from bot.search.index import ChatIndex, IndexRegistry
from storage.models import ALL_FACETS, FACET_CAPTION, FACET_MEDIA
from storage.store import Store
from storage.vectors import QuantisedBlock, VectorBlock
from tests.support.index import index_of
from tests.support.storage import TEST_MODEL, new_item, open_store, random_unit_vectors

DIM = 16


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(tmp_path / "bot.db") as opened:
        yield opened


def _random_block(items: int, seed: int) -> VectorBlock:
    """Every item has a media vector, about half also a caption vector; rows shuffled."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, items + 1)
    captioned = ids[rng.random(items) < 0.5]
    item_ids = np.concatenate([ids, captioned])
    facets = np.concatenate([np.full(items, FACET_MEDIA), np.full(len(captioned), FACET_CAPTION)])
    order = rng.permutation(len(item_ids))
    matrix = random_unit_vectors(len(item_ids), DIM, seed)
    return VectorBlock(item_ids[order].astype(np.int64), facets[order].astype(np.int8), matrix)


def _brute_force(
    block: VectorBlock, query: np.ndarray, k: int, facets: Collection[int] | None, exclude: Collection[int]
) -> list[tuple[int, int, float]]:
    query = query / np.linalg.norm(query)
    best: dict[int, tuple[int, int, float]] = {}
    for item_id, facet, vector in zip(block.item_ids, block.facets, block.matrix, strict=True):
        if (facets is not None and facet not in facets) or item_id in exclude:
            continue
        score = float(vector @ query)
        if item_id not in best or score > best[item_id][2]:
            best[int(item_id)] = (int(item_id), int(facet), score)
    return sorted(best.values(), key=lambda hit: -hit[2])[:k]


def _assert_same_hits(found: list[tuple[int, int, float]], expected: list[tuple[int, int, float]]) -> None:
    assert [(item_id, facet) for item_id, facet, _ in found] == [(item_id, facet) for item_id, facet, _ in expected]
    np.testing.assert_allclose([s for *_, s in found], [s for *_, s in expected], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("k", [1, 5, 40, 1000])
@pytest.mark.parametrize("facets", [None, {FACET_MEDIA}, {FACET_CAPTION}, set(ALL_FACETS), set()])
@pytest.mark.parametrize("exclude", [(), (3, 17, 250)])
async def test_search_equals_brute_force(k: int, facets: set[int] | None, exclude: tuple[int, ...]) -> None:
    block = _random_block(300, seed=k)
    index, _ = index_of(DIM, block)
    for query in random_unit_vectors(3, DIM, seed=99):
        _assert_same_hits(
            await index.search(query, k, facets=facets, exclude_item_ids=exclude),
            _brute_force(block, query, k, facets, exclude),
        )


async def test_search_finds_an_exact_copy_first_with_similarity_one() -> None:
    block = _random_block(100, seed=1)
    index, _ = index_of(DIM, block)
    item_id, facet, score = (await index.search(block.matrix[10] * 3.0, 1))[0]  # any norm: the query is normalised
    assert (item_id, facet) == (block.item_ids[10], block.facets[10])
    assert score == pytest.approx(1.0, abs=1e-6)


async def test_index_grows_from_empty_and_matches_one_built_at_once() -> None:
    block = _random_block(200, seed=2)
    grown = ChatIndex(DIM, None, index_of(DIM, block)[1])
    assert await grown.search(block.matrix[0], 5) == [] and len(grown) == 0
    for item_id, facet, vector in zip(block.item_ids, block.facets, block.matrix, strict=True):
        grown.add(int(item_id), int(facet), vector)

    assert len(grown) == len(block)
    # Resident per row: int8 codes, a float32 scale, an int64 id and an int8 facet (the float32 copy stays in storage).
    assert grown.nbytes >= len(block) * (DIM + 4 + 8 + 1)
    query = random_unit_vectors(1, DIM, seed=3)[0]
    _assert_same_hits(await grown.search(query, 20), await index_of(DIM, block)[0].search(query, 20))


async def test_remove_item_removes_all_or_only_the_named_facets() -> None:
    index, exact = index_of(DIM)
    vectors = random_unit_vectors(5, DIM, seed=4)
    rows = [(1, FACET_MEDIA, 0), (1, FACET_CAPTION, 1), (2, FACET_MEDIA, 2), (3, FACET_MEDIA, 3)]
    for item_id, facet, vector in rows:
        exact.add(item_id, facet, vectors[vector])  # storage still holds removed rows: the index must drop them
        index.add(item_id, facet, vectors[vector])

    index.remove_item(1, facets=[FACET_CAPTION])
    assert len(index) == 3
    assert await index.search(vectors[1], 5, facets={FACET_CAPTION}) == []
    assert (await index.search(vectors[0], 1))[0][:2] == (1, FACET_MEDIA)

    index.remove_item(1)
    index.remove_item(42)  # unknown: nothing happens
    assert len(index) == 2
    assert {hit[0] for hit in await index.search(vectors[0], 5)} == {2, 3}


async def test_invalid_input_is_rejected() -> None:
    index, _ = index_of(DIM, _random_block(10, seed=5))
    with pytest.raises(ValueError):
        await index.search(np.ones(DIM + 1), 3)
    with pytest.raises(ValueError):
        index.add(1, 9, np.ones(DIM))
    with pytest.raises(ValueError):
        index.add(1, FACET_MEDIA, np.zeros(DIM))
    with pytest.raises(ValueError):
        index_of(DIM + 1, _random_block(10, seed=5))
    assert await index.search(np.ones(DIM), 0) == []


async def _add(store: Store, chat_id: int, message_id: int, seed: int, caption: bool = False) -> int:
    media, text = random_unit_vectors(2, DIM, seed)
    vectors = {FACET_MEDIA: media, FACET_CAPTION: text} if caption else {FACET_MEDIA: media}
    return (await store.items.add(new_item(chat_id, message_id), vectors)).id


async def _assert_matches_sqlite(store: Store, index: ChatIndex, chat_id: int) -> None:
    """The kept-in-step index answers like one freshly built from SQLite, for every facet."""
    fresh = await IndexRegistry(store.items, TEST_MODEL, DIM).get(chat_id)
    assert len(index) == len(fresh)
    for query in random_unit_vectors(3, DIM, seed=1234):
        for facets in ({FACET_MEDIA}, {FACET_CAPTION}):
            _assert_same_hits(
                await index.search(query, 50, facets=facets), await fresh.search(query, 50, facets=facets)
            )


async def test_registry_searches_only_the_chat_asked_for(store: Store) -> None:
    for message_id in range(10):
        await _add(store, 1, message_id, seed=message_id)
        await _add(store, 2, message_id, seed=message_id)  # identical vectors in another chat
    registry = IndexRegistry(store.items, TEST_MODEL, DIM)

    chat_one = {item.id for item in (await store.items.get_many(range(1, 100))).values() if item.chat_id == 1}
    hits = await registry.search(1, random_unit_vectors(1, DIM, seed=0)[0], 100)
    assert {item_id for item_id, _, _ in hits} == chat_one
    assert registry.loaded_chats() == 1
    assert registry.memory_bytes() == (await registry.get(1)).nbytes > 0


async def test_registry_follows_adds_and_edits_after_loading(store: Store) -> None:
    first = await _add(store, 1, 1, seed=1, caption=True)
    registry = IndexRegistry(store.items, TEST_MODEL, DIM)
    index = await registry.get(1)

    added = await _add(store, 1, 2, seed=2, caption=True)
    await store.items.set_caption(first, "new", random_unit_vectors(1, DIM, seed=3)[0])
    await store.items.set_caption(added, None, None)
    await store.items.replace_media(
        added, kind="video", file_id="v", file_unique_id="uv", route="clip", vector=random_unit_vectors(1, DIM, 4)[0]
    )
    await _add(store, 2, 1, seed=5)  # another chat, not loaded: nothing to do

    assert await registry.get(1) is index
    assert len(index) == 3
    await _assert_matches_sqlite(store, index, 1)


async def test_registry_ignores_other_models(store: Store) -> None:
    registry = IndexRegistry(store.items, "another-model", DIM)
    index = await registry.get(1)
    await _add(store, 1, 1, seed=1)
    assert len(index) == 0


async def test_move_and_purge_drop_the_loaded_indexes(store: Store) -> None:
    for message_id in range(3):
        await _add(store, 1, message_id, seed=message_id)
    await _add(store, 2, 10, seed=10)
    registry = IndexRegistry(store.items, TEST_MODEL, DIM)
    await registry.get(1)
    await registry.get(2)

    await store.chats.move(1, 2)
    assert registry.loaded_chats() == 0
    assert len(await registry.get(1)) == 0
    assert len(await registry.get(2)) == 4

    await store.chats.purge(2)
    assert len(await registry.get(2)) == 0


def _wrap_load(
    store: Store, monkeypatch: pytest.MonkeyPatch, during: Callable[[], Awaitable[object]], *, before: bool
) -> list[int]:
    """Make `load_codes` run `during` just before or just after taking its snapshot; returns the call log."""
    calls: list[int] = []
    original = store.items.load_codes

    async def load(chat_id: int, model: str) -> QuantisedBlock:
        calls.append(chat_id)
        if before and len(calls) == 1:
            await during()
        block = await original(chat_id, model)
        if not before and len(calls) == 1:
            await during()
        return block

    monkeypatch.setattr(store.items, "load_codes", load)
    return calls


async def test_concurrent_first_uses_load_once(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    await _add(store, 1, 1, seed=1)
    registry = IndexRegistry(store.items, TEST_MODEL, DIM)
    calls = _wrap_load(store, monkeypatch, lambda: asyncio.sleep(0.01), before=False)

    indexes = await asyncio.gather(*(registry.get(1) for _ in range(5)))

    assert calls == [1]
    assert all(index is indexes[0] for index in indexes)


@pytest.mark.parametrize("before", [True, False], ids=["before-snapshot", "after-snapshot"])
async def test_changes_committed_while_loading_are_not_lost_or_doubled(
    store: Store, monkeypatch: pytest.MonkeyPatch, before: bool
) -> None:
    first = await _add(store, 1, 1, seed=1, caption=True)
    registry = IndexRegistry(store.items, TEST_MODEL, DIM)

    async def edits() -> None:
        await _add(store, 1, 2, seed=2, caption=True)
        await store.items.set_caption(first, None, None)

    _wrap_load(store, monkeypatch, edits, before=before)
    index = await registry.get(1)

    assert len(index) == 3
    await _assert_matches_sqlite(store, index, 1)


async def test_a_move_committed_while_loading_makes_the_registry_load_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _add(store, 1, 1, seed=1)
    await _add(store, 2, 1, seed=2)
    registry = IndexRegistry(store.items, TEST_MODEL, DIM)
    calls = _wrap_load(store, monkeypatch, lambda: store.chats.move(1, 2), before=False)

    index = await registry.get(2)

    assert calls == [2, 2]
    assert len(index) == 2
