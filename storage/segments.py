"""How a chat's vectors are laid out in SQLite, so that loading them is a few large reads, not a row loop.

The truth is one `vectors` row per (item, facet). Rows of a chat accumulate in an unsealed *tail*; as soon as
the tail holds a full segment's worth, the oldest rows are quantised into one `segments` row: four BLOBs (int64
ids, int8 facets, float32 per-row scales, the int8 code matrix, see `storage.vectors.quantise`) that load with
one `np.frombuffer` each. Loading a chat for the in-memory index (`read_codes`) is then its segments plus a tail
of fewer than `rows_per_segment` rows, quantised on the fly. The float32 vectors are read only per row: all of a
chat (`read_block`, tests and tools) or the few candidates a search re-ranks (`read_vectors`).

Segment size is counted in float32 bytes (`SEGMENT_BYTES // (4 * dim)` rows), as when segments held float32
matrices: 1024 rows at 1024-d, a 1 MiB code BLOB. Measured on the 2-core dev VM with float32 segments (100k x
1024 vectors, OS cache warm): 4 MiB segments loaded in ~75 ms, 16 MiB ones in ~110 ms and 64 MiB ones in ~270 ms
(every BLOB read materialises a buffer of that size, and larger fresh buffers cost more page faults). Small
segments also keep edits cheap: changing an item that is already sealed deletes its segment (its rows return to
the tail) and re-seals, re-reading that segment's rows.

All functions expect to run inside a `Database.transaction()` or `Database.read()`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence

import aiosqlite
import numpy as np
import numpy.typing as npt

from storage.vectors import (
    CODE_DTYPE,
    FACET_DTYPE,
    ID_DTYPE,
    SCALE_DTYPE,
    VECTOR_DTYPE,
    CodeMatrix,
    FloatMatrix,
    QuantisedBlock,
    VectorBlock,
    quantise,
)

SEGMENT_BYTES = 4 << 20

VectorRow = tuple[int, int, int, str, bytes]
"""(item_id, facet, chat_id, model, float32 BLOB) as written to `vectors`."""


def rows_per_segment(dim: int) -> int:
    return max(1, SEGMENT_BYTES // (VECTOR_DTYPE.itemsize * dim))


async def write_vectors(conn: aiosqlite.Connection, rows: Sequence[VectorRow]) -> None:
    """Insert or replace vector rows; replaced rows must have been unsealed first (see `unseal_items`)."""
    await _check_dimensions(conn, rows)
    await conn.executemany(
        "INSERT OR REPLACE INTO vectors (item_id, facet, chat_id, model, segment_id, vector) "
        "VALUES (?, ?, ?, ?, NULL, ?)",
        rows,
    )


async def seal(conn: aiosqlite.Connection, chat_id: int, model: str) -> int:
    """Copy full runs of the chat's tail into segments, oldest rows first; returns the segments written."""
    written = 0
    while (rows := await _full_segment_rows(conn, chat_id, model)) is not None:
        await _write_segment(conn, chat_id, model, rows)
        written += 1
    return written


async def seal_all(conn: aiosqlite.Connection, chat_id: int) -> None:
    """`seal` for every model with an unsealed tail in the chat (after another chat's vectors moved in)."""
    models = await conn.execute_fetchall(
        "SELECT DISTINCT model FROM vectors WHERE chat_id = ? AND segment_id IS NULL", (chat_id,)
    )
    for (model,) in models:
        await seal(conn, chat_id, model)


async def unseal_items(conn: aiosqlite.Connection, item_ids: Sequence[int]) -> None:
    """Drop every segment holding a vector of these items; their rows go back to the (always correct) tail."""
    segments = await conn.execute_fetchall(
        "SELECT DISTINCT s.id, s.chat_id, s.model FROM vectors AS v JOIN segments AS s "
        "ON s.id = v.segment_id WHERE v.item_id IN (SELECT value FROM json_each(?))",
        (json.dumps(list(item_ids)),),
    )
    for segment_id, chat_id, model in segments:
        await conn.execute("DELETE FROM segments WHERE id = ?", (segment_id,))
        await conn.execute(
            "UPDATE vectors SET segment_id = NULL WHERE chat_id = ? AND model = ? AND segment_id = ?",
            (chat_id, model, segment_id),
        )


async def read_block(conn: aiosqlite.Connection, chat_id: int, model: str) -> VectorBlock:
    """All float32 vectors of the chat for this model, row by row from `vectors` (the truth; not a fast path)."""
    rows = list(
        await conn.execute_fetchall(
            "SELECT item_id, facet, vector FROM vectors WHERE chat_id = ? AND model = ? ORDER BY rowid",
            (chat_id, model),
        )
    )
    if not rows:
        return VectorBlock.empty(0)
    return VectorBlock(
        np.array([row[0] for row in rows], np.int64),
        np.array([row[1] for row in rows], np.int8),
        _matrix_from_blob(b"".join(row[2] for row in rows), len(rows)).copy(),
    )


