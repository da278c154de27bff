"""The chunked int8 scan selects exactly what a full scan and a full sort would: every chunk's best rows merged,
whichever thread claimed which chunk; and the index's exclusions, applied to the candidates only, still keep every
excluded item out when it holds the best rows."""

from __future__ import annotations

import numpy as np
import pytest

from bot.search import kernel
from bot.search.kernel import scan
from storage.models import ALL_FACETS, FACET_CAPTION, FACET_MEDIA
from storage.vectors import VectorBlock, quantise
from tests.support.index import index_of
from tests.support.storage import random_unit_vectors

DIM = 96


def _reference(
    codes: np.ndarray, scales: np.ndarray, query: np.ndarray, query_scale: float, dropped: np.ndarray
) -> np.ndarray:
    dots = (codes.astype(np.int64) @ query[0].astype(np.int64)).astype(np.float32)
    expected: np.ndarray = dots * scales * np.float32(query_scale)
    expected[dropped] = -np.inf
    return expected


@pytest.mark.parametrize("chunk_rows", [1, 7, 64, 1000, 5000])
@pytest.mark.parametrize("depth", [1, 10, 333, 2000])
@pytest.mark.parametrize("leave_out_every", [0, 3])
def test_chunked_selection_equals_a_full_sort(chunk_rows: int, depth: int, leave_out_every: int) -> None:
    codes, scales = quantise(random_unit_vectors(1000, DIM, seed=chunk_rows))
    query, query_scales = quantise(random_unit_vectors(1, DIM, seed=5))
    dropped = np.zeros(len(codes), bool)
    if leave_out_every:
        dropped[::leave_out_every] = True
    scanned = scan(
        codes,
        scales,
        query,
        float(query_scales[0]),
        depth,
        leave_out=(lambda start, stop: dropped[start:stop]) if leave_out_every else None,
        chunk_rows=chunk_rows,
    )
    expected = _reference(codes, scales, query, float(query_scales[0]), dropped)
    np.testing.assert_allclose(scanned.scores, expected, rtol=1e-6)  # every row scored, the left-out ones -inf
    for count in sorted({1, depth // 2, depth, depth + 1, 3 * depth}):  # from the pool, then from every score
        rows = scanned.best(count)
        assert len(rows) == min(count, len(codes)) == len(set(rows.tolist()))
        np.testing.assert_array_equal(scanned.scores[rows], np.sort(expected)[::-1][: len(rows)])  # highest first


def test_an_empty_scan_selects_nothing() -> None:
    codes, scales = quantise(random_unit_vectors(5, DIM, seed=1))
    assert len(scan(codes[:0], scales[:0], codes[:1], 1.0, 10).best(10)) == 0
    assert len(scan(codes, scales, codes[:1], 1.0, 0).best(0)) == 0


async def test_excluded_items_holding_the_best_rows_are_never_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """The query's own item and its near-copies, with media and caption rows, fill the top; they are excluded.
    Small chunks make the index's scan run in many pieces across the threads."""
    monkeypatch.setattr(kernel, "CHUNK_BYTES", DIM * 50)
    rng = np.random.default_rng(4)
    base = random_unit_vectors(1, DIM, seed=11)[0]
    copies = base + rng.standard_normal((12, DIM)).astype(np.float32) * np.float32(0.01)
    others = random_unit_vectors(900, DIM, seed=12)
    media = np.concatenate([copies, others])
    items = np.arange(1, len(media) + 1, dtype=np.int64)
    block = VectorBlock(
        np.concatenate([items, items[:12]]),
        np.concatenate([np.full(len(items), FACET_MEDIA), np.full(12, FACET_CAPTION)]).astype(np.int8),
        np.concatenate([media, copies]).astype(np.float32),
    )
    block = VectorBlock(block.item_ids, block.facets, block.matrix / np.linalg.norm(block.matrix, axis=1)[:, None])
    index, _ = index_of(DIM, block)
    excluded = set(range(1, 11))  # ten of the twelve copies
    for facets in (None, {FACET_MEDIA}, set(ALL_FACETS)):
        hits = await index.search(base, 5, facets=facets, exclude_item_ids=excluded)
        scores = block.matrix @ (base / np.linalg.norm(base))
        allowed = [
            row
            for row in range(len(scores))
            if int(block.item_ids[row]) not in excluded and (facets is None or int(block.facets[row]) in facets)
        ]
        best: dict[int, float] = {}
        for row in allowed:
            item_id = int(block.item_ids[row])
            best[item_id] = max(best.get(item_id, -np.inf), float(scores[row]))
        expected = sorted(best.items(), key=lambda entry: -entry[1])[:5]
        assert [item_id for item_id, _, _ in hits] == [item_id for item_id, _ in expected]
        np.testing.assert_allclose([score for *_, score in hits], [score for _, score in expected], rtol=1e-5)
        assert {11, 12} <= {item_id for item_id, _, _ in hits}
