"""DATABASE_URL chooses the backend in the composition root: the store, the index, the single-instance lock (SQLite
only), and how long a chat's model space is trusted when other processes share the database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import bot.__main__ as entry
from bot.config import Secret, Settings
from bot.dashscope.models import choose_model
from bot.replies.render import render
from bot.search.index import IndexRegistry
from bot.wiring import Services
from storage.models import FACET_MEDIA
from storage.postgres.search import PgVectorIndex
from storage.postgres.store import PgStore
from storage.single_instance import InstanceLock
from storage.store import Store
from tests.conftest import API_KEY, TOKEN
from tests.support.embedder import FakeEmbeddingClient
from tests.support.gateway import MemoryGateway
from tests.support.storage import new_item, random_unit_vectors

OLD = "multimodal-embedding-v1@1024"


def _settings(**database: object) -> Settings:
    flash = choose_model("tongyi-embedding-vision-flash")
    return Settings(telegram_bot_token=Secret("1:x"), dashscope_api_key=Secret("k"), embedding_model=flash.name,
                    reembedding=False, **database)  # type: ignore[arg-type]


async def _services(settings: Settings) -> Services:
    client = FakeEmbeddingClient(spec=choose_model("tongyi-embedding-vision-flash"))
    return await Services.start(settings, MemoryGateway(files={}), render, client=client)  # type: ignore[arg-type]


async def test_sqlite_keeps_chats_in_memory_and_postgresql_searches_in_the_database(
        tmp_path: Path, postgres_dsn: str) -> None:
    for settings, store_type, index_type in ((_settings(database_path=tmp_path / "bot.db"), Store, IndexRegistry),
                                             (_settings(postgres_dsn=Secret(postgres_dsn)), PgStore, PgVectorIndex)):
        services = await _services(settings)
        try:
            assert isinstance(services.store, store_type) and isinstance(services.indexes, index_type)
        finally:
            await services.stop()
            await services.close()


async def test_a_chat_switched_by_another_process_is_served_in_its_new_space_within_a_second(
        postgres_dsn: str) -> None:
    settings = _settings(postgres_dsn=Secret(postgres_dsn))
    mine, theirs = await _services(settings), await _services(settings)
    try:
        item = await mine.store.items.add(new_item(-5, 1, model=OLD), {FACET_MEDIA: random_unit_vectors(1, 1024)[0]})
        assert await mine.spaces.of(-5) == OLD  # remembered here
        new = theirs.spaces.active
        await theirs.store.reembedding.stage(item, new, random_unit_vectors(1, 768)[0], None)
        assert await theirs.store.reembedding.switch(-5, new) == 1  # the other process's re-embedder
        await asyncio.sleep(1.1)
        assert await mine.spaces.of(-5) == new
        assert await mine.spaces.count(-5) == 1
    finally:
        for services in (mine, theirs):
            await services.stop()
            await services.close()


@pytest.mark.parametrize(("url", "locked"), [("postgresql://u@127.0.0.1:1/db", False), ("sqlite:///bot.db", True)])
def test_only_sqlite_takes_the_single_instance_lock(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str,
                                                     locked: bool) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in {"TELEGRAM_BOT_TOKEN": TOKEN, "DASHSCOPE_API_KEY": API_KEY, "DATABASE_URL": url}.items():
        monkeypatch.setenv(name, value)
    taken: list[Path] = []
    real_acquire = InstanceLock.acquire

    def acquire(path: Path) -> InstanceLock:
        taken.append(path)
        return real_acquire(path)

    monkeypatch.setattr(InstanceLock, "acquire", staticmethod(acquire))
    monkeypatch.setattr(entry, "_serve", lambda settings: 0)
    monkeypatch.setattr(entry, "configure_logging", lambda *args, **kwargs: None)  # leave the test's logging be
    monkeypatch.setattr(entry.sys, "argv", ["bot"])
    assert entry.main() == 0
    assert bool(taken) is locked