async def read_codes(conn: aiosqlite.Connection, chat_id: int, model: str) -> QuantisedBlock:
    """All vectors of the chat for this model as int8 codes: the segments as they are, then the tail quantised."""
    sealed_rows = await _scalar(
        conn, "SELECT coalesce(sum(rows), 0) FROM segments WHERE chat_id = ? AND model = ?", (chat_id, model)
    )
    tail = list(
        await conn.execute_fetchall(
            "SELECT item_id, facet, vector FROM vectors WHERE chat_id = ? AND model = ? "
            "AND segment_id IS NULL ORDER BY rowid",
            (chat_id, model),
        )
    )
    builder = _CodesBuilder(sealed_rows + len(tail))
    if sealed_rows:
        await _append_segments(conn, chat_id, model, builder)
    if tail:
        codes, scales = quantise(_matrix_from_blob(b"".join(row[2] for row in tail), len(tail)))
        builder.append(
            np.array([row[0] for row in tail], ID_DTYPE), np.array([row[1] for row in tail], FACET_DTYPE), scales, codes
        )
    return builder.build()


async def _append_segments(conn: aiosqlite.Connection, chat_id: int, model: str, builder: _CodesBuilder) -> None:
    async with conn.execute(
        "SELECT rows, item_ids, facets, scales, codes FROM segments WHERE chat_id = ? AND model = ?",
        (chat_id, model),
    ) as cursor:
        # One row at a time: at most one segment's BLOBs are held besides the result.
        while (segment := await cursor.fetchone()) is not None:
            rows, ids, facets, scales, codes = segment
            builder.append(
                np.frombuffer(ids, ID_DTYPE),
                np.frombuffer(facets, FACET_DTYPE),
                np.frombuffer(scales, SCALE_DTYPE),
                _codes_from_blob(codes, rows),
            )


READ_VECTORS = (
    # CROSS JOIN fixes the loop order: the keys outside, one primary-key lookup each. Left to itself, the planner
    # prefers walking the whole chat by `vectors_by_segment` (chat_id, model) and probing the keys: a full scan.
    "SELECT v.item_id, v.facet, v.vector FROM json_each(?) AS k CROSS JOIN vectors AS v "
    "ON v.item_id = json_extract(k.value, '$[0]') AND v.facet = json_extract(k.value, '$[1]') "
    "WHERE v.chat_id = ? AND v.model = ?"
)


async def read_vectors(
    conn: aiosqlite.Connection, chat_id: int, model: str, keys: Sequence[tuple[int, int]]
) -> VectorBlock:
    """The float32 vectors of these (item_id, facet) rows of the chat, in no particular order; missing keys (removed
    meanwhile) are left out. One statement of primary-key lookups: what a search re-ranks."""
    rows = list(await conn.execute_fetchall(READ_VECTORS, (json.dumps(keys), chat_id, model)))
    if not rows:
        return VectorBlock.empty(0)
    return VectorBlock(
        np.array([row[0] for row in rows], np.int64),
        np.array([row[1] for row in rows], np.int8),
        _matrix_from_blob(b"".join(row[2] for row in rows), len(rows)),
    )


async def move_chat(conn: aiosqlite.Connection, old_chat_id: int, new_chat_id: int) -> None:
    await conn.execute("UPDATE segments SET chat_id = ? WHERE chat_id = ?", (new_chat_id, old_chat_id))
    await conn.execute("UPDATE vectors SET chat_id = ? WHERE chat_id = ?", (new_chat_id, old_chat_id))
    await seal_all(conn, new_chat_id)


async def purge_chat(conn: aiosqlite.Connection, chat_id: int) -> None:
    await conn.execute("DELETE FROM segments WHERE chat_id = ?", (chat_id,))
    await conn.execute("DELETE FROM vectors WHERE chat_id = ?", (chat_id,))


async def _check_dimensions(conn: aiosqlite.Connection, rows: Sequence[VectorRow]) -> None:
    """One dimension per chat and model, else the chat's segments could not be built: refuse the write."""
    lengths: dict[tuple[int, str], set[int]] = defaultdict(set)
    for _, _, chat_id, model, blob in rows:
        lengths[(chat_id, model)].add(len(blob))
    for (chat_id, model), found in lengths.items():
        stored = await conn.execute_fetchall(
            "SELECT length(vector) FROM vectors WHERE chat_id = ? AND model = ? LIMIT 1", (chat_id, model)
        )
        if len(found | {row[0] for row in stored}) > 1:
            raise ValueError(f"vectors of different dimensions for chat {chat_id}, model {model!r}")


