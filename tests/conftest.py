"""Shared fixtures: the two fake services on 127.0.0.1 and the real bot running against them in-process.

`running_bot` drives the same hooks, in the same order, as `Application.run_polling` (initialize, post_init,
start_polling, start … updater.stop, stop, post_stop, shutdown, post_shutdown), so start-up and shutdown are the
production path, minus the signal handling (which tests/test_process.py covers with a real subprocess).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from telegram import Update

from bot.config import Settings, load_settings
from bot.telegram.app import BotApp, build_application
from bot.wiring import Services
from storage.postgres.store import PgStore
from tests.fakes.dashscope import FakeDashScope
from tests.fakes.telegram import FakeBotAPI
from tests.support.backends import Repos, open_repos
from tests.support.postgres import ThrowawayPostgres, migrated_template, started
from tests.support.storage import open_store_at
from tests.support.waiting import until_idle

TOKEN = "123456:TEST-token_abc"
API_KEY = "sk-test-key-0123456789"
QUIET_POLLS = 5


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[ThrowawayPostgres]:
    """One throwaway PostgreSQL (with pgvector) per test process, started on first use, stopped at the end."""
    with started() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_template(postgres_server: ThrowawayPostgres) -> str:
    return asyncio.run(migrated_template(postgres_server))


@pytest.fixture
def postgres_dsn(postgres_server: ThrowawayPostgres, postgres_template: str) -> str:
    """A fresh, migrated database of its own for one test."""
    return postgres_server.dsn(postgres_server.new_database(template=postgres_template))


@pytest.fixture
def fake_tg() -> Iterator[FakeBotAPI]:
    with FakeBotAPI(token=TOKEN) as fake:
        yield fake


@pytest.fixture
def fake_ds() -> Iterator[FakeDashScope]:
    with FakeDashScope(api_key=API_KEY) as fake:
        yield fake


def bot_environment(tg: FakeBotAPI, ds: FakeDashScope, db_path: Path, **extra: str) -> dict[str, str]:
    """Exactly the variable names of CONFIG.md, plus fast timings for tests."""
    env = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": tg.root,
        "DASHSCOPE_API_KEY": API_KEY,
        "DASHSCOPE_BASE_URL": ds.base_url,
        "DATABASE_URL": f"sqlite:///{db_path}",
        "BOT_ADMIN_IDS": "999",
        "LOG_LEVEL": "DEBUG",
        "ALBUM_DEBOUNCE_SECONDS": "0.3",
        "DASHSCOPE_RPM": "6000",
        "SHUTDOWN_GRACE_SECONDS": "5",
    }
    env.update(extra)
    return env


BACKENDS = ("sqlite", "postgresql")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The fast loop (`-m "not slow"`) runs on SQLite alone: every test on PostgreSQL (a `[postgresql]` variant, or a
    test of the PostgreSQL backend itself) counts as slow, so a developer's loop starts no database server. CI runs
    them all."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        variant = callspec.params.get("backend") if callspec is not None else None
        if variant == "postgresql" or "postgres_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
"""For a test about SQLite itself (its file, its single-process lock): say why where it is used."""


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Every test that runs a bot (or opens a store through `backend_url`) runs once on each backend."""
    return str(request.param)


@pytest.fixture
def backend_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """DATABASE_URL of the test's backend: a fresh PostgreSQL database, or a SQLite file in the test's folder (the
    throwaway server is started only by tests that ask for PostgreSQL)."""
    if backend == "postgresql":
        return str(request.getfixturevalue("postgres_dsn"))
    return f"sqlite:///{tmp_path / 'data' / 'bot.db'}"


@pytest.fixture
def make_settings(fake_tg: FakeBotAPI, fake_ds: FakeDashScope, tmp_path: Path,  # type: ignore[no-untyped-def]
                  backend_url: str):
    def make(**extra: str) -> Settings:
        env = bot_environment(fake_tg, fake_ds, tmp_path / "data" / "bot.db", **{"DATABASE_URL": backend_url, **extra})
        return load_settings(env, dotenv_path=tmp_path / "absent.env")

    return make


@dataclass
class RunningBot:
    app: BotApp
    tg: FakeBotAPI
    ds: FakeDashScope

    @property
    def services(self) -> Services:
        return self.app.bot_data.services

    def _quiet(self, last_update_id: int) -> bool:
        return (self.tg.confirmed_offset() > last_update_id and self.app.update_queue.empty()
                and self.app.update_processor.current_concurrent_updates == 0 and not self._handlers_running())

    def _handlers_running(self) -> bool:
        """Commands and button presses run as tasks of their own (`block=False`), which the processor no longer
        counts once they are started: an answer still being sent is work in hand too."""
        return any(":process_update_non_blocking:" in task.get_name() and not task.done()
                   for task in asyncio.all_tasks())

    async def settle(self, timeout: float = 15.0) -> None:
        """Wait until every update pushed so far was fetched, handled (commands and presses answered), and its job
        finished.

        PTB takes an update off its queue a moment before the processor counts it, so 'quiet' must hold over
        several polls in a row before the job queue is drained."""
        last = self.tg.last_update_id()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        streak = 0
        while streak < QUIET_POLLS:
            if loop.time() > deadline:
                raise TimeoutError("updates were not handled in time")
            streak = streak + 1 if self._quiet(last) else 0
            await asyncio.sleep(0.02)
        await asyncio.wait_for(until_idle(self.services), timeout)


@contextlib.asynccontextmanager
async def running_bot(settings: Settings, tg: FakeBotAPI, ds: FakeDashScope) -> AsyncIterator[RunningBot]:
    app = build_application(settings)
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=1, allowed_updates=Update.ALL_TYPES)
    await app.start()
    try:
        yield RunningBot(app, tg, ds)
    finally:
        await app.updater.stop()
        await app.stop()
        if app.post_stop is not None:
            await app.post_stop(app)
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)


@pytest.fixture
async def bot(make_settings, fake_tg: FakeBotAPI, fake_ds: FakeDashScope) -> AsyncIterator[RunningBot]:  # type: ignore[no-untyped-def]
    async with running_bot(make_settings(), fake_tg, fake_ds) as running:
        yield running


@pytest.fixture
async def pg_store(postgres_dsn: str) -> AsyncIterator[PgStore]:
    """A PostgreSQL store on a fresh database, for tests of the PostgreSQL backend itself."""
    async with open_store_at(postgres_dsn) as opened:
        assert isinstance(opened, PgStore)
        yield opened


@pytest.fixture
async def repos(backend_url: str) -> AsyncIterator[Repos]:
    """The queue, counter, cache, feedback and confirmation repositories on the test's backend."""
    async with open_repos(backend_url) as opened:
        yield opened
