"""Which int8 scaling: per-vector or per-dimension, measured on the error that decides how much to re-rank.

Run ``python -m bench.quantisation [--items 50000] [--dim 1024]``. For random unit vectors, clusters of 40
near-duplicates (reposts) and random vectors with 8 outlier dimensions (six times larger, as some embedding
models have), it prints, per scheme: recall@10 of the int8 scores alone (before any re-rank), the mean absolute
error of the approximate cosines, and the largest int8 rank that a true top-10 row reached over 50 queries (how
many candidates a re-rank must read to be exact).

* per-vector: ``scale_i = max|x_i| / 127``, score ``= scale_i * scale_q * (c_i · c_q)`` (what the index uses);
* per-dimension: ``scale_d = max_i |x_id| / 127`` over the chat, folded into the query (``q * scale``, then
  quantised per vector), score ``= scale_q * (c_i · c_q)``. Its scales depend on the whole chat, so every add could
  force re-quantising it.
"""

from __future__ import annotations

import argparse

import numpy as np

from storage.vectors import FloatMatrix, quantise
from tests.support.storage import random_unit_vectors

QUERIES = 50


def datasets(items: int, dim: int) -> dict[str, tuple[FloatMatrix, FloatMatrix]]:
    rng = np.random.default_rng(2)
    clustered = np.repeat(random_unit_vectors(items // 40, dim, seed=2), 40, axis=0)
    clustered += rng.standard_normal(clustered.shape, dtype=np.float32) * np.float32(0.04 / np.sqrt(dim))
    outliers = random_unit_vectors(items, dim, seed=3)
    outliers[:, :8] *= 6
    result = {}
    for name, matrix in (("random", random_unit_vectors(items, dim, seed=1)), ("clustered", clustered),
                         ("outlier dims", outliers)):  # fmt: skip
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        if name == "random":
            queries = random_unit_vectors(QUERIES, dim, seed=9)
        else:  # near a stored vector, like a repost
            queries = matrix[rng.choice(len(matrix), QUERIES)]
            queries = queries + rng.standard_normal(queries.shape, dtype=np.float32) * np.float32(0.3 / np.sqrt(dim))
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        result[name] = (matrix, queries)
    return result


def evaluate(matrix: FloatMatrix, queries: FloatMatrix, scheme: str) -> tuple[float, float, int]:
    if scheme == "per-vector":
        codes, scales = quantise(matrix)
    else:
        dim_scales = np.abs(matrix).max(axis=0) / 127
        codes = np.rint(matrix / dim_scales).astype(np.int8)
    found, errors, needed = 0, [], 0
    for query in queries:
        exact = matrix @ query
        if scheme == "per-vector":
            query_codes, query_scale = quantise(query[None, :])
            approx = (codes.astype(np.float32) @ query_codes[0].astype(np.float32)) * scales * query_scale[0]
        else:
            query_codes, query_scale = quantise((query * dim_scales)[None, :])
            approx = (codes.astype(np.float32) @ query_codes[0].astype(np.float32)) * query_scale[0]
        top = set(np.argsort(-exact)[:10].tolist())
        order = np.argsort(-approx)
        found += len(top & set(order[:10].tolist()))
        errors.append(float(np.abs(approx - exact).mean()))
        rank = {row: n for n, row in enumerate(order[:5000].tolist())}
        needed = max(needed, max(rank.get(row, 5000) for row in top) + 1)
    return found / (10 * len(queries)), float(np.mean(errors)), needed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--dim", type=int, default=1024)
    args = parser.parse_args()
    print(f"{'data':>13} {'scheme':>14} {'int8 recall@10':>15} {'mean |error|':>13} {'candidates needed':>18}")
    for name, (matrix, queries) in datasets(args.items, args.dim).items():
        for scheme in ("per-vector", "per-dimension"):
            recall, error, needed = evaluate(matrix, queries, scheme)
            print(f"{name:>13} {scheme:>14} {recall:>15.3f} {error:>13.2e} {needed:>18}")


if __name__ == "__main__":
    main()
