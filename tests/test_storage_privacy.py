"""Deleting for good at the storage level: which rows go, which stay, tombstones, unavailable originals, and the
space the file gives back."""

from __future__ import annotations

import io
import logging
import sqlite3
from pathlib import Path

import aiosqlite
import numpy as np
import pytest

from bot.logs import configure_logging
from storage import segments
from storage.items import ForgottenMessage
from storage.models import FACET_CAPTION, FACET_MEDIA
from storage.postgres.store import PgStore
from tests.support.storage import TEST_MODEL, AnyStore, new_item, open_store, open_store_at, random_unit_vectors

DIM = 8


def vectors(seed: int) -> dict[int, np.ndarray]:
    media, caption = random_unit_vectors(2, DIM, seed)
    return {FACET_MEDIA: media, FACET_CAPTION: caption}


def file_sizes(path: Path) -> tuple[int, int]:
    """The database file and its write-ahead log, in bytes."""
    return path.stat().st_size, Path(f"{path}-wal").stat().st_size


async def count(store: AnyStore, query: str, *params: object) -> int:
    """A count by a query with `$1` placeholders, on either backend."""
    if isinstance(store, PgStore):
        return int(await store.db.fetchval(query, *params))
    async with store.db.read() as conn:
        rows = list(await conn.execute_fetchall(query.replace("$1", "?"), params))
    return int(rows[0][0])


# Tests taking `backend_url` run on both backends; those on segments, file space, vacuum and aiosqlite's logging
# are about SQLite's own file (PostgreSQL has no segments, and its space is autovacuum's).


async def test_forget_deletes_the_item_its_vectors_its_jobs_and_its_unshared_cache(backend_url: str) -> None:
    async with open_store_at(backend_url) as store:
        gone = await store.items.add(new_item(1, 1, caption="secret", file_unique_id="only-here"), vectors(1))
        shared = await store.items.add(new_item(1, 2, file_unique_id="shared"), vectors(2))
        await store.items.add(new_item(2, 3, file_unique_id="shared"), vectors(2))
        for file_unique_id in ("only-here", "shared"):
            await store.cache.put(file_unique_id, TEST_MODEL, np.ones(DIM), "image")
        await store.jobs.enqueue("k1", 1, "ingest", {"chat": {"id": 1}, "message_id": 1, "caption": "secret"}, now=0)
        await store.jobs.enqueue("k2", 1, "ingest", {"chat": {"id": 1}, "message_id": 2}, now=0)

        assert await store.items.forget([gone, shared], now=100) == 2

        assert await count(store, "SELECT count(*) FROM items WHERE chat_id = 1") == 0
        assert await count(store, "SELECT count(*) FROM vectors WHERE chat_id = 1") == 0
        assert await count(store, "SELECT count(*) FROM jobs") == 0
        assert await store.cache.get("only-here", TEST_MODEL) is None
        assert await store.cache.get("shared", TEST_MODEL) is not None  # chat 2 still holds that file
        assert await count(store, "SELECT count(*) FROM items WHERE chat_id = 2") == 1


async def test_a_forgotten_message_is_never_stored_again_but_a_new_message_is(backend_url: str) -> None:
    async with open_store_at(backend_url) as store:
        item = await store.items.add(new_item(1, 1), vectors(1))
        await store.items.forget([item], now=100)
        assert await store.items.is_forgotten(1, 1)
        try:
            await store.items.add(new_item(1, 1), vectors(1))
        except ForgottenMessage:
            pass
        else:
            raise AssertionError("a forgotten message was stored again")
        imported = await store.items.add_many([(new_item(1, 1), vectors(1)), (new_item(1, 2), vectors(2))])
        assert [i.message_id for i in imported] == [2]


