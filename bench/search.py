"""Search latency of one chat's index, next to bare numpy and the memory-bandwidth bound.

Run ``python -m bench.search [--sizes 10000,100000,1000000] [--dim 1024] [--k 10]``.

For each size, one chat of random unit vectors is indexed and searched with fresh random queries:

* ``ChatIndex``: ``ChatIndex.search(q, k)``, everything included (query normalisation, argpartition, one hit
  per item).
* ``numpy``: the bare core on the same matrix, ``s = X @ q`` then ``argpartition`` and a sort of the top k.
* ``bound``: the bytes of the matrix divided by the machine's read bandwidth. An exact search must read every
  vector once, so no implementation on this machine can be faster once the matrix is larger than the caches.

Read bandwidth is measured in the same run, before the chats are built: a 1 GiB float32 buffer (far larger than
any cache) is read by several kernels (BLAS ``sgemv``, which uses every core as the search does, and numpy's
``max`` and ``sum``), each several times; the best time of the fastest kernel gives the bandwidth. Taking the
best makes the bound as tight (as hard to meet) as this run can show. Latencies are medians.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bot.search.index import ChatIndex
from storage.vectors import FloatMatrix, VectorBlock
from tests.support.storage import random_unit_vectors

BANDWIDTH_BUFFER_BYTES = 1 << 30
TARGET_RATIO = 1.2


@dataclass(frozen=True)
class Row:
    size: int
    matrix_bytes: int
    index_seconds: float
    numpy_seconds: float
    bound_seconds: float


def median_seconds(run: Callable[[int], object], repeats: int) -> float:
    """Median wall time of `run(i)` for i in range(repeats), after one warm-up call."""
    run(-1)
    times = []
    for i in range(repeats):
        started = time.perf_counter()
        run(i)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def best_seconds(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def read_bandwidth() -> tuple[float, str]:
    """Bytes per second that this machine can stream from memory, and the kernel that achieved it."""
    buffer = np.ones(BANDWIDTH_BUFFER_BYTES // 4, np.float32)
    rows = buffer.reshape(-1, 1024)
    ones = np.ones(1024, np.float32)
    kernels: dict[str, Callable[[], object]] = {
        "BLAS sgemv": lambda: rows @ ones,
        "numpy max": buffer.max,
        "numpy sum": buffer.sum,
    }
    best = {name: best_seconds(kernel, repeats=5) for name, kernel in kernels.items()}
    fastest = min(best, key=lambda name: best[name])
    return buffer.nbytes / best[fastest], fastest


def chat_block(size: int, dim: int) -> VectorBlock:
    """`size` media vectors of items 1..size (generated in chunks to keep the peak memory at one matrix)."""
    matrix = np.empty((size, dim), np.float32)
    chunk = 65536
    for start in range(0, size, chunk):
        stop = min(start + chunk, size)
        matrix[start:stop] = random_unit_vectors(stop - start, dim, seed=start)
    return VectorBlock(np.arange(1, size + 1, dtype=np.int64), np.zeros(size, np.int8), matrix)


def bare_numpy_top_k(matrix: FloatMatrix, query: FloatMatrix, k: int) -> np.ndarray:
    scores = matrix @ query
    top = np.argpartition(scores, len(scores) - k)[len(scores) - k :]
    return top[np.argsort(-scores[top])]


def measure(size: int, dim: int, k: int, bandwidth: float) -> Row:
    block = chat_block(size, dim)
    index = ChatIndex(dim, block)
    queries = random_unit_vectors(64, dim, seed=12345)
    repeats = max(10, min(200, 2_000_000_000 // block.matrix.nbytes))
    index_seconds = median_seconds(lambda i: index.search(queries[i % len(queries)], k), repeats)
    numpy_seconds = median_seconds(lambda i: bare_numpy_top_k(block.matrix, queries[i % len(queries)], k), repeats)
    return Row(size, block.matrix.nbytes, index_seconds, numpy_seconds, block.matrix.nbytes / bandwidth)


def print_table(rows: list[Row], dim: int, k: int, bandwidth: float, kernel: str) -> None:
    print(f"read bandwidth {bandwidth / 1e9:.1f} GB/s (best of: {kernel}); top-{k}, {dim}-d float32")
    header = f"{'vectors':>9} {'matrix MB':>10} {'ChatIndex ms':>13} {'numpy ms':>9} {'bound ms':>9}"
    print(f"{header} {'index/bound':>12} {'numpy/bound':>12}")
    for row in rows:
        print(
            f"{row.size:>9} {row.matrix_bytes / 1e6:>10.0f} {row.index_seconds * 1e3:>13.2f} "
            f"{row.numpy_seconds * 1e3:>9.2f} {row.bound_seconds * 1e3:>9.2f} "
            f"{row.index_seconds / row.bound_seconds:>12.2f} {row.numpy_seconds / row.bound_seconds:>12.2f}"
        )
    print(f"target: index/bound <= {TARGET_RATIO} at 100k vectors (matrices within the caches can beat the bound)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated vectors per chat")
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    bandwidth, kernel = read_bandwidth()
    rows = [measure(size, args.dim, args.k, bandwidth) for size in sizes]
    print_table(rows, args.dim, args.k, bandwidth, kernel)


if __name__ == "__main__":
    main()
