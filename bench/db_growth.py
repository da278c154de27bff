"""Database growth: bytes on disk per stored media item, with the finished jobs kept and with them pruned.

Run ``python -m bench.db_growth [--items N] [--dim D] [--chats C]``. Each item is written through ``storage`` the
way the bot writes one captioned photo: its job is enqueued (the update's JSON payload, caption included) and
completed, the item is added with two unit vectors (the media and its caption), and the media vector goes into the
embedding cache. Items are spread over ``--chats`` chats (default 1) and written in batches of 500. In a chat with
more than about 500 captioned items the vectors are also copied into sealed segments (4 MB each) for fast loading,
so one big chat is the upper figure and many small chats the lower one. Two databases are built:

- *jobs kept*: every done job stays in the ``jobs`` table (what happened before finished jobs were pruned);
- *jobs pruned*: finished jobs are pruned after each batch, the steady state once ``JOB_RETENTION_DAYS`` has passed
  (SQLite reuses the freed pages, so the file stays at this size without a VACUUM).

The size is the database file once the store is closed (closing checkpoints the ``-wal`` file into it). The
per-table split comes from SQLite's ``dbstat`` table when this SQLite was built with it. Usage counters and chat
settings are a row per chat (and per user and day), not per item, and are left out.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bench.ingest import typical_photo
from bot.core.ingest import job_key
from storage.models import FACET_CAPTION, FACET_MEDIA
from storage.store import Store
from tests.support.storage import TEST_MODEL, new_item

BATCH = 500
CAPTION = "Sunset over the harbour, taken from the old lighthouse #{n}"
FAR_FUTURE = 2**62


@dataclass(frozen=True)
class Growth:
    items: int
    file_bytes: int
    jobs_left: int
    by_table: dict[str, int]

    @property
    def per_item(self) -> float:
        return self.file_bytes / self.items


async def build(path: Path, items: int, dim: int, chats: int, *, prune: bool) -> Growth:
    rng = np.random.default_rng(0)
    store = await Store.open(path)
    try:
        for start in range(0, items, BATCH):
            count = min(BATCH, items - start)
            vectors = rng.standard_normal((count, 2, dim), dtype=np.float32)
            entries = []
            for n in range(count):
                number = start + n + 1
                incoming = replace(typical_photo(-1001000000000 - number % chats, number), caption=CAPTION.format(n=n))
                job = await store.jobs.enqueue(job_key(incoming), incoming.chat.id, "ingest", incoming.to_payload(),
                                               now=0)
                assert job is not None
                await store.jobs.complete(job.id)
                file = incoming.media.file
                await store.cache.put(file.file_unique_id, TEST_MODEL, vectors[n, 0], "image")
                item = new_item(incoming.chat.id, incoming.message_id, file_id=file.file_id,
                                file_unique_id=file.file_unique_id, caption=incoming.caption,
                                sender_name=incoming.sender.name if incoming.sender else None)
                entries.append((item, {FACET_MEDIA: vectors[n, 0], FACET_CAPTION: vectors[n, 1]}))
            await store.items.add_many(entries)
            if prune:
                await store.jobs.prune_finished(older_than=FAR_FUTURE)
        by_table = await table_sizes(store)
        jobs_left = sum((await store.jobs.counts()).values())
    finally:
        await store.close()
    return Growth(items, file_bytes(path), jobs_left, by_table)


def file_bytes(path: Path) -> int:
    """The database and its write-ahead log (closing the last connection checkpoints and removes the log)."""
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


async def table_sizes(store: Store) -> dict[str, int]:
    """Bytes per table and index (dbstat), or nothing when this SQLite lacks the dbstat table."""
    try:
        async with store.db.read() as conn:
            rows = await conn.execute_fetchall("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC")
    except sqlite3.OperationalError:  # dbstat is a compile-time option; the file size is measured regardless
        return {}
    return {str(name): int(size) for name, size in rows}


def report(dim: int, chats: int, kept: Growth, pruned: Growth) -> None:
    raw = 2 * dim * 4
    print(f"{kept.items} captioned items in {chats} chat(s), {dim}-d vectors (media + caption: {raw} bytes of "
          "float32 per item)")
    print(f"{'':14}{'file MB':>10}{'bytes/item':>12}{'jobs left':>11}")
    for name, growth in (("jobs kept", kept), ("jobs pruned", pruned)):
        print(f"{name:14}{growth.file_bytes / 1e6:>10.1f}{growth.per_item:>12.0f}{growth.jobs_left:>11}")
    print(f"per 10 000 items: {kept.per_item * 1e4 / 1e6:.1f} MB with jobs kept, "
          f"{pruned.per_item * 1e4 / 1e6:.1f} MB with finished jobs pruned")
    if kept.by_table:
        print("largest tables and indexes (jobs kept), bytes per item:")
        for name, size in list(kept.by_table.items())[:8]:
            print(f"  {name:36}{size / kept.items:>10.0f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--chats", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        kept = await build(Path(folder) / "kept.db", args.items, args.dim, args.chats, prune=False)
        pruned = await build(Path(folder) / "pruned.db", args.items, args.dim, args.chats, prune=True)
    report(args.dim, args.chats, kept, pruned)


if __name__ == "__main__":
    asyncio.run(main())
