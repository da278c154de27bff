"""In-memory per-chat vector indexes: a cache of what SQLite holds, searched with exact answers.

A chat's vectors are resident only as int8 codes with one float32 scale per row (`storage.vectors.quantise`),
plus their int64 item ids and int8 facets: 1037 bytes per 1024-d vector instead of 4109 for float32. A search

1. quantises the unit query and scans every code row with an int8 SIMD dot product (`bot.search.kernel`, all
   cores): approximate cosines, bound by memory bandwidth over a quarter of the float32 bytes;
2. takes the best `k * oversampling` rows by those scores, each core selecting within the chunks it scanned (rows
   of facets not asked for score -inf there); rows of excluded items are dropped from these few candidates, which
   are taken that many rows larger, rather than masked over the whole chat;
3. re-ranks them with their float32 vectors, read from storage by primary key (`ExactVectors`; the float32 copy is
   not resident), and returns the top k distinct items by exact cosine;
4. widens the candidate set (doubling) until the k-th exact score clears the lowest approximate score taken by a
   margin: six standard deviations of the quantisation error (the rows' largest scale and the query's own
   rounding error, see `_margin`). A row left out would need an error beyond that margin to belong in the top k.
   This is a statistical guarantee, not a proof (a worst-case bound would make every search read hundreds of
   rows); on random and clustered near-duplicate data (tests/test_index_int8.py, `python -m bench.search`) the
   answers equal float32 brute force.

Exact search keeps results trustworthy for repost alerts; chats large enough to need an approximate index are not
expected. Adding a row is amortised O(1) (geometric growth by 1/8, so spare capacity stays under 12.5%); removing
an item drops its rows at once (one O(n) scan of the ids, the last row moves into the hole).

`IndexRegistry` keeps one `ChatIndex` per chat within a memory budget (least recently used chats are dropped and
reloaded on demand from the int8 segments, a few large reads) and implements `bot.search.protocol.VectorIndex`.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import OrderedDict
from collections.abc import Collection, Iterable, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from bot.search.kernel import RowFilter, scan
from bot.search.protocol import SearchHit
from storage.items import ChatsReset, ItemEvent, ItemRepository, VectorsChanged
from storage.models import ALL_FACETS
from storage.vectors import CodeMatrix, FloatMatrix, QuantisedBlock, VectorBlock, quantise, unit_vector

__all__ = ["ChatIndex", "ExactVectors", "IndexRegistry", "SearchHit"]

log = logging.getLogger(__name__)

DEFAULT_MEMORY_BUDGET_BYTES = 1024 << 20
"""INDEX_MEMORY_MB's default: 1 GiB of loaded chat indexes, about a million 1024-d vectors."""
DEFAULT_OVERSAMPLING = 4
"""Candidates re-ranked per result wanted before any widening: k * 4 (at least k per facet)."""
MARGIN_SIGMAS = 6.0
POOL_DEPTH = 4
"""The scan keeps each chunk's best `4 * candidates` rows, so the first two widenings need no pass over every score
(near-duplicate clusters, reposts, often need one: their k-th exact score is close to the boundary)."""
CHAT_OVERHEAD_BYTES = 1024
"""Charged per loaded chat besides its arrays (the objects and map entries), so empty chats count too."""
_MIN_CAPACITY = 16
_GROWTH = 1.125


class ExactVectors(Protocol):
    """Where a chat's float32 vectors are read for the re-rank (SQLite in the bot, a memory map in benchmarks)."""

    async def read_vectors(self, keys: Sequence[tuple[int, int]]) -> VectorBlock:
        """The vectors of these (item_id, facet) rows in any order; rows that no longer exist are left out."""
        ...


