"""Re-embedding's storage (stage, keep, switch at once, resume) and its place in the request budget (last)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from bot.config import Secret, Settings
from bot.core.reembed import IMPORTED_REASON, Reembedder, ReembedTimings
from bot.dashscope.errors import ServerError
from bot.dashscope.models import choose_model
from bot.dashscope.ratelimit import RateLimiter
from bot.replies.render import render
from bot.wiring import Services
from storage.models import FACET_CAPTION, FACET_MEDIA, FACET_TEXT, TEXT_KIND
from storage.postgres.store import PgStore
from tests.pictures import picture
from tests.support.embedder import FakeEmbeddingClient
from tests.support.gateway import MemoryGateway
from tests.support.storage import AnyStore, new_item, open_store_at, random_unit_vectors, run_sql
from tests.test_embedding_client import FakeClock

OLD, NEW = "old-model@4", "new-model@3"


@pytest.fixture
async def store(backend_url: str) -> AsyncIterator[AnyStore]:
    async with open_store_at(backend_url) as opened:
        old = random_unit_vectors(4, 4)
        await opened.items.add_many([(new_item(1, m, model=OLD, caption="c" if m == 1 else None),
                                      {FACET_MEDIA: old[m]} | ({FACET_CAPTION: old[0]} if m == 1 else {}))
                                     for m in (1, 2, 3)])
        await opened.items.add(new_item(2, 1, model=OLD), {FACET_MEDIA: old[3]})
        yield opened


async def vector_tags(store: AnyStore) -> list[tuple[int, int, str, int]]:
    if isinstance(store, PgStore):
        found = await store.db.fetch(
            "SELECT item_id, facet, model, vector_dims(embedding) FROM vectors ORDER BY item_id, facet")
        return [tuple(row) for row in found]  # type: ignore[misc]
    async with store.db.read() as conn:
        rows = await conn.execute_fetchall(
            "SELECT item_id, facet, model, length(vector) / 4 FROM vectors ORDER BY item_id, facet")
    return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_staged_items_switch_at_once_and_kept_ones_stay_old(store: AnyStore) -> None:
    repo = store.reembedding
    first, second, third = await repo.next_items(1, NEW, limit=10)
    new = random_unit_vectors(3, 3, seed=1)
    await repo.stage(first, NEW, new[0], new[1])
    await repo.keep(second, NEW, "invalid file_id")

    (backlog,) = await repo.backlog(NEW, 1)
    assert (backlog.total, backlog.staged, backlog.kept, backlog.remaining) == (3, 1, 1, 1)
    assert [item.id for item in await repo.next_items(1, NEW, limit=10)] == [third.id]  # resumable: never again
    assert await repo.chat_model(1, NEW) == OLD  # nothing switched yet: the old vectors serve
    assert {tag for _, _, tag, _ in await vector_tags(store)} == {OLD}

    await repo.stage(third, NEW, new[2], None)
    assert await repo.switch(1, NEW) == 2
    assert await repo.chat_model(1, NEW) == NEW
    assert await vector_tags(store) == [
        (first.id, FACET_MEDIA, NEW, 3), (first.id, FACET_CAPTION, NEW, 3),  # each item once, old rows deleted
        (second.id, FACET_MEDIA, OLD, 4),  # file gone: kept on its old vector until deleted
        (third.id, FACET_MEDIA, NEW, 3),
        (4, FACET_MEDIA, OLD, 4),  # chat 2 has not been switched
    ]
    block = await store.items.load_vectors(1, NEW)
    assert sorted(block.item_ids.tolist()) == [first.id, first.id, third.id]
    np.testing.assert_allclose(block.matrix[block.item_ids.tolist().index(third.id)], new[2], atol=1e-6)
    (after,) = await repo.backlog(NEW, 1)
    assert (after.total, after.kept, after.remaining) == (1, 1, 0)
    # A post embedded on the old model just before the switch is re-embedded later; it does not send the chat back.
    await store.items.add(new_item(1, 9, model=OLD), {FACET_MEDIA: random_unit_vectors(1, 4, seed=3)[0]})
    assert await repo.chat_model(1, NEW) == NEW
    assert [item.message_id for item in await repo.next_items(1, NEW, limit=10)] == [9]


async def test_an_edit_voids_the_staged_vectors_of_that_item(store: AnyStore) -> None:
    repo = store.reembedding
    item, *_ = await repo.next_items(1, NEW, limit=1)
    await repo.stage(item, NEW, random_unit_vectors(1, 3)[0], None)
    await store.items.set_caption(item.id, "edited", random_unit_vectors(1, 4, seed=2)[0])
    assert [i.id for i in await repo.next_items(1, NEW, limit=1)] == [item.id]


async def test_work_for_an_abandoned_target_is_void_and_other_models_cache_goes(store: AnyStore) -> None:
    repo = store.reembedding
    item, *_ = await repo.next_items(1, NEW, limit=1)
    await repo.stage(item, NEW, random_unit_vectors(1, 3)[0], None)
    await store.cache.put("u", OLD, random_unit_vectors(1, 4)[0], "image")
    await store.cache.put("u", NEW, random_unit_vectors(1, 3)[0], "image")
    await repo.forget_other_targets("third-model@2")
    assert (await repo.backlog(NEW, 1))[0].staged == 0
    await repo.forget_other_models_cache(NEW)
    assert await store.cache.get("u", OLD) is None and await store.cache.get("u", NEW) is not None


async def test_staged_work_moves_with_its_chat_and_is_purged_with_it(store: AnyStore) -> None:
    repo = store.reembedding
    item, *_ = await repo.next_items(1, NEW, limit=1)
    await repo.stage(item, NEW, random_unit_vectors(1, 3)[0], None)
    await store.chats.move(1, 100)
    assert (await repo.backlog(NEW, 100))[0].staged == 1
    await store.chats.purge(100)
    assert [backlog.chat_id for backlog in await repo.backlog(NEW)] == [2]  # chat 2 has not moved
    assert await repo.backlog(NEW, 100) == [] and await repo.next_items(100, NEW, limit=10) == []
    if isinstance(store, PgStore):
        assert await store.db.fetchval("SELECT count(*) FROM reembedded") == 0
    else:
        async with store.db.read() as conn:
            assert list(await conn.execute_fetchall("SELECT * FROM reembedded")) == []


async def test_background_requests_wait_for_live_ones_and_leave_a_reserve() -> None:
    clock = FakeClock()
    limiter = RateLimiter(8, max_concurrency=10, clock=clock, sleep=clock.sleep)
    order: list[str] = []

    async def background() -> None:
        async with limiter.background():
            order.append(f"background@{clock.now:g}")

    async def live(name: str) -> None:
        async with limiter:
            order.append(f"{name}@{clock.now:g}")

    await asyncio.gather(live("a"), background(), live("b"))
    assert [entry.split("@")[0] for entry in order] == ["a", "b", "background"]  # live requests waiting go first
    for _ in range(5):
        await background()
    times = [float(entry.split("@")[1]) for entry in order]
    # 8 per minute with a reserve of 2: background work stops at 6 starts within the first minute and waits for the
    # window to move on, so the reserve stays free for a burst of live traffic.
    assert sum(t < 60 for t in times) == 6 and min(times[6:]) >= 60
    mark = clock.now
    await live("c")
    assert clock.now - mark <= 1.0


def _database(backend_url: str, tmp_path: Path) -> dict[str, object]:
    """Settings fields naming the test's backend."""
    if backend_url.startswith("postgresql://"):
        return {"postgres_dsn": Secret(backend_url)}
    return {"database_path": tmp_path / "bot.db"}


