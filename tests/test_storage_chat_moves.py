"""A chat's data as a whole: group→supergroup moves (nothing lost or doubled, replay is a no-op), purges."""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
import pytest

from storage import segments
from storage.models import FACET_CAPTION, FACET_MEDIA, ChatSettings
from storage.per_chat_tables import CHAT_TABLES
from storage.postgres.coordination import PgAlbumLedger, PgAlertLedger
from storage.postgres.store import PgStore
from tests.support.storage import (
    TEST_MODEL,
    AnyStore,
    new_item,
    open_store_at,
    random_unit_vectors,
    run_sql,
    schema_columns,
)

OLD, NEW, OTHER = -100, -1001, -2002
DIM = 4
TABLES = (
    "items",
    "vectors",
    "segments",
    "embedding_cache",
    "chats",
    "chat_moves",
    "jobs",
    "usage",
    "chat_counters",
    "dismissals",
    "ignored",
    "nearest",
)


@pytest.fixture
async def store(backend_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AnyStore]:
    monkeypatch.setattr(segments, "SEGMENT_BYTES", 3 * DIM * 4)  # 3 rows per segment (SQLite): moves carry sealed data
    async with open_store_at(backend_url) as opened:
        yield opened


async def _dump(store: AnyStore) -> dict[str, list[tuple[object, ...]]]:
    present = await schema_columns(store)
    return {table: await run_sql(store, f"SELECT * FROM {table} ORDER BY 1, 2")  # noqa: S608 - constant names
            for table in TABLES if table in present}


async def _fill_chat(store: AnyStore, chat_id: int, messages: range, seed: int) -> None:
    matrix = random_unit_vectors(2 * len(messages), DIM, seed)
    await store.items.add_many(
        [
            (
                new_item(chat_id, m, caption="c"),
                {FACET_MEDIA: matrix[2 * n], FACET_CAPTION: matrix[2 * n + 1]},
            )
            for n, m in enumerate(messages)
        ]
    )


async def _vector_keys(store: AnyStore, chat_id: int) -> list[tuple[int, int]]:
    block = await store.items.load_vectors(chat_id, TEST_MODEL)
    return sorted(zip(block.item_ids.tolist(), block.facets.tolist(), strict=True))


async def test_move_chat_carries_everything_exactly_once(store: AnyStore) -> None:
    await _fill_chat(store, OLD, range(1, 11), seed=1)
    await _fill_chat(store, NEW, range(1, 4), seed=2)  # the supergroup's own message ids collide with the old ones
    await store.chats.update_settings(OLD, repost_threshold=0.9, alert_stickers=True)
    await store.stats.add_usage(OLD, 7, requests=2, input_tokens=10, image_tokens=20, day=10)
    await store.stats.add_usage(NEW, 7, requests=1, input_tokens=1, image_tokens=2, day=10)
    await store.stats.add_repost(OLD)
    await store.stats.add_repost(NEW)
    job = await store.jobs.enqueue("job-old", OLD, "media", {"n": 1}, now=1)
    assert job is not None
    expected_keys = sorted(await _vector_keys(store, OLD) + await _vector_keys(store, NEW))

    await store.chats.move(OLD, NEW)

    assert await _vector_keys(store, NEW) == expected_keys
    assert await _vector_keys(store, OLD) == []
    moved, native = await store.items.by_message(OLD, 3), await store.items.by_message(NEW, 3)
    assert moved is not None and native is not None and moved.id != native.id
    assert (moved.chat_id, moved.origin_chat_id) == (NEW, OLD)
    assert (native.chat_id, native.origin_chat_id) == (NEW, None)
    assert await store.chats.settings(NEW) == ChatSettings(repost_threshold=0.9, alert_stickers=True)
    assert await store.chats.settings(OLD) == ChatSettings()
    assert await store.stats.requests_today(chat_id=NEW, day=10) == 3
    assert await store.stats.requests_today(chat_id=OLD, day=10) == 0
    stats = await store.stats.chat_stats(NEW)
    assert (stats.reposts_called, stats.input_tokens, stats.items_by_kind) == (2, 11, {"photo": 13})
    moved_job = await store.jobs.get(job.id)
    assert moved_job is not None and moved_job.chat_id == NEW


async def test_replaying_a_move_changes_nothing(store: AnyStore) -> None:
    await _fill_chat(store, OLD, range(1, 8), seed=3)
    await store.stats.add_usage(OLD, None, requests=1, input_tokens=1, image_tokens=1, day=1)
    await store.chats.move(OLD, NEW)
    before = await _dump(store)

    await store.chats.move(OLD, NEW)

    assert await _dump(store) == before