class ChatIndex:
    """The vectors of one chat. Rows are unordered; removal moves the last row into the hole."""

    def __init__(
        self,
        dim: int,
        block: QuantisedBlock | None,
        exact: ExactVectors,
        *,
        oversampling: int = DEFAULT_OVERSAMPLING,
    ) -> None:
        self.dim = dim
        self.oversampling = max(1, oversampling)
        self._exact = exact
        if block is None or len(block) == 0:
            block = QuantisedBlock.empty(dim)
        if block.dim != dim:
            raise ValueError(f"block has dimension {block.dim}, index expects {dim}")
        # Adopted without a copy when already in the right layout (as `ItemRepository.load_codes` returns it),
        # so a cold start copies the chat's codes only once: from SQLite into these arrays.
        self._ids: npt.NDArray[np.int64] = np.require(block.item_ids, np.int64, ["C", "W"])
        self._facets: npt.NDArray[np.int8] = np.require(block.facets, np.int8, ["C", "W"])
        self._scales: FloatMatrix = np.require(block.scales, np.float32, ["C", "W"])
        self._codes: CodeMatrix = np.require(block.codes, np.int8, ["C", "W"])
        self._size = len(block)
        self._max_scale = float(self._scales.max()) if self._size else 0.0
        self._version = 0  # bumped by every change, so a search that awaited storage knows its rows moved

    def __len__(self) -> int:
        return self._size

    @property
    def nbytes(self) -> int:
        """Memory held, including spare capacity and a fixed charge for the bookkeeping objects."""
        arrays = self._ids.nbytes + self._facets.nbytes + self._scales.nbytes + self._codes.nbytes
        return arrays + CHAT_OVERHEAD_BYTES

    def add(self, item_id: int, facet: int, vector: npt.ArrayLike) -> None:
        """Append one row (amortised O(1)); the caller guarantees (item_id, facet) is not present yet."""
        if facet not in ALL_FACETS:
            raise ValueError(f"unknown facet {facet}")
        codes, scales = quantise(unit_vector(vector, self.dim)[None, :])
        if self._size == len(self._ids):
            self._grow()
        row = self._size
        self._ids[row] = item_id
        self._facets[row] = facet
        self._scales[row] = scales[0]
        self._codes[row] = codes[0]
        self._max_scale = max(self._max_scale, float(scales[0]))
        self._size += 1
        self._version += 1

    def remove_item(self, item_id: int, facets: Collection[int] | None = None) -> None:
        """Drop the item's rows (only those of `facets` when given); O(n) to find them, searchable no more at once."""
        rows = np.flatnonzero(self._ids[: self._size] == item_id)
        if facets is not None:
            rows = rows[np.isin(self._facets[rows], _array(facets, np.int8))]
        for row in rows[::-1]:  # from the end, so that no row still to remove is moved
            self._remove_row(int(row))
        if len(rows):
            self._version += 1

    async def search(
        self,
        query: npt.ArrayLike,
        k: int,
        *,
        facets: Collection[int] | None = None,
        exclude_item_ids: Collection[int] = (),
    ) -> list[SearchHit]:
        """The k items most similar to `query`, best first, each once with its best facet among `facets`."""
        unit = unit_vector(query, self.dim)
        while True:
            hits = await self._search_once(unit, k, facets, exclude_item_ids)
            if hits is not None:
                return hits
            # The index changed while candidates were read and more are needed: scan the new state.

    async def _search_once(
        self, unit: FloatMatrix, k: int, facets: Collection[int] | None, exclude_item_ids: Collection[int]
    ) -> list[SearchHit] | None:
        size, version = self._size, self._version
        if k <= 0 or size == 0:
            return []
        query_codes, query_scales = quantise(unit[None, :])
        query_scale = float(query_scales[0])
        margin = self._margin(unit, query_codes, query_scale)
        excluded = _array(exclude_item_ids, np.int64)
        # An item has at most one row per facet, so the best k*len(ALL_FACETS) rows hold k distinct items; an
        # excluded item takes at most len(ALL_FACETS) of them, so that many more are taken and dropped afterwards
        # (a full-length mask of excluded ids would cost a scan of every id).
        wanted = max(k * self.oversampling, k * len(ALL_FACETS))
        spare = len(excluded) * len(ALL_FACETS)
        taken = min(wanted + spare, size)
        scanned = scan(
            self._codes[:size],
            self._scales[:size],
            query_codes,
            query_scale,
            POOL_DEPTH * taken,
            leave_out=self._other_facets(facets),
        )
        scores, rows = scanned.scores, scanned.best(taken)
        exact: dict[tuple[int, int], float] = {}
        while True:
            if self._version != version:
                return None
            keys = self._candidates(rows, scores, excluded)
            missing = [key for key in keys if key not in exact]
            if missing:
                await self._read_exact(missing, unit, exact)
            hits = _distinct_items(keys, exact, k)
            # Rows not taken score at most the lowest taken; a -inf among those taken means every row left is out.
            boundary = float(scores[rows[-1]]) if len(rows) else -np.inf
            if taken >= size or boundary == -np.inf:
                return hits
            if len(hits) == k and hits[-1][2] >= boundary + margin:
                return hits
            wanted *= 2
            taken = min(wanted + spare, size)
            rows = scanned.best(taken)

    def _candidates(
        self, rows: npt.NDArray[np.intp], scores: FloatMatrix, excluded: npt.NDArray[np.int64]
    ) -> list[tuple[int, int]]:
        """(item_id, facet) of the taken rows that may be found: not left out by facet, not of an excluded item."""
        rows = rows[scores[rows] != -np.inf]
        if len(excluded):
            rows = rows[~np.isin(self._ids[rows], excluded)]
        return list(zip(self._ids[rows].tolist(), self._facets[rows].tolist(), strict=True))

    def _other_facets(self, facets: Collection[int] | None) -> RowFilter | None:
        """The rows of facets not asked for, chunk by chunk (None when every facet is asked for)."""
        if facets is None or set(ALL_FACETS) <= set(facets):
            return None
        # A table by facet number: one C-level lookup per chunk, little time under the GIL for the scan's threads.
        other = np.ones(max(ALL_FACETS) + 1, bool)
        other[[facet for facet in facets if facet in ALL_FACETS]] = False
        return lambda start, stop: other[self._facets[start:stop]]

    def _margin(self, unit: FloatMatrix, query_codes: CodeMatrix, query_scale: float) -> float:
        """MARGIN_SIGMAS standard deviations of `x·q - x̂·q̂ = e_x·q + x̂·e_q` for a unit row x and the unit query q.

        A row's rounding errors e_x are independent and uniform within ±scale/2: `e_x·q` has a standard deviation
        of `scale / sqrt(12)` (q has norm 1), taken at the largest scale of the chat. The query's own error e_q is
        known; against a row direction unrelated to it, `x̂·e_q` spreads as `|e_q| / sqrt(d)`.
        """
        query_error = unit - query_scale * query_codes[0].astype(np.float32)
        row_variance = self._max_scale**2 / 12.0
        query_variance = float(query_error @ query_error) / self.dim
        return MARGIN_SIGMAS * math.sqrt(row_variance + query_variance) + 1e-6

    async def _read_exact(
        self, keys: list[tuple[int, int]], unit: FloatMatrix, exact: dict[tuple[int, int], float]
    ) -> None:
        block = await self._exact.read_vectors(keys)
        for key in keys:
            exact[key] = -np.inf  # removed meanwhile: found no more
        if len(block):
            if block.dim != self.dim:
                raise ValueError(f"stored vectors have dimension {block.dim}, index expects {self.dim}")
            scores = (block.matrix @ unit).tolist()
            for item_id, facet, score in zip(block.item_ids.tolist(), block.facets.tolist(), scores, strict=True):
                exact[(item_id, facet)] = score

    def _grow(self) -> None:
        capacity = max(_MIN_CAPACITY, len(self._ids) + _MIN_CAPACITY, math.ceil(len(self._ids) * _GROWTH))
        size = self._size
        ids = np.empty(capacity, np.int64)
        facets = np.empty(capacity, np.int8)
        scales = np.empty(capacity, np.float32)
        codes = np.empty((capacity, self.dim), np.int8)
        ids[:size] = self._ids[:size]
        facets[:size] = self._facets[:size]
        scales[:size] = self._scales[:size]
        codes[:size] = self._codes[:size]
        self._ids, self._facets, self._scales, self._codes = ids, facets, scales, codes

    def _remove_row(self, row: int) -> None:
        last = self._size - 1
        if row != last:
            self._ids[row] = self._ids[last]
            self._facets[row] = self._facets[last]
            self._scales[row] = self._scales[last]
            self._codes[row] = self._codes[last]
        self._size = last


