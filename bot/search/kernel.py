"""The int8 scan: approximate scores of every code row against one int8 query, and the best rows among them.

NumKong (the successor of SimSIMD, same author, Apache-2.0) ships compiled wheels that pick the best kernel for
the CPU at run time (Haswell AVX2 on the dev VM; VNNI/AMX where present) and release the GIL. Measured on the
2-core dev VM (1M x 1024 int8, 1 GB): NumKong `cdist` over two threads 45 ms; SimSIMD 6.5 `cdist(threads=2)`
53 ms; NumKong one thread 79 ms; USearch exact search (i8, 2 threads) 114 ms and it cannot filter rows; numpy
float32 `X @ q` over the same vectors (4 GB) 210 ms. NumKong's packed GEMM (`dots_pack`/`dots_packed`) is slower
for one query (8.7 GB/s vs 12.7 GB/s from memory) and `u8` codes are no faster than `i8` on AVX2.

The rows are cut into chunks of `CHUNK_BYTES` of codes that every core claims one after the other (the calling
thread and a small pool), so a core that another process holds takes fewer chunks instead of making the whole scan
wait for its half. The thread that scanned a chunk also scales its scores, marks the rows to leave out and keeps
its best rows while the chunk's scores are still in its cache: nothing of the scan's length is left to do on one
core afterwards but picking from a pool of a few thousand candidates.

Int8 products are summed in int32 and written as float32: exact for |sum| < 2**24, and within float32 rounding
(relative 6e-8) beyond, far below the quantisation error.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numkong
import numpy as np
import numpy.typing as npt

from storage.vectors import CodeMatrix, FloatMatrix

CHUNK_BYTES = 32 << 20
"""Codes per claimed chunk: 32 MiB (32768 rows at 1024-d, ~2 ms of one core), so a scan of 100k rows is shared in
four pieces and one of 1M in 31. Each chunk takes the GIL a few times (~30 µs of Python), which weighs when the
other cores are busy; its 128 KiB of scores stay in L2 for the selection."""

RowFilter = Callable[[int, int], npt.NDArray[np.bool_]]
"""Rows `start:stop` to leave out (True), as a boolean array of `stop - start`; called from the scan's threads."""

_THREADS = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
_POOL = ThreadPoolExecutor(max_workers=max(1, _THREADS - 1), thread_name_prefix="int8-scan")


@dataclass(frozen=True, eq=False)
class Scan:
    """Every row's approximate score (-inf for rows left out), and a pool of rows holding each chunk's `depth` best.

    A row ranked below the `depth` best of its own chunk has `depth` rows above it already, so for any count up to
    `depth` the best rows overall are the best of the pool: a search that widens its candidates a few times picks
    them from a few thousand rows, not from every score again.
    """

    scores: FloatMatrix
    pool: npt.NDArray[np.intp]
    depth: int

    def best(self, count: int) -> npt.NDArray[np.intp]:
        """The `count` highest-scoring rows, highest first."""
        if count <= self.depth:
            return self.pool[highest(self.scores[self.pool], count)]
        return highest(self.scores, count)


def scan(
    codes: CodeMatrix,
    row_scales: FloatMatrix,
    query: CodeMatrix,
    query_scale: float,
    depth: int,
    *,
    leave_out: RowFilter | None = None,
    chunk_rows: int | None = None,
) -> Scan:
    """Scores `row_scales[i] * query_scale * (codes[i] · query[0])` of every row, on every core; blocks until done."""
    rows = len(codes)
    scores = np.empty(rows, np.float32)
    step = chunk_rows or max(1, CHUNK_BYTES // max(1, codes.shape[1]))
    chunks = [(start, min(start + step, rows)) for start in range(0, rows, step)]
    found: list[npt.NDArray[np.intp]] = [np.empty(0, np.intp)] * max(1, len(chunks))
    claims = itertools.count()  # next() on it is atomic under the GIL: each chunk is claimed once

    def scan_claimed() -> None:
        while (chunk := next(claims)) < len(chunks):
            start, stop = chunks[chunk]
            out = scores[start:stop]
            numkong.cdist(codes[start:stop], query, "dot", out=out.reshape(-1, 1), out_dtype="float32")
            out *= row_scales[start:stop]
            out *= np.float32(query_scale)
            if leave_out is not None:
                out[leave_out(start, stop)] = -np.inf
            found[chunk] = start + _top(out, depth)

    helpers = [_POOL.submit(scan_claimed) for _ in range(min(_THREADS, len(chunks)) - 1)]
    try:
        scan_claimed()
    finally:
        for helper in helpers:
            helper.result()
    return Scan(scores, found[0] if len(found) == 1 else np.concatenate(found), depth)


def highest(scores: FloatMatrix, count: int) -> npt.NDArray[np.intp]:
    """Positions of the `count` highest scores, highest first: argpartition, then a sort of those only."""
    top = _top(scores, count)
    return top[np.argsort(-scores[top], kind="stable")]


def _top(scores: FloatMatrix, count: int) -> npt.NDArray[np.intp]:
    """Positions of the `count` highest of `scores`, in no order (all of them when there are no more)."""
    if count <= 0:
        return np.empty(0, np.intp)
    if count >= len(scores):
        return np.arange(len(scores))
    return np.argpartition(scores, len(scores) - count)[len(scores) - count :]