async def test_move_keeps_sealed_segments_loadable_and_reseals_the_merged_tail(store: AnyStore) -> None:
    await _fill_chat(store, OLD, range(1, 3), seed=4)  # 4 vectors: one segment of 3 and a tail of 1
    await _fill_chat(store, NEW, range(1, 3), seed=5)
    await store.chats.move(OLD, NEW)

    if not isinstance(store, PgStore):  # PostgreSQL keeps rows only, and has nothing to seal
        rows = await run_sql(store, "SELECT count(*) FROM vectors WHERE segment_id IS NULL")
        assert rows[0][0] < 3  # type: ignore[operator]  # tails of both chats were merged and sealed again
    block = await store.items.load_vectors(NEW, TEST_MODEL)
    assert len(block) == 8
    np.testing.assert_allclose(np.linalg.norm(block.matrix, axis=1), 1.0, rtol=1e-6)


async def test_late_message_of_the_old_chat_joins_the_new_chat(store: AnyStore) -> None:
    await store.chats.move(OLD, NEW)
    late = await store.items.add(new_item(OLD, 99), {FACET_MEDIA: [1, 0]})

    assert (late.chat_id, late.origin_chat_id) == (NEW, OLD)
    assert await store.items.add(new_item(OLD, 99), {FACET_MEDIA: [0, 1]}) == late
    assert await _vector_keys(store, NEW) == [(late.id, FACET_MEDIA)]


async def test_chained_moves_route_to_the_newest_chat(store: AnyStore) -> None:
    await _fill_chat(store, OLD, range(1, 3), seed=6)
    await store.chats.move(OLD, NEW)
    await store.chats.move(NEW, OTHER)
    late = await store.items.add(new_item(OLD, 50), {FACET_MEDIA: [1, 0, 0, 0]})

    assert late.chat_id == OTHER
    assert len(await _vector_keys(store, OTHER)) == 5


async def test_purge_deletes_everything_of_the_chat_and_nothing_else(store: AnyStore) -> None:
    vector = {FACET_MEDIA: [1.0, 0.0, 0.0, 0.0]}
    await store.items.add(new_item(OLD, 1, file_unique_id="shared"), vector)
    await store.items.add(new_item(OLD, 2, file_unique_id="only-here"), vector)
    await store.items.add(new_item(OTHER, 1, file_unique_id="shared"), vector)
    for file in ("shared", "only-here"):
        await store.cache.put(file, TEST_MODEL, vector[FACET_MEDIA], "image")
    await store.chats.update_settings(OLD, alert_stickers=True)
    await store.chats.mark_removed(OLD, at=5)
    await store.stats.add_usage(OLD, 7, requests=1, input_tokens=1, image_tokens=1, day=1)
    await store.stats.add_skipped_over_cap(OLD)
    await store.jobs.enqueue("job", OLD, "media", {}, now=1)
    await _fill_chat(store, OTHER, range(10, 17), seed=7)
    other_before = await _vector_keys(store, OTHER)

    await store.chats.purge(OLD)

    assert await _vector_keys(store, OLD) == []
    assert await store.items.by_message(OLD, 1) is None
    assert await store.chats.settings(OLD) == ChatSettings()
    assert await store.chats.is_active(OLD)
    assert await store.chats.expired(removed_before=100) == []
    assert await store.jobs.counts(OLD) == {"pending": 0, "running": 0, "done": 0, "failed": 0}
    stats = await store.stats.chat_stats(OLD)
    assert (stats.api_requests, stats.skipped_over_cap, stats.items_by_kind) == (0, 0, {})
    assert await store.cache.get("only-here", TEST_MODEL) is None
    assert await store.cache.get("shared", TEST_MODEL) is not None
    assert await _vector_keys(store, OTHER) == other_before


async def _feedback(store: AnyStore, chat_id: int) -> tuple[int, int, int]:
    """(dismissed pairs, ignored media, nearest-neighbour records) of the chat."""
    measured, _, _ = await store.feedback.nearest_counts(chat_id, 0, (0.5, 0.5))
    return len(await store.feedback.dismissals(chat_id)), len(await store.feedback.ignored(chat_id)), measured


async def _give_feedback(store: AnyStore, chat_id: int) -> None:
    first = await store.items.add(new_item(chat_id, 1), {FACET_MEDIA: [1.0, 0.0, 0.0, 0.0]})
    second = await store.items.add(new_item(chat_id, 2), {FACET_MEDIA: [1.0, 0.1, 0.0, 0.0]})
    await store.feedback.record_nearest(chat_id, second.id, second.date, (first.id, 0.99), called=True)
    await store.feedback.dismiss(chat_id, (("a", [1.0, 0.0]), ("b", [0.0, 1.0])), "Alice")
    await store.feedback.ignore(chat_id, "a", [1.0, 0.0], "photo", "Ada")


