"""Items and their vectors: idempotent adds, lookups, edits, and `load_vectors` against the per-row truth."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import numpy as np
import pytest

from storage import segments
from storage.models import FACET_CAPTION, FACET_MEDIA, FACET_TEXT
from storage.postgres.store import PgStore
from storage.vectors import VectorBlock
from tests.support.storage import TEST_MODEL, AnyStore, new_item, open_store_at, random_unit_vectors

DIM = 8
ROWS_PER_SEGMENT = 5


@pytest.fixture
async def store(backend_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AnyStore]:
    # Tiny segments (SQLite), so that a few dozen vectors exercise sealing, unsealing and the tail.
    monkeypatch.setattr(segments, "SEGMENT_BYTES", ROWS_PER_SEGMENT * DIM * 4)
    async with open_store_at(backend_url) as opened:
        yield opened


async def _truth(store: AnyStore, chat_id: int, model: str) -> dict[tuple[int, int], np.ndarray]:
    """The per-row source of truth, joined through `items` (not the copied chat_id/model columns)."""
    if isinstance(store, PgStore):
        found = await store.db.fetch(
            "SELECT v.item_id, v.facet, v.embedding FROM vectors AS v JOIN items AS i ON i.id = v.item_id "
            "WHERE i.chat_id = $1 AND i.model = $2", chat_id, model)
        return {(row[0], row[1]): row[2].to_numpy() for row in found}
    async with store.db.read() as conn:
        rows = await conn.execute_fetchall(
            "SELECT v.item_id, v.facet, v.vector FROM vectors AS v JOIN items AS i ON i.id = v.item_id "
            "WHERE i.chat_id = ? AND i.model = ?",
            (chat_id, model),
        )
    return {(row[0], row[1]): np.frombuffer(row[2], np.float32) for row in rows}


def _as_dict(block: VectorBlock) -> dict[tuple[int, int], np.ndarray]:
    rows = {
        (int(i), int(f)): block.matrix[n] for n, (i, f) in enumerate(zip(block.item_ids, block.facets, strict=True))
    }
    assert len(rows) == len(block), "a vector appears twice"
    return rows


async def _assert_loads_truth(store: AnyStore, chat_id: int, model: str = TEST_MODEL) -> VectorBlock:
    block = await store.items.load_vectors(chat_id, model)
    assert block.matrix.dtype == np.float32 and block.matrix.flags.c_contiguous
    loaded, truth = _as_dict(block), await _truth(store, chat_id, model)
    assert loaded.keys() == truth.keys()
    for key, vector in truth.items():
        np.testing.assert_array_equal(loaded[key], vector)
    return block


async def _assert_segments(store: AnyStore, chat_id: int, expected: int | None = None) -> None:
    """SQLite seals vectors into segments (`expected` of them, or some); PostgreSQL keeps rows only."""
    if isinstance(store, PgStore):
        return
    async with store.db.read() as conn:
        rows = list(await conn.execute_fetchall("SELECT count(*) FROM segments WHERE chat_id = ?", (chat_id,)))
    count = int(rows[0][0])
    assert count == expected if expected is not None else count > 0


async def test_add_stores_the_item_and_unit_vectors(store: AnyStore) -> None:
    item = await store.items.add(new_item(5, 42, caption="cat"), {FACET_MEDIA: [3, 4, 0], FACET_CAPTION: [0, 0, 2]})

    assert (item.chat_id, item.message_id, item.caption, item.origin_chat_id) == (5, 42, "cat", None)
    assert await store.items.get(item.id) == item
    assert await store.items.by_message(5, 42) == item
    block = await store.items.load_vectors(5, TEST_MODEL)
    vectors = _as_dict(block)
    np.testing.assert_allclose(vectors[(item.id, FACET_MEDIA)], [0.6, 0.8, 0.0], rtol=1e-6)
    np.testing.assert_allclose(vectors[(item.id, FACET_CAPTION)], [0.0, 0.0, 1.0])


async def test_second_add_of_the_same_message_returns_it_unchanged(store: AnyStore) -> None:
    first = await store.items.add(new_item(1, 1), {FACET_MEDIA: [1, 0]})
    again = await store.items.add(new_item(1, 1, caption="changed"), {FACET_MEDIA: [0, 1]})

    assert again == first
    np.testing.assert_array_equal((await store.items.load_vectors(1, TEST_MODEL)).matrix, [[1, 0]])


@pytest.mark.parametrize(
    "vectors",
    [
        {FACET_CAPTION: [1.0, 0.0]},  # no media vector
        {FACET_MEDIA: [0.0, 0.0]},  # zero: no direction
        {FACET_MEDIA: [np.nan, 1.0]},
        {FACET_MEDIA: [1.0, 0.0], 7: [1.0, 0.0]},  # unknown facet
        {FACET_MEDIA: [1.0, 0.0], FACET_CAPTION: [1.0, 0.0, 0.0]},  # mixed dimensions
    ],
)
async def test_invalid_vectors_are_rejected_and_nothing_is_stored(
    store: AnyStore, vectors: dict[int, list[float]]
) -> None:
    with pytest.raises(ValueError):
        await store.items.add(new_item(), vectors)
    assert await store.items.by_message(1, 1) is None


async def test_add_many_keeps_order_and_folds_duplicates(store: AnyStore) -> None:
    existing = await store.items.add(new_item(1, 1), {FACET_MEDIA: [1, 0]})
    results = await store.items.add_many(
        [
            (new_item(1, 2), {FACET_MEDIA: [0, 1]}),
            (new_item(1, 1), {FACET_MEDIA: [1, 1]}),
            (new_item(1, 2), {FACET_MEDIA: [1, 1]}),
            (new_item(2, 2), {FACET_MEDIA: [1, 1]}),
        ]
    )
    assert [(item.chat_id, item.message_id) for item in results] == [(1, 2), (1, 1), (1, 2), (2, 2)]
    assert results[1] == existing and results[0] == results[2]
    assert len({item.id for item in results}) == 3
    assert len(await store.items.load_vectors(1, TEST_MODEL)) == 2


async def test_get_many_returns_the_stored_ones(store: AnyStore) -> None:
    items = await store.items.add_many([(new_item(1, m), {FACET_MEDIA: [1, m]}) for m in range(1, 5)])
    found = await store.items.get_many([items[0].id, items[3].id, 999])
    assert found == {items[0].id: items[0], items[3].id: items[3]}


async def test_first_with_file_finds_the_earliest_post_of_the_file_in_that_chat(store: AnyStore) -> None:
    vectors = {FACET_MEDIA: [1.0, 0.0]}
    await store.items.add(new_item(2, 1, file_unique_id="same", date=50), vectors)  # another chat
    later = await store.items.add(new_item(1, 9, file_unique_id="same", date=300), vectors)
    earliest = await store.items.add(new_item(1, 8, file_unique_id="same", date=200), vectors)
    await store.items.add(new_item(1, 7, file_unique_id="other", date=100), vectors)

    assert await store.items.first_with_file(1, "same") == earliest
    assert await store.items.first_with_file(1, "same", exclude_message_id=8) == later
    assert await store.items.first_with_file(1, "same", exclude_message_id=9) == earliest
    assert await store.items.first_with_file(1, "missing") is None


async def test_load_vectors_equals_the_truth_through_sealing(store: AnyStore) -> None:
    matrix = random_unit_vectors(40, DIM)
    for start in range(0, 40, 7):  # batches of uneven size
        await store.items.add_many(
            [(new_item(1, m), {FACET_MEDIA: matrix[m]}) for m in range(start, min(start + 7, 40))]
        )
    block = await _assert_loads_truth(store, 1)

    assert len(block) == 40
    await _assert_segments(store, 1, 40 // ROWS_PER_SEGMENT)
    assert len(await store.items.load_vectors(2, TEST_MODEL)) == 0


async def test_load_vectors_stays_true_after_edits_of_sealed_items(store: AnyStore) -> None:
    matrix = random_unit_vectors(60, DIM, seed=1)
    items = await store.items.add_many(
        [(new_item(1, m), {FACET_MEDIA: matrix[m], FACET_CAPTION: matrix[m + 30]}) for m in range(30)]
    )
    await _assert_segments(store, 1, 60 // ROWS_PER_SEGMENT)

    new_vectors = random_unit_vectors(3, DIM, seed=2)
    await store.items.set_caption(items[0].id, "new caption", new_vectors[0])
    await store.items.set_caption(items[11].id, None, None)
    await store.items.replace_media(
        items[29].id, kind="video", file_id="v", file_unique_id="uv", route="clip", vector=new_vectors[1]
    )
    block = _as_dict(await _assert_loads_truth(store, 1))

    np.testing.assert_allclose(block[(items[0].id, FACET_CAPTION)], new_vectors[0], rtol=1e-6)
    assert (items[11].id, FACET_CAPTION) not in block
    np.testing.assert_allclose(block[(items[29].id, FACET_MEDIA)], new_vectors[1], rtol=1e-6)
    edited = await store.items.get(items[29].id)
    assert edited is not None
    assert (edited.kind, edited.file_id, edited.file_unique_id, edited.route) == ("video", "v", "uv", "clip")
    assert (await store.items.get(items[0].id)).caption == "new caption"  # type: ignore[union-attr]


async def test_only_vectors_of_the_requested_model_are_loaded(store: AnyStore) -> None:
    await store.items.add(new_item(1, 1), {FACET_MEDIA: [1, 0, 0]})
    await store.items.add(new_item(1, 2, model="other-model"), {FACET_MEDIA: [0, 1, 0, 0]})

    assert (await _assert_loads_truth(store, 1)).dim == 3
    assert (await _assert_loads_truth(store, 1, "other-model")).dim == 4


async def test_editing_a_missing_item_raises(store: AnyStore) -> None:
    with pytest.raises(LookupError):
        await store.items.set_caption(12345, "x", [1.0, 0.0])


async def test_counts_and_top_posters(store: AnyStore) -> None:
    vectors = {FACET_MEDIA: [1.0, 0.0]}
    video = {"kind": "video", "route": "clip"}
    await store.items.add(new_item(1, 1, sender_id=1, sender_name="Old name"), vectors)
    await store.items.add(new_item(1, 2, sender_id=1, sender_name="New name", **video), vectors)
    await store.items.add(new_item(1, 3, sender_id=2, sender_name="Bob"), vectors)
    await store.items.add(new_item(1, 4, sender_id=None, sender_name=None, **video), vectors)
    await store.items.add(new_item(2, 5, sender_id=2, sender_name="Bob"), vectors)

    assert await store.items.counts_by_kind(1) == {"photo": 2, "video": 2}
    assert await store.items.counts_by_route(1) == {"image": 2, "clip": 2}
    assert await store.items.top_posters(1) == [(1, "New name", 2), (None, None, 1), (2, "Bob", 1)]
    assert await store.items.top_posters(1, limit=1) == [(1, "New name", 2)]


async def test_a_chat_keeps_one_dimension_per_model(store: AnyStore) -> None:
    await store.items.add(new_item(1, 1), {FACET_MEDIA: [1.0, 0.0]})
    with pytest.raises(ValueError, match="dimensions"):
        await store.items.add(new_item(1, 2), {FACET_MEDIA: [1.0, 0.0, 0.0]})
    assert await store.items.by_message(1, 2) is None
    assert len(await store.items.load_vectors(1, TEST_MODEL)) == 1


async def test_a_text_message_has_only_a_text_vector_and_an_edit_replaces_it(store: AnyStore) -> None:
    text = await store.items.add(new_item(5, 1, kind="text", caption="hello there all of you"), {FACET_TEXT: [1, 0]})
    await store.items.set_text(text.id, "goodbye now all of you", [0, 3])

    assert (await store.items.get(text.id)) == replace(text, caption="goodbye now all of you")
    assert _as_dict(await _assert_loads_truth(store, 5)).keys() == {(text.id, FACET_TEXT)}
    np.testing.assert_allclose(_as_dict(await store.items.load_vectors(5, TEST_MODEL))[(text.id, FACET_TEXT)], [0, 1])


async def test_of_kind_lists_one_chats_texts_for_forgetting_them(store: AnyStore) -> None:
    vectors = random_unit_vectors(4 * ROWS_PER_SEGMENT, DIM, seed=3)
    kept, texts = [], []
    for n, vector in enumerate(vectors):
        if n % 2:
            texts.append(await store.items.add(new_item(5, n, kind="text"), {FACET_TEXT: vector}))
        else:
            kept.append(await store.items.add(new_item(5, n), {FACET_MEDIA: vector}))
    other_chat = await store.items.add(new_item(6, 1, kind="text"), {FACET_TEXT: vectors[0]})
    await _assert_segments(store, 5)

    assert await store.items.of_kind(5, "text") == texts
    assert await store.items.count_kind(5, "text") == len(texts)
    assert await store.items.forget(await store.items.of_kind(5, "text"), now=1) == len(texts)

    assert await store.items.of_kind(5, "text") == [] and await store.items.count_kind(5, "photo") == len(kept)
    assert {item_id for item_id, _facet in _as_dict(await _assert_loads_truth(store, 5))} == {i.id for i in kept}
    assert await store.items.of_kind(6, "text") == [other_chat]
