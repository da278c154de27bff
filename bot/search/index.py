"""In-memory per-chat vector indexes: a cache of what SQLite holds, searched exactly (no approximation).

A chat's vectors are rows of one C-contiguous float32 matrix, all unit length, so a search is one BLAS
matrix-vector product over the filled rows (`X[:n] @ q`, a view: no copy) followed by `argpartition`. That
scan is bound by memory bandwidth: 6-10 ms per 100k x 1024 vectors on the dev VM (`python -m bench.search`).
Exact search keeps results trustworthy for repost alerts; chats large enough to need an approximate index are
not expected.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from storage.items import ChatsReset, ItemEvent, ItemRepository, VectorsChanged
from storage.models import ALL_FACETS
from storage.vectors import FloatMatrix, VectorBlock, unit_vector

log = logging.getLogger(__name__)

SearchHit = tuple[int, int, float]
"""(item_id, facet, cosine similarity)."""

_MIN_CAPACITY = 16


class ChatIndex:
    """The vectors of one chat. Rows are unordered; removal moves the last row into the hole."""

    def __init__(self, dim: int, block: VectorBlock | None = None) -> None:
        self.dim = dim
        if block is None or len(block) == 0:
            block = VectorBlock.empty(dim)
        if block.dim != dim:
            raise ValueError(f"block has dimension {block.dim}, index expects {dim}")
        # Adopted without a copy when already in the right layout (as `ItemRepository.load_vectors` returns it),
        # so a cold start copies the chat's vectors only once: from SQLite into this matrix.
        self._ids: npt.NDArray[np.int64] = np.require(block.item_ids, np.int64, ["C", "W"])
        self._facets: npt.NDArray[np.int8] = np.require(block.facets, np.int8, ["C", "W"])
        self._matrix: FloatMatrix = np.require(block.matrix, np.float32, ["C", "W"])
        self._size = len(block)

    def __len__(self) -> int:
        return self._size

    @property
    def nbytes(self) -> int:
        """Memory held, including spare capacity."""
        return self._ids.nbytes + self._facets.nbytes + self._matrix.nbytes

    def add(self, item_id: int, facet: int, vector: npt.ArrayLike) -> None:
        """Append one row (amortised O(1)); the caller guarantees (item_id, facet) is not present yet."""
        if facet not in ALL_FACETS:
            raise ValueError(f"unknown facet {facet}")
        unit = unit_vector(vector, self.dim)
        if self._size == len(self._ids):
            self._grow()
        row = self._size
        self._ids[row] = item_id
        self._facets[row] = facet
        self._matrix[row] = unit
        self._size += 1

    def remove_item(self, item_id: int, facets: Collection[int] | None = None) -> None:
        """Drop the item's rows (only those of `facets` when given); O(n) to find them."""
        rows = np.flatnonzero(self._ids[: self._size] == item_id)
        if facets is not None:
            rows = rows[np.isin(self._facets[rows], _array(facets, np.int8))]
        for row in rows[::-1]:  # from the end, so that no row still to remove is moved
            self._remove_row(int(row))

    def search(
        self,
        query: npt.ArrayLike,
        k: int,
        *,
        facets: Collection[int] | None = None,
        exclude_item_ids: Collection[int] = (),
    ) -> list[SearchHit]:
        """The k items most similar to `query`, best first, each once with its best facet among `facets`."""
        size = self._size
        if k <= 0 or size == 0:
            return []
        scores = self._matrix[:size] @ unit_vector(query, self.dim)
        self._exclude(scores, facets, exclude_item_ids)
        # An item has at most one row per facet, so the best k*len(ALL_FACETS) rows hold k distinct items; the loop
        # only widens if that invariant was broken by a caller.
        wanted = k * len(ALL_FACETS)
        while True:
            rows = _best_rows(scores, wanted)
            hits = self._distinct_items(rows, scores, k)
            if len(hits) == k or wanted >= size or scores[rows[-1]] == -np.inf:
                return hits
            wanted *= 2

    def _exclude(self, scores: FloatMatrix, facets: Collection[int] | None, exclude_item_ids: Collection[int]) -> None:
        """Rows that must not be found score -inf (the scores array is fresh, so this costs no copy)."""
        size = self._size
        if facets is not None and not set(ALL_FACETS) <= set(facets):
            scores[~np.isin(self._facets[:size], _array(facets, np.int8))] = -np.inf
        if exclude_item_ids:
            scores[np.isin(self._ids[:size], _array(exclude_item_ids, np.int64))] = -np.inf

    def _distinct_items(self, rows: npt.NDArray[np.intp], scores: FloatMatrix, k: int) -> list[SearchHit]:
        hits: list[SearchHit] = []
        seen: set[int] = set()
        for row in rows.tolist():
            score = float(scores[row])
            if score == -np.inf:
                break
            item_id = int(self._ids[row])
            if item_id not in seen:
                seen.add(item_id)
                hits.append((item_id, int(self._facets[row]), score))
                if len(hits) == k:
                    break
        return hits

    def _grow(self) -> None:
        capacity = max(_MIN_CAPACITY, 2 * len(self._ids))
        size = self._size
        ids = np.empty(capacity, np.int64)
        facets = np.empty(capacity, np.int8)
        matrix = np.empty((capacity, self.dim), np.float32)
        ids[:size] = self._ids[:size]
        facets[:size] = self._facets[:size]
        matrix[:size] = self._matrix[:size]
        self._ids, self._facets, self._matrix = ids, facets, matrix

    def _remove_row(self, row: int) -> None:
        last = self._size - 1
        if row != last:
            self._ids[row] = self._ids[last]
            self._facets[row] = self._facets[last]
            self._matrix[row] = self._matrix[last]
        self._size = last


