"""The int8 copy the index loads (`load_codes`), the re-rank reads (`read_vectors`), and the migration to int8."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import numpy as np
import pytest

from storage import segments
from storage.migrations import MIGRATIONS, migrate, schema_version
from storage.models import FACET_CAPTION, FACET_MEDIA
from storage.store import Store
from storage.vectors import QuantisedBlock, VectorBlock, quantise
from tests.support.storage import TEST_MODEL, new_item, open_store, random_unit_vectors

DIM = 8
ROWS_PER_SEGMENT = 5


@pytest.fixture
async def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Store]:
    monkeypatch.setattr(segments, "SEGMENT_BYTES", ROWS_PER_SEGMENT * DIM * 4)
    async with open_store(tmp_path / "bot.db") as opened:
        yield opened


def _codes_by_key(block: QuantisedBlock) -> dict[tuple[int, int], tuple[float, np.ndarray]]:
    keys = list(zip(block.item_ids.tolist(), block.facets.tolist(), strict=True))
    assert len(set(keys)) == len(keys), "a vector appears twice"
    return {key: (float(block.scales[n]), block.codes[n]) for n, key in enumerate(keys)}


def _assert_codes_match(codes: QuantisedBlock, truth: VectorBlock) -> None:
    expected_codes, expected_scales = quantise(truth.matrix)
    expected = _codes_by_key(QuantisedBlock(truth.item_ids, truth.facets, expected_scales, expected_codes))
    loaded = _codes_by_key(codes)
    assert loaded.keys() == expected.keys()
    for key, (scale, row) in expected.items():
        assert loaded[key][0] == pytest.approx(scale, rel=1e-6)
        np.testing.assert_array_equal(loaded[key][1], row)


def test_quantise_is_symmetric_per_vector_and_close() -> None:
    matrix = random_unit_vectors(50, 1024, seed=3)
    codes, scales = quantise(matrix)
    assert codes.dtype == np.int8 and codes.flags.c_contiguous and scales.dtype == np.float32
    assert np.abs(codes).max(axis=1).tolist() == [127] * 50
    error = matrix - scales[:, None] * codes
    assert np.all(np.abs(error) <= scales[:, None] / 2 + 1e-7)


async def test_load_codes_equals_the_quantised_truth_through_sealing_and_edits(store: Store) -> None:
    matrix = random_unit_vectors(60, DIM, seed=1)
    items = await store.items.add_many(
        [(new_item(1, m), {FACET_MEDIA: matrix[m], FACET_CAPTION: matrix[m + 30]}) for m in range(30)]
    )
    await store.items.add(new_item(1, 99), {FACET_MEDIA: matrix[0]})  # one row in the tail
    _assert_codes_match(await store.items.load_codes(1, TEST_MODEL), await store.items.load_vectors(1, TEST_MODEL))

    await store.items.set_caption(items[0].id, "new", random_unit_vectors(1, DIM, seed=2)[0])
    await store.items.set_caption(items[11].id, None, None)
    codes = await store.items.load_codes(1, TEST_MODEL)
    _assert_codes_match(codes, await store.items.load_vectors(1, TEST_MODEL))
    assert len(codes) == 60 and codes.codes.flags.c_contiguous and codes.codes.flags.writeable
    assert len(await store.items.load_codes(2, TEST_MODEL)) == 0


async def test_read_vectors_returns_the_named_rows_of_the_chat_only(store: Store) -> None:
    matrix = random_unit_vectors(4, DIM, seed=4)
    first = await store.items.add(new_item(1, 1), {FACET_MEDIA: matrix[0], FACET_CAPTION: matrix[1]})
    other = await store.items.add(new_item(2, 1), {FACET_MEDIA: matrix[2]})

    block = await store.items.read_vectors(
        1, TEST_MODEL, [(first.id, FACET_CAPTION), (other.id, FACET_MEDIA), (first.id, FACET_MEDIA), (77, 0)]
    )
    found = {(int(i), int(f)): row for i, f, row in zip(block.item_ids, block.facets, block.matrix, strict=True)}
    assert found.keys() == {(first.id, FACET_MEDIA), (first.id, FACET_CAPTION)}
    np.testing.assert_allclose(found[(first.id, FACET_CAPTION)], matrix[1], rtol=1e-6)
    assert len(await store.items.read_vectors(1, TEST_MODEL, [])) == 0


async def test_read_vectors_looks_up_each_key_by_primary_key(store: Store) -> None:
    """Not a walk over the chat: a re-rank of a 1M-vector chat must read its ~40 candidates, not 4 GB."""
    async with store.db.read() as conn:
        rows = await conn.execute_fetchall("EXPLAIN QUERY PLAN " + segments.READ_VECTORS, ("[]", 1, "m"))
    plan = [row[3] for row in rows]
    assert plan[0].startswith("SCAN k")
    assert "sqlite_autoindex_vectors_1 (item_id=? AND facet=?)" in plan[1]


async def test_a_database_with_float32_segments_is_migrated_to_int8(tmp_path: Path) -> None:
    """A database written before migration 3: float32 segments, sealed rows and a tail, as the old code wrote them."""
    path = tmp_path / "old.db"
    matrix = random_unit_vectors(7, DIM, seed=5)
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        assert await migrate(conn, MIGRATIONS[:2]) == 2
        for n in range(7):
            await conn.execute(
                "INSERT INTO items (id, chat_id, origin_chat_id, message_id, date, kind, file_id, "
                "file_unique_id, model, route) VALUES (?, 10, 10, ?, 100, 'photo', 'f', ?, ?, 'image')",
                (n + 1, n, f"u{n}", TEST_MODEL),
            )
        await conn.execute(
            "INSERT INTO segments (id, chat_id, model, rows, item_ids, facets, matrix) VALUES (4, 10, ?, 5, ?, ?, ?)",
            (TEST_MODEL, np.arange(1, 6, dtype="<i8").tobytes(), np.zeros(5, "i1").tobytes(), matrix[:5].tobytes()),
        )
        for n in range(7):
            await conn.execute(
                "INSERT INTO vectors (item_id, facet, chat_id, model, segment_id, vector) VALUES (?, 0, 10, ?, ?, ?)",
                (n + 1, TEST_MODEL, 4 if n < 5 else None, matrix[n].tobytes()),
            )

    async with open_store(path) as store:
        assert await schema_version(store.db.conn) == MIGRATIONS[-1].version
        async with store.db.read() as conn:
            columns = [row[1] for row in await conn.execute_fetchall("PRAGMA table_info(segments)")]
            segment_ids = [row[0] for row in await conn.execute_fetchall("SELECT id FROM segments")]
        assert "matrix" not in columns and {"scales", "codes"} <= set(columns)
        assert segment_ids == [4]
        # The later migration tags vectors and segments with the dimension read from their own bytes.
        tag = f"{TEST_MODEL}@{DIM}"
        codes = await store.items.load_codes(10, tag)
        assert codes.item_ids.tolist() == list(range(1, 8))
        _assert_codes_match(codes, VectorBlock(np.arange(1, 8), np.zeros(7, np.int8), matrix))
        # The migrated database keeps working: an edit of a sealed item unseals and re-seals.
        await store.items.set_caption(2, "c", random_unit_vectors(1, DIM, seed=6)[0])
        migrated = await store.items.load_codes(10, tag)
        _assert_codes_match(migrated, await store.items.load_vectors(10, tag))
