"""Latency of the threshold preview (`/settings threshold 90`) for one chat of many items.

Run ``python -m bench.calibration [--items 100000] [--repeats 5]``.

One chat gets `--items` stored items, all posted within the preview's 30 days (the worst case: every item is
counted), each with its recorded nearest earlier item and a similarity drawn around the usual thresholds. The
preview is then timed end to end through `Calibration.preview` (both counts, the borderline pairs from both
sides, their items) for several proposed thresholds; the median and the worst are reported.

The preview reads the recorded scores, never the vectors, so the items are stored with 16-dimensional vectors to
keep the benchmark's database small; the vector dimension does not enter the preview's cost.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bot.core.calibration import Calibration
from bot.core.results import Audience
from bot.core.types import ChatRef
from storage.models import FACET_MEDIA
from storage.store import Store
from tests.support.storage import new_item, random_unit_vectors

CHAT = ChatRef(-1001, "supergroup", title="bench")
THRESHOLDS = (0.90, 0.93, 0.95, 0.97)
BATCH = 10_000
DIM = 16
TARGET_SECONDS = 2.0


async def fill(store: Store, items: int, now: int) -> None:
    rng = np.random.default_rng(0)
    vectors = random_unit_vectors(BATCH, DIM)
    for start in range(0, items, BATCH):
        count = min(BATCH, items - start)
        entries = [(new_item(CHAT.id, start + n + 1, date=now - int(rng.integers(0, 29 * 86400))),
                    {FACET_MEDIA: vectors[n]}) for n in range(count)]
        stored = await store.items.add_many(entries)
        scores = np.clip(rng.normal(0.80, 0.08, count), -1.0, 1.0)
        await store.feedback.record_many([
            (item.id, CHAT.id, item.date, max(1, item.id - 1), float(score), 0)
            for item, score in zip(stored, scores, strict=True) if item.id > 1
        ])


async def measure(items: int, repeats: int) -> list[float]:
    now = int(time.time())
    with tempfile.TemporaryDirectory() as folder:
        store = await Store.open(Path(folder) / "bench.db")
        try:
            started = time.perf_counter()
            await fill(store, items, now)
            print(f"filled {items} items in {time.perf_counter() - started:.1f} s")
            calibration = Calibration(store.feedback, store.items, store.chats, default_threshold=0.95)
            to = Audience(CHAT, 1, "en")
            await calibration.preview(to, 0.9)  # warm-up: SQLite's page cache, as in a running bot
            times = []
            for _ in range(repeats):
                for threshold in THRESHOLDS:
                    begun = time.perf_counter()
                    preview = await calibration.preview(to, threshold)
                    times.append(time.perf_counter() - begun)
                    assert preview.measured == items - 1 and len(preview.borderline) == 5
            return times
        finally:
            await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    times = asyncio.run(measure(args.items, args.repeats))
    median, worst = statistics.median(times), max(times)
    verdict = "within" if worst < TARGET_SECONDS else "OVER"
    print(f"preview at {args.items} items: median {median * 1000:.0f} ms, worst {worst * 1000:.0f} ms "
          f"over {len(times)} previews ({verdict} the {TARGET_SECONDS:.0f} s target)")


if __name__ == "__main__":
    main()