class _StoredVectors:
    """The re-rank source of one chat's index: its float32 rows in SQLite, by primary key."""

    def __init__(self, items: ItemRepository, chat_id: int, model: str) -> None:
        self._items = items
        self._chat_id = chat_id
        self._model = model

    async def read_vectors(self, keys: Sequence[tuple[int, int]]) -> VectorBlock:
        return await self._items.read_vectors(self._chat_id, self._model, keys)


class IndexRegistry:
    """One lazily built `ChatIndex` per chat, for the configured model only, in step with `ItemRepository`.

    Registers itself as a listener of `items`. Events that commit while a chat's index is being loaded are
    buffered and replayed on top of the loaded snapshot; every event is a "set these facets to these vectors"
    (replayed as remove-then-add), so replaying one the snapshot already contains changes nothing.

    Loaded indexes are kept within `memory_budget_bytes` (their `nbytes`): after a load or a growth the least
    recently searched chats are dropped until the total fits (the chat just loaded is always kept) and are
    reloaded on their next search. Every other map holds only chats whose load is in flight.
    """

    def __init__(
        self,
        items: ItemRepository,
        model: str,
        dim: int,
        *,
        memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET_BYTES,
        oversampling: int = DEFAULT_OVERSAMPLING,
    ) -> None:
        self._items = items
        self.model = model
        self.dim = dim
        self.memory_budget_bytes = memory_budget_bytes
        self.oversampling = oversampling
        self._indexes: OrderedDict[int, ChatIndex] = OrderedDict()  # least recently used first
        self._bytes = 0
        self._pending: dict[int, asyncio.Task[ChatIndex | None]] = {}
        self._loading: dict[int, list[VectorsChanged]] = {}
        self._reset_while_loading: set[int] = set()
        items.add_listener(self)

    async def get(self, chat_id: int) -> ChatIndex:
        while True:
            index = self._indexes.get(chat_id)
            if index is not None:
                self._indexes.move_to_end(chat_id)
                return index
            task = self._pending.get(chat_id)
            if task is None:
                task = asyncio.ensure_future(self._load(chat_id))
                self._pending[chat_id] = task
            # Shielded: one caller giving up must not cancel the load the others wait for.
            loaded = await asyncio.shield(task)
            if loaded is not None:
                return loaded

    async def search(
        self,
        chat_id: int,
        query: npt.ArrayLike,
        k: int,
        *,
        facets: Collection[int] | None = None,
        exclude_item_ids: Collection[int] = (),
    ) -> list[SearchHit]:
        index = await self.get(chat_id)
        return await index.search(query, k, facets=facets, exclude_item_ids=exclude_item_ids)

    async def count(self, chat_id: int) -> int:
        return len(await self.get(chat_id))

    def loaded_chats(self) -> int:
        return len(self._indexes)

    def memory_bytes(self) -> int:
        return self._bytes

    def map_sizes(self) -> dict[str, int]:
        """Entries in every per-chat map (for tests and diagnostics: all are bounded)."""
        return {
            "indexes": len(self._indexes),
            "pending": len(self._pending),
            "loading": len(self._loading),
            "reset_while_loading": len(self._reset_while_loading),
        }

    def on_item_event(self, event: ItemEvent) -> None:
        if isinstance(event, ChatsReset):
            for chat_id in event.chat_ids:
                if (dropped := self._indexes.pop(chat_id, None)) is not None:
                    self._bytes -= dropped.nbytes
                if chat_id in self._loading:
                    self._reset_while_loading.add(chat_id)
        elif event.model == self.model:
            if event.chat_id in self._loading:
                self._loading[event.chat_id].append(event)
            elif (index := self._indexes.get(event.chat_id)) is not None:
                before = index.nbytes
                _apply(index, event, may_exist=not event.new_item)
                self._bytes += index.nbytes - before
                self._evict()

    async def _load(self, chat_id: int) -> ChatIndex | None:
        """Load the chat; if a move or purge committed meanwhile, leave it unloaded (None): the caller retries."""
        self._loading[chat_id] = []
        self._reset_while_loading.discard(chat_id)
        try:
            block = await self._items.load_codes(chat_id, self.model)
        finally:
            missed = self._loading.pop(chat_id)
            reset = chat_id in self._reset_while_loading
            self._reset_while_loading.discard(chat_id)
            self._pending.pop(chat_id, None)
        if reset:
            return None
        index = ChatIndex(
            self.dim, block, _StoredVectors(self._items, chat_id, self.model), oversampling=self.oversampling
        )
        for event in missed:
            _apply(index, event, may_exist=True)
        self._indexes[chat_id] = index
        self._bytes += index.nbytes
        self._evict()
        log.info("chat index loaded", extra={"chat_id": chat_id, "vectors": len(index), "bytes": index.nbytes})
        return index

    def _evict(self) -> None:
        """Drop least recently used chats until the budget holds; the most recent one always stays."""
        while self._bytes > self.memory_budget_bytes and len(self._indexes) > 1:
            chat_id, index = self._indexes.popitem(last=False)
            self._bytes -= index.nbytes
            log.debug("chat index evicted", extra={"chat_id": chat_id, "bytes": index.nbytes})


def _apply(index: ChatIndex, event: VectorsChanged, *, may_exist: bool) -> None:
    if may_exist:
        index.remove_item(event.item_id, facets=event.vectors.keys())
    for facet, vector in event.vectors.items():
        if vector is not None:
            index.add(event.item_id, facet, vector)


def _distinct_items(keys: Iterable[tuple[int, int]], exact: dict[tuple[int, int], float], k: int) -> list[SearchHit]:
    """The k best items by exact score among the candidate rows, each once with its best facet."""
    best: dict[int, SearchHit] = {}
    for item_id, facet in keys:
        score = exact[(item_id, facet)]
        if score == -np.inf:
            continue
        if item_id not in best or score > best[item_id][2]:
            best[item_id] = (item_id, facet, score)
    return sorted(best.values(), key=lambda hit: -hit[2])[:k]


def _array(values: Iterable[int], dtype: npt.DTypeLike) -> npt.NDArray[Any]:
    return np.fromiter(values, dtype)