async def test_the_reembedder_retries_service_errors_keeps_gone_files_and_never_repeats(
        tmp_path: Path, backend_url: str) -> None:
    flash = choose_model("tongyi-embedding-vision-flash")
    client = FakeEmbeddingClient(spec=flash, errors=[ServerError("busy", status=500)])
    gateway = MemoryGateway(files={"f0": picture("red", seed=0), "f2": picture("blue", seed=2)})
    settings = Settings(telegram_bot_token=Secret("1:x"), dashscope_api_key=Secret("k"),
                        embedding_model=flash.name, reembedding=False,
                        **_database(backend_url, tmp_path))  # type: ignore[arg-type]
    services = await Services.start(settings, gateway, render, client=client)  # type: ignore[arg-type]
    try:
        old = random_unit_vectors(3, 1024)
        await services.store.items.add_many([
            (new_item(-5, m, file_id=f"f{m}", model="multimodal-embedding-v1@1024"), {FACET_MEDIA: old[m]})
            for m in range(3)])
        reembedder = Reembedder(store=services.store.reembedding, embedding=services.spaces.embedding_in(flash.space),
                                health=services.health, budget_per_minute=120,
                                timings=ReembedTimings(retry_seconds=0.01))
        assert await reembedder.run_once()
        assert client.calls == 3  # f0 failed once and was retried, f1 is gone (no call), f2
        progress = await reembedder.progress(-5)
        assert progress is not None and (progress.backlog.total, progress.backlog.kept) == (1, 1)
        assert progress.backlog.remaining == 0 and progress.tokens_left == 0
        assert not await reembedder.run_once()  # nothing left: a kept item is not tried again
        assert client.calls == 3
        assert await services.spaces.of(-5) == flash.space
    finally:
        await services.stop()
        await services.close()


