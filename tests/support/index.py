"""Chat indexes without a database: the float32 re-rank source is a dict in memory (tests only)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bot.search.index import ChatIndex
from storage.vectors import QuantisedBlock, VectorBlock, unit_vector


class InMemoryVectors:
    """`ExactVectors` over a dict of unit vectors; `add`/`remove` mirror what storage would hold."""

    def __init__(self, block: VectorBlock | None = None) -> None:
        self.vectors: dict[tuple[int, int], np.ndarray] = {}
        self.reads: list[int] = []
        if block is not None:
            for item_id, facet, vector in zip(block.item_ids, block.facets, block.matrix, strict=True):
                self.vectors[(int(item_id), int(facet))] = unit_vector(vector)

    def add(self, item_id: int, facet: int, vector: np.ndarray) -> None:
        self.vectors[(item_id, facet)] = unit_vector(vector)

    async def read_vectors(self, keys: Sequence[tuple[int, int]]) -> VectorBlock:
        self.reads.append(len(keys))
        found = [key for key in keys if key in self.vectors]
        if not found:
            return VectorBlock.empty(0)
        return VectorBlock(
            np.array([key[0] for key in found], np.int64),
            np.array([key[1] for key in found], np.int8),
            np.stack([self.vectors[key] for key in found]),
        )


def index_of(dim: int, block: VectorBlock | None = None, *, oversampling: int = 4) -> tuple[ChatIndex, InMemoryVectors]:
    """A `ChatIndex` holding `block` quantised, re-ranking from an in-memory copy of its float32 vectors."""
    exact = InMemoryVectors(block)
    quantised = None if block is None else QuantisedBlock.of(block)
    return ChatIndex(dim, quantised, exact, oversampling=oversampling), exact
