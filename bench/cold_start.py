"""Cold start: how long after a restart until a chat of 1M items is searchable, and what a search then costs.

Run ``python -m bench.cold_start [--items N] [--dim D] [--runs R] [--db PATH]``. A database is populated once
through the repository API (``ItemRepository.add_many`` in batches, the bot's own write path, sealing into int8
segments included); with ``--db`` it is kept at PATH and reused by later runs (populating 1M items takes minutes).
Each run is then a fresh Python process that opens the ``Store`` and calls ``IndexRegistry.get`` for the chat,
like the first search of a restarted bot (it loads the int8 segments: ids, facets, scales, codes); interpreter
start-up and imports are not counted. The same process then times ``IndexRegistry.search`` (top-10, median of
20 random queries): the int8 scan plus the float32 re-rank read from SQLite by primary key.

The "new-memory touch" column is context, not part of the cold start: the time the same process takes to fill a
*new* buffer as large as the chat's codes. On virtual machines that back guest memory lazily, first-touch page
faults can cost more than reading the data, and the load cannot avoid them: the index has to live somewhere.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bot.search.index import IndexRegistry
from storage.models import FACET_MEDIA
from storage.store import Store
from tests.support.storage import TEST_MODEL, new_item

CHAT_ID = -1001234567890
BATCH = 5000
TARGET_SECONDS = 2.0
SEARCHES = 20


async def populate(path: Path, items: int, dim: int) -> float:
    """Write `items` items with random vectors into one chat; returns the seconds it took."""
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    store = await Store.open(path)
    try:
        for start in range(0, items, BATCH):
            count = min(BATCH, items - start)
            vectors = rng.standard_normal((count, dim), dtype=np.float32)
            await store.items.add_many(
                [(new_item(CHAT_ID, start + n), {FACET_MEDIA: vectors[n]}) for n in range(count)]
            )
    finally:
        await store.close()
    return time.perf_counter() - started


async def measure(path: Path, dim: int) -> dict[str, float]:
    """One cold start, in this (fresh) process."""
    started = time.perf_counter()
    store = await Store.open(path)
    opened = time.perf_counter()
    registry = IndexRegistry(store.items, TEST_MODEL, dim)
    index = await registry.get(CHAT_ID)
    loaded = time.perf_counter()
    searches = []
    for query in np.random.default_rng(1).standard_normal((SEARCHES, dim), dtype=np.float32):
        search_started = time.perf_counter()
        await registry.search(CHAT_ID, query, 10)
        searches.append(time.perf_counter() - search_started)
    await store.close()
    touch_started = time.perf_counter()
    np.ones((len(index), dim), np.int8)
    touch = time.perf_counter() - touch_started
    return {
        "open": opened - started,
        "load": loaded - opened,
        "vectors": len(index),
        "bytes": index.nbytes,
        "search": statistics.median(searches),
        "touch": touch,
    }


def run_fresh_process(path: Path, dim: int) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, "-m", "bench.cold_start", "--measure", str(path), "--dim", str(dim)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(output)
    return result


def report(items: int, dim: int, populate_seconds: float, runs: list[dict[str, float]]) -> None:
    resident_mb = runs[0]["bytes"] / 1e6
    populated = "reused" if populate_seconds < 0 else f"populated in {populate_seconds:.1f} s"
    print(f"chat of {items} items x {dim}-d, index resident {resident_mb:.0f} MB (int8); database {populated}")
    print(
        f"{'run':>4} {'Store.open s':>13} {'index load s':>13} {'total s':>8} {'search ms':>10} "
        f"{'new-memory touch s':>19}"
    )
    for number, run in enumerate(runs, 1):
        total = run["open"] + run["load"]
        print(
            f"{number:>4} {run['open']:>13.3f} {run['load']:>13.3f} {total:>8.3f} {run['search'] * 1e3:>10.1f} "
            f"{run['touch']:>19.3f}"
        )
    totals = [run["open"] + run["load"] for run in runs]
    median = statistics.median(totals)
    verdict = "meets" if median <= TARGET_SECONDS else "misses"
    print(f"median {median:.3f} s, best {min(totals):.3f} s: {verdict} the {TARGET_SECONDS} s target")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", type=Path, help="keep the populated database here and reuse it when present")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # internal: one run in this process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(asyncio.run(measure(args.measure, args.dim))))
        return
    with tempfile.TemporaryDirectory() as folder:
        path = args.db or Path(folder) / "bench.db"
        populate_seconds = -1.0 if path.exists() else asyncio.run(populate(path, args.items, args.dim))
        runs = [run_fresh_process(path, args.dim) for _ in range(args.runs)]
        if any(run["vectors"] != args.items for run in runs):
            raise SystemExit(f"expected {args.items} vectors, loaded {[run['vectors'] for run in runs]}")
    report(args.items, args.dim, populate_seconds, runs)


if __name__ == "__main__":
    main()