async def test_text_messages_are_re_embedded_by_their_text_and_switch_under_their_own_facet(
        tmp_path: Path, backend_url: str) -> None:
    flash = choose_model("tongyi-embedding-vision-flash")
    client = FakeEmbeddingClient(spec=flash)
    settings = Settings(telegram_bot_token=Secret("1:x"), dashscope_api_key=Secret("k"),
                        embedding_model=flash.name, reembedding=False,
                        **_database(backend_url, tmp_path))  # type: ignore[arg-type]
    services = await Services.start(settings, MemoryGateway(files={}), render, client=client)  # type: ignore[arg-type]
    try:
        old_model = "multimodal-embedding-v1@1024"
        text = await services.store.items.add(
            new_item(-5, 1, kind=TEXT_KIND, file_id="", file_unique_id="text:-5:1", caption="words words words words",
                     model=old_model, route="text"), {FACET_TEXT: random_unit_vectors(1, 1024)[0]})
        reembedder = Reembedder(store=services.store.reembedding, embedding=services.spaces.embedding_in(flash.space),
                                health=services.health, budget_per_minute=120,
                                timings=ReembedTimings(retry_seconds=0.01))
        assert await reembedder.run_once()
        assert client.calls == 1 and await services.spaces.of(-5) == flash.space
        assert await vector_tags(services.store) == [(text.id, FACET_TEXT, flash.space, flash.dimension)]
    finally:
        await services.stop()
        await services.close()


async def test_a_keep_never_overwrites_vectors_staged_by_an_import_meanwhile(store: AnyStore) -> None:
    repo = store.reembedding
    item, *_ = await repo.next_items(1, NEW, limit=1)
    await repo.stage(item, NEW, random_unit_vectors(1, 3)[0], None)  # import-history, in its own process
    await repo.keep(item, NEW, "imported: no Telegram file")  # the bot, which listed the item a moment before
    (backlog,) = await repo.backlog(NEW, 1)
    assert (backlog.staged, backlog.kept) == (1, 0)
    await repo.keep(item, "third-model@2", "file gone")  # a keep towards another target still replaces
    assert await run_sql(store, "SELECT model, state FROM reembedded") == [("third-model@2", "kept")]


async def test_imported_items_are_listed_by_recorded_path_and_counted_without_one(store: AnyStore) -> None:
    repo = store.reembedding
    old = random_unit_vectors(3, 4, seed=5)
    with_path, without_path, on_new = await store.items.add_many([
        (new_item(1, 20, file_id="", model=OLD, source_path="photos/a.jpg"), {FACET_MEDIA: old[0]}),
        (new_item(1, 21, file_id="", model=OLD), {FACET_MEDIA: old[1]}),
        (new_item(1, 22, file_id="", model=NEW, source_path="photos/c.jpg"), {FACET_MEDIA: old[2][:3]}),
    ])
    assert [i.id for i in await repo.imported_pending(1, NEW, after_id=0, limit=10)] == [with_path.id]
    assert await repo.imported_pending(1, NEW, after_id=with_path.id, limit=10) == []
    assert await repo.imported_without_path(1, NEW) == 1
    await repo.keep(with_path, NEW, "imported")  # kept by the bot: still to do for an import
    assert [i.id for i in await repo.imported_pending(1, NEW, after_id=0, limit=10)] == [with_path.id]
    await repo.stage(with_path, NEW, random_unit_vectors(1, 3)[0], None)
    assert await repo.is_staged(with_path.id, NEW) and not await repo.is_staged(without_path.id, NEW)
    assert await repo.imported_pending(1, NEW, after_id=0, limit=10) == []
    await repo.record_source_path(without_path.id, "photos/b.jpg")
    assert (await store.items.get_many([without_path.id]))[without_path.id].source_path == "photos/b.jpg"
    assert await repo.imported_without_path(1, NEW) == 0 and on_new.source_path == "photos/c.jpg"


async def test_the_reembedder_keeps_imported_items_without_asking_telegram(tmp_path: Path, backend_url: str) -> None:
    flash = choose_model("tongyi-embedding-vision-flash")
    client = FakeEmbeddingClient(spec=flash)
    # Were the bot to ask for the empty file id, this gateway would hand it a picture.
    gateway = MemoryGateway(files={"": picture("red", seed=0)})
    settings = Settings(telegram_bot_token=Secret("1:x"), dashscope_api_key=Secret("k"),
                        embedding_model=flash.name, reembedding=False,
                        **_database(backend_url, tmp_path))  # type: ignore[arg-type]
    services = await Services.start(settings, gateway, render, client=client)  # type: ignore[arg-type]
    try:
        await services.store.items.add(new_item(-5, 1, file_id="", model="multimodal-embedding-v1@1024",
                                                source_path="photos/p.jpg"), {FACET_MEDIA: np.ones(1024)})
        reembedder = Reembedder(store=services.store.reembedding, embedding=services.spaces.embedding_in(flash.space),
                                health=services.health, budget_per_minute=120)
        assert await reembedder.run_once()
        assert client.calls == 0
        assert await run_sql(services.store, "SELECT state, reason FROM reembedded") == [("kept", IMPORTED_REASON)]
    finally:
        await services.stop()
        await services.close()
