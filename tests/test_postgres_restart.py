"""The bot rides out a restart of its PostgreSQL server (an upgrade, a failover, maintenance): nothing Telegram
delivered meanwhile is lost, /healthz says the truth throughout, and no background task dies of it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from storage.postgres.jobs import LIVENESS
from storage.postgres.reembedding import REEMBEDDER_LOCK
from tests.conftest import running_bot
from tests.fakes.dashscope import FakeDashScope
from tests.fakes.telegram import Chat, FakeBotAPI, User
from tests.pictures import picture, reencoded
from tests.support.ports import free_port
from tests.support.postgres import ThrowawayPostgres, migrated_template, started

pytestmark = pytest.mark.slow  # a PostgreSQL server of its own, stopped and started again

GROUP = Chat(id=-1008888888881, type="supergroup", title="Restarts")
ALICE = User(id=51, first_name="Alice", language_code="en")
BOB = User(id=52, first_name="Bob", language_code="en")
OUTAGE_SECONDS = 10.0
BACKGROUND_TASKS = ("job-dispatcher", "retention-sweeper", "re-embedding")


@pytest.fixture
def own_server() -> Iterator[ThrowawayPostgres]:
    """Not the session's shared server: this one is stopped in the middle of the test."""
    with started() as server:
        yield server


@pytest.fixture
def backend_url(own_server: ThrowawayPostgres) -> str:
    """The bot's DATABASE_URL (for `make_settings`): a migrated database on the test's own server."""
    return own_server.dsn(own_server.new_database(template=asyncio.run(migrated_template(own_server))))


async def stored_messages(dsn: str) -> list[int]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT message_id FROM items WHERE chat_id = $1 ORDER BY message_id", GROUP.id)
    finally:
        await conn.close()
    return [int(row["message_id"]) for row in rows]


async def locks_held(dsn: str) -> set[str]:
    """Which of the process's session locks its database shows: the job claimer's liveness, the re-embedder's."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT l.classid::bigint AS high, l.objid::bigint AS low, l.objsubid FROM pg_locks AS l "
            "JOIN pg_database AS d ON d.oid = l.database "
            "WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()")
    finally:
        await conn.close()
    held = set()
    for row in rows:
        if row["objsubid"] == 2 and row["high"] == LIVENESS:
            held.add("jobs")
        if row["objsubid"] == 1 and (row["high"] << 32 | row["low"]) == REEMBEDDER_LOCK:
            held.add("re-embedding")
    return held


async def until_locks_held(dsn: str, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            if await locks_held(dsn) == {"jobs", "re-embedding"}:
                return
            await asyncio.sleep(0.2)


async def health(http: httpx.AsyncClient) -> int:
    return (await http.get("/healthz")).status_code


def assert_alive() -> None:
    """Each background task of the bot is still running: none ended on an exception nobody awaits."""
    tasks = {task.get_name(): task for task in asyncio.all_tasks() if task.get_name() in BACKGROUND_TASKS}
    assert set(tasks) == set(BACKGROUND_TASKS)
    for name, task in tasks.items():
        assert not task.done(), (name, None if task.cancelled() else task.exception())


async def test_a_restart_of_the_database_loses_nothing_and_stops_nothing(
        own_server: ThrowawayPostgres, backend_url: str, make_settings, fake_tg: FakeBotAPI,
        fake_ds: FakeDashScope, caplog: pytest.LogCaptureFixture) -> None:
    dsn = backend_url
    port = free_port()
    settings = make_settings(METRICS_LISTEN=f"127.0.0.1:{port}")
    first, during, after = picture("red", seed=61), picture("blue", seed=62), picture("green", seed=63)
    async with running_bot(settings, fake_tg, fake_ds) as bot, \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        before = fake_tg.send_photo(GROUP, ALICE, first)
        await bot.settle()
        assert await stored_messages(dsn) == [before["message_id"]]
        assert await health(http) == 200
        await until_locks_held(dsn)

        own_server.halt()
        sent_during = fake_tg.send_photo(GROUP, ALICE, during)
        during_update = fake_tg.last_update_id()
        await asyncio.sleep(OUTAGE_SECONDS / 2)
        assert await health(http) == 503
        assert fake_tg.confirmed_offset() <= during_update  # Telegram still holds it: nothing stored it yet
        assert_alive()
        await asyncio.sleep(OUTAGE_SECONDS / 2)
        own_server.resume()

        await until_healthy(http)
        sent_after = fake_tg.send_photo(GROUP, ALICE, after)
        await bot.settle(timeout=60)
        assert await stored_messages(dsn) == sorted(
            m["message_id"] for m in (before, sent_during, sent_after))
        assert fake_tg.sent_messages(GROUP.id) == []  # three different pictures: no alert yet

        repost = fake_tg.send_photo(GROUP, BOB, reencoded(first))
        await bot.settle(timeout=60)
        (alert,) = fake_tg.sent_messages(GROUP.id)
        assert alert["params"]["reply_parameters"]["message_id"] == repost["message_id"]
        assert await stored_messages(dsn) == sorted(
            m["message_id"] for m in (before, sent_during, sent_after, repost))
        assert_alive()
        assert await health(http) == 200
        await until_locks_held(dsn)  # taken again: the ones held before went with the server's sessions
    waited = [r for r in caplog.records if r.getMessage() == "storing the update waits for the database"]
    assert {getattr(r, "message_id", None) for r in waited} == {sent_during["message_id"]}
    assert "re-embedding waits for the database" in caplog.text


async def until_healthy(http: httpx.AsyncClient, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            if await health(http) == 200:
                return
            await asyncio.sleep(0.2)