async def test_feedback_follows_a_move_and_goes_with_a_purge(store: AnyStore) -> None:
    await _give_feedback(store, OLD)
    await store.chats.update_settings(OLD, alert_style="reaction", own_repost_hours=2, language="zh")
    await store.chats.move(OLD, NEW)
    assert await _feedback(store, NEW) == (1, 1, 1) and await _feedback(store, OLD) == (0, 0, 0)
    assert await store.chats.settings(NEW) == ChatSettings(alert_style="reaction", own_repost_hours=2, language="zh")
    assert (await store.stats.chat_stats(NEW)).alerts_dismissed == 1
    await _give_feedback(store, OTHER)
    await store.chats.purge(NEW)
    assert await _feedback(store, NEW) == (0, 0, 0) and await _feedback(store, OTHER) == (1, 1, 1)


async def test_feedback_entries_are_undone_one_by_one(store: AnyStore) -> None:
    await _give_feedback(store, OLD)
    assert not await store.feedback.ignore(OLD, "a", [1.0, 0.0], "photo", "Ada")  # already on the list
    (ignored,) = await store.feedback.ignored(OLD)
    (dismissal,) = await store.feedback.dismissals(OLD)
    assert (dismissal.file_a, dismissal.file_b, dismissal.by_name) == ("a", "b", "Alice")
    assert not await store.feedback.unignore(OTHER, ignored.id)  # another chat's entry: untouched
    assert await store.feedback.unignore(OLD, ignored.id) and await store.feedback.undo_dismissal(OLD, dismissal.id)
    assert await _feedback(store, OLD) == (0, 0, 1)


async def _chat_rows(store: AnyStore, chat_id: int) -> dict[str, int]:
    """Rows naming the chat, by table and column (per CHAT_TABLES), where there are any."""
    present = await schema_columns(store)
    counts: dict[str, int] = {}
    for table, columns in CHAT_TABLES.items():
        for column in columns if table in present else ():
            (row,) = await run_sql(store, f"SELECT count(*) FROM {table} WHERE {column} = $1", chat_id)  # noqa: S608
            if row[0]:
                counts[f"{table}.{column}"] = int(row[0])  # type: ignore[call-overload]
    return counts


async def _fill_every_table(store: AnyStore, chat_id: int) -> None:
    await _fill_chat(store, chat_id, range(1, 4), seed=8)
    await _give_feedback(store, chat_id)
    await store.chats.update_settings(chat_id, alert_stickers=True)
    await store.stats.add_usage(chat_id, 7, requests=1, input_tokens=1, image_tokens=1, day=1)
    await store.stats.add_repost(chat_id)
    await store.jobs.enqueue(f"job-{chat_id}", chat_id, "media", {"chat": {"id": chat_id}, "message_id": 77}, now=1)
    await store.confirmations.create("purge", chat_id=999, user_id=1, target_chat_id=chat_id, now=1)
    await store.confirmations.create("forget", chat_id=chat_id, user_id=1, target_chat_id=None, now=1)
    item = await store.items.by_message(chat_id, 1)
    assert item is not None
    await store.reembedding.stage(item, "next-model", [1.0, 0.0], None)
    await store.items.forget_unstored(chat_id, 78, now=1)
    if isinstance(store, PgStore):  # what replicas share: the group's alert pacing and an album being collected
        assert await PgAlertLedger(store.db).record_if_room(chat_id, per_minute=10)
        albums = PgAlbumLedger(store.db)
        assert await albums.claim(chat_id, "sent album")
        await albums.expect(chat_id, "album in progress", 1)


async def test_every_chat_column_of_the_schema_is_listed_for_moves_and_purges(store: AnyStore) -> None:
    unlisted = {f"{table}.{column}" for table, columns in (await schema_columns(store)).items() for column in columns
                if column.endswith("chat_id") and column not in CHAT_TABLES.get(table, ())}
    # The Telegram address of a message and the move's own record keep the old id by design.
    assert unlisted <= {"chat_moves.old_chat_id", "items.origin_chat_id"}


async def test_a_move_leaves_only_tombstones_under_the_old_id_and_a_purge_leaves_nothing(store: AnyStore) -> None:
    await _fill_every_table(store, OLD)
    present = await schema_columns(store)
    assert set(await _chat_rows(store, OLD)) == {f"{table}.{column}" for table, columns in CHAT_TABLES.items()
                                                 for column in columns if table in present} - {"chat_moves.new_chat_id"}

    await store.chats.move(OLD, NEW)
    assert await _chat_rows(store, OLD) == {"forgotten_messages.chat_id": 1}

    await store.chats.purge(NEW)
    assert await _chat_rows(store, NEW) == {} and await _chat_rows(store, OLD) == {}