async def _scalar(conn: aiosqlite.Connection, query: str, params: tuple[object, ...]) -> int:
    rows = await conn.execute_fetchall(query, params)
    return int(next(iter(rows))[0])


async def _full_segment_rows(conn: aiosqlite.Connection, chat_id: int, model: str) -> list[aiosqlite.Row] | None:
    """The oldest `rows_per_segment` tail rows, or None while the tail is shorter than that."""
    head = await conn.execute_fetchall(
        "SELECT count(*), (SELECT length(vector) FROM vectors WHERE chat_id = ? AND model = ? "
        "AND segment_id IS NULL LIMIT 1) FROM vectors WHERE chat_id = ? AND model = ? AND segment_id IS NULL",
        (chat_id, model, chat_id, model),
    )
    count, blob_length = next(iter(head))
    if not count:
        return None
    limit = rows_per_segment(blob_length // VECTOR_DTYPE.itemsize)
    if count < limit:
        return None
    rows = await conn.execute_fetchall(
        "SELECT rowid, item_id, facet, vector FROM vectors WHERE chat_id = ? AND model = ? "
        "AND segment_id IS NULL ORDER BY rowid LIMIT ?",
        (chat_id, model, limit),
    )
    return list(rows)


async def _write_segment(conn: aiosqlite.Connection, chat_id: int, model: str, rows: list[aiosqlite.Row]) -> None:
    blobs = [row[3] for row in rows]
    if len({len(blob) for blob in blobs}) != 1:
        raise ValueError(f"vectors of different dimensions for chat {chat_id}, model {model!r}")
    codes, scales = quantise(_matrix_from_blob(b"".join(blobs), len(blobs)))
    cursor = await conn.execute(
        "INSERT INTO segments (chat_id, model, rows, item_ids, facets, scales, codes) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            chat_id,
            model,
            len(rows),
            np.array([row[1] for row in rows], ID_DTYPE).tobytes(),
            np.array([row[2] for row in rows], FACET_DTYPE).tobytes(),
            scales.astype(SCALE_DTYPE, copy=False).tobytes(),
            codes.tobytes(),
        ),
    )
    # The selected rows are exactly the tail rows up to the last rowid, since they were taken in rowid order.
    await conn.execute(
        "UPDATE vectors SET segment_id = ? WHERE chat_id = ? AND model = ? AND segment_id IS NULL AND rowid <= ?",
        (cursor.lastrowid, chat_id, model, rows[-1][0]),
    )


def _matrix_from_blob(blob: bytes, rows: int) -> FloatMatrix:
    if rows == 0 or len(blob) % (rows * VECTOR_DTYPE.itemsize):
        raise ValueError(f"a BLOB of {len(blob)} bytes cannot hold {rows} float32 rows")
    return np.frombuffer(blob, VECTOR_DTYPE).reshape(rows, -1)


def _codes_from_blob(blob: bytes, rows: int) -> CodeMatrix:
    if rows == 0 or len(blob) % rows:
        raise ValueError(f"a BLOB of {len(blob)} bytes cannot hold {rows} int8 rows")
    return np.frombuffer(blob, CODE_DTYPE).reshape(rows, -1)


class _CodesBuilder:
    """Fills preallocated arrays chunk by chunk, so the whole chat is copied exactly once."""

    def __init__(self, rows: int) -> None:
        self._rows = rows
        self._filled = 0
        self._block: QuantisedBlock | None = None

    def append(
        self, ids: npt.NDArray[np.int64], facets: npt.NDArray[np.int8], scales: FloatMatrix, codes: CodeMatrix
    ) -> None:
        block = self._block or self._allocate(codes.shape[1])
        end = self._filled + len(ids)
        if codes.shape[1] != block.dim or end > self._rows or not len(ids) == len(facets) == len(scales) == len(codes):
            raise ValueError("stored vectors disagree with their segment bookkeeping")
        block.item_ids[self._filled : end] = ids
        block.facets[self._filled : end] = facets
        block.scales[self._filled : end] = scales
        block.codes[self._filled : end] = codes
        self._filled = end

    def build(self) -> QuantisedBlock:
        if self._filled != self._rows:
            raise ValueError(f"expected {self._rows} stored vectors, found {self._filled}")
        return self._block or QuantisedBlock.empty(0)

    def _allocate(self, dim: int) -> QuantisedBlock:
        self._block = QuantisedBlock(
            np.empty(self._rows, np.int64),
            np.empty(self._rows, np.int8),
            np.empty(self._rows, np.float32),
            np.empty((self._rows, dim), np.int8),
        )
        return self._block