async def test_a_sealed_chat_keeps_its_other_vectors_when_one_item_is_forgotten(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(segments, "SEGMENT_BYTES", 2 * DIM * 4)  # 2 rows per segment
    async with open_store(tmp_path / "bot.db") as store:
        items = await store.items.add_many([(new_item(1, m), {FACET_MEDIA: random_unit_vectors(1, DIM, m)[0]})
                                            for m in range(1, 6)])
        assert await count(store, "SELECT count(*) FROM segments") == 2
        await store.items.forget([items[1]], now=100)
        block = await store.items.load_vectors(1, TEST_MODEL)
        assert sorted(block.item_ids.tolist()) == [i.id for i in items if i is not items[1]]
        assert random_unit_vectors(1, DIM, 2)[0].tobytes() not in block.matrix.tobytes()


async def test_unavailable_originals_lose_their_vectors_keep_their_row_and_are_counted(backend_url: str) -> None:
    async with open_store_at(backend_url) as store:
        first = await store.items.add(new_item(1, 1, file_unique_id="same"), vectors(1))
        await store.items.add(new_item(1, 2, file_unique_id="same"), vectors(1))
        marked = await store.items.mark_unavailable(1, [first.file_id])
        assert [i.id for i in marked] == [first.id]
        assert await count(store, "SELECT count(*) FROM vectors WHERE item_id = $1", first.id) == 0
        earliest = await store.items.first_with_file(1, "same")
        assert earliest is not None and earliest.message_id == 2
        assert (await store.stats.chat_stats(1)).originals_gone == 1


async def test_reclaim_gives_the_pages_back_and_empties_the_wal(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    async with open_store(path) as store:
        items = await store.items.add_many([(new_item(1, m, caption="x" * 5000), vectors(m)) for m in range(1, 200)])
        grown = file_sizes(path)
        await store.items.forget(items, now=100)
        await store.db.reclaim()
        assert await count(store, "PRAGMA freelist_count") == 0
        database, wal = file_sizes(path)
        assert wal == 0 and database < sum(grown) / 2


async def test_a_database_from_before_incremental_vacuum_is_converted_once(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    async with aiosqlite.connect(path) as conn:
        await conn.execute("CREATE TABLE leftover (x)")
    async with open_store(path):
        pass
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # INCREMENTAL


async def test_debug_logs_do_not_carry_captions(tmp_path: Path) -> None:
    """aiosqlite logs statements with their parameters at DEBUG; a deleted caption must not live on in the log."""
    stream = io.StringIO()
    root, quiet = logging.getLogger(), logging.getLogger("aiosqlite")
    saved = root.handlers[:], root.level, quiet.level
    configure_logging("DEBUG", [], stream)
    try:
        async with open_store(tmp_path / "bot.db") as store:
            await store.items.add(new_item(1, 1, caption="caption-in-a-log"), vectors(1))
    finally:
        root.handlers[:], level, quiet_level = saved
        root.setLevel(level)
        quiet.setLevel(quiet_level)
    assert "caption-in-a-log" not in stream.getvalue()


async def test_forget_takes_the_feedback_that_copies_the_items_media_with_it(backend_url: str) -> None:
    async with open_store_at(backend_url) as store:
        first = await store.items.add(new_item(1, 1, file_unique_id="mine"), vectors(1))
        other = await store.items.add(new_item(1, 2, file_unique_id="theirs"), vectors(2))
        await store.items.add(new_item(1, 3, file_unique_id="kept"), vectors(3))
        await store.feedback.record_nearest(1, other.id, other.date, (first.id, 0.97), called=True)
        await store.feedback.dismiss(1, (("mine", np.ones(DIM)), ("theirs", np.ones(DIM))), "Alice")
        await store.feedback.dismiss(1, (("theirs", np.ones(DIM)), ("kept", np.ones(DIM))), "Bob")
        await store.feedback.ignore(1, "mine", np.ones(DIM), "photo", "Alice")
        await store.feedback.ignore(1, "kept", np.ones(DIM), "photo", "Alice")

        await store.items.forget([first], now=100)

        assert await count(store, "SELECT count(*) FROM nearest") == 0
        assert [(d.file_a, d.file_b) for d in await store.feedback.dismissals(1)] == [("theirs", "kept")]
        assert [i.file_unique_id for i in await store.feedback.ignored(1)] == ["kept"]


async def test_forget_takes_staged_re_embedded_vectors_with_the_item(backend_url: str) -> None:
    async with open_store_at(backend_url) as store:
        item = await store.items.add(new_item(1, 1, caption="staged secret"), vectors(1))
        await store.reembedding.stage(item, "other-model@8", np.ones(DIM), np.ones(DIM))
        assert await count(store, "SELECT count(*) FROM reembedded") == 1
        await store.items.forget([item], now=100)
        assert await count(store, "SELECT count(*) FROM reembedded") == 0