class IndexRegistry:
    """One lazily built `ChatIndex` per chat, for the configured model only, in step with `ItemRepository`.

    Registers itself as a listener of `items`. Events that commit while a chat's index is being loaded are
    buffered and replayed on top of the loaded snapshot; every event is a "set these facets to these vectors"
    (replayed as remove-then-add), so replaying one the snapshot already contains changes nothing.
    """

    def __init__(self, items: ItemRepository, model: str, dim: int) -> None:
        self._items = items
        self.model = model
        self.dim = dim
        self._indexes: dict[int, ChatIndex] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._loading: dict[int, list[VectorsChanged]] = {}
        self._reset_while_loading: set[int] = set()
        items.add_listener(self)

    async def get(self, chat_id: int) -> ChatIndex:
        index = self._indexes.get(chat_id)
        if index is not None:
            return index
        async with self._locks.setdefault(chat_id, asyncio.Lock()):
            while (index := self._indexes.get(chat_id)) is None:
                await self._load(chat_id)
        return index

    async def search(self, chat_id: int, query: npt.ArrayLike, k: int, *, facets: Collection[int] | None = None,
                     exclude_item_ids: Collection[int] = ()) -> list[SearchHit]:
        """The chat's k best items for `query` (see ChatIndex.search), loading the chat on first use."""
        index = await self.get(chat_id)
        return index.search(query, k, facets=facets, exclude_item_ids=exclude_item_ids)

    async def size(self, chat_id: int) -> int:
        return len(await self.get(chat_id))

    def loaded_chats(self) -> int:
        return len(self._indexes)

    def memory_bytes(self) -> int:
        return sum(index.nbytes for index in self._indexes.values())

    def on_item_event(self, event: ItemEvent) -> None:
        if isinstance(event, ChatsReset):
            for chat_id in event.chat_ids:
                self._indexes.pop(chat_id, None)
                if chat_id in self._loading:
                    self._reset_while_loading.add(chat_id)
        elif event.model == self.model:
            if event.chat_id in self._loading:
                self._loading[event.chat_id].append(event)
            elif (index := self._indexes.get(event.chat_id)) is not None:
                _apply(index, event, may_exist=not event.new_item)

    async def _load(self, chat_id: int) -> None:
        """Load the chat; if a move or purge committed meanwhile, leave it unloaded: the caller retries."""
        self._loading[chat_id] = []
        self._reset_while_loading.discard(chat_id)
        try:
            block = await self._items.load_vectors(chat_id, self.model)
        finally:
            missed = self._loading.pop(chat_id)
        if chat_id in self._reset_while_loading:
            return
        index = ChatIndex(self.dim, block)
        for event in missed:
            _apply(index, event, may_exist=True)
        self._indexes[chat_id] = index
        log.info("chat index loaded", extra={"chat_id": chat_id, "vectors": len(index), "bytes": index.nbytes})


def _apply(index: ChatIndex, event: VectorsChanged, *, may_exist: bool) -> None:
    if may_exist:
        index.remove_item(event.item_id, facets=event.vectors.keys())
    for facet, vector in event.vectors.items():
        if vector is not None:
            index.add(event.item_id, facet, vector)


def _best_rows(scores: FloatMatrix, count: int) -> npt.NDArray[np.intp]:
    """Indices of the `count` highest scores, highest first: argpartition, then sort only those."""
    if count < len(scores):
        top = np.argpartition(scores, len(scores) - count)[len(scores) - count :]
    else:
        top = np.arange(len(scores))
    return top[np.argsort(-scores[top], kind="stable")]


def _array(values: Iterable[int], dtype: npt.DTypeLike) -> npt.NDArray[Any]:
    return np.fromiter(values, dtype)
