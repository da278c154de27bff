"""Bot processes in webhook mode as docker-compose.yml runs them, and Telegram (with the proxy) in front of them.

Used by tests/test_replicas.py and bench/replicas.py: real `python -m bot` processes share the fakes on 127.0.0.1
and one database; `Telegram` posts the fake's queued updates to their webhook, each to one replica in turn (the next
one when a replica is down), or to both, as Telegram does when it retries a delivery that timed out.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from tests.conftest import bot_environment
from tests.fakes.dashscope import FakeDashScope
from tests.fakes.telegram import FakeBotAPI
from tests.support.ports import free_port
from tests.test_process import drained, start_bot

SECRET = "replica-secret_0123"
HOOK = "/hook/replicas"
JSON = dict[str, Any]


@dataclass
class Replica:
    port: int
    process: Any
    output: Callable[[], str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{HOOK}"


class Telegram:
    """Delivers the fake's queued updates to the replicas' webhook, as Telegram and the proxy would: a delivery
    that fails (a replica down) goes to the next replica."""

    def __init__(self, tg: FakeBotAPI, replicas: list[Replica], http: httpx.AsyncClient) -> None:
        self._tg, self.replicas, self._http = tg, replicas, http
        self._delivered = -1
        self.turn = 0

    def new_updates(self) -> list[JSON]:
        fresh = [u for u in self._tg.pending_updates() if u["update_id"] > self._delivered]
        if fresh:
            self._delivered = fresh[-1]["update_id"]
        return fresh

    async def deliver(self, update: JSON, *, to_both: bool = False) -> None:
        if to_both:
            await asyncio.gather(*(self._post(replica, update) for replica in self.replicas))
            return
        for _ in range(len(self.replicas)):
            replica = self.replicas[self.turn % len(self.replicas)]
            self.turn += 1  # taken before the await: concurrent deliveries still alternate
            with contextlib.suppress(httpx.TransportError):
                await self._post(replica, update)
                return
        raise AssertionError(f"no replica took update {update['update_id']}")

    async def deliver_new(self, *, both_every: int = 0, concurrency: int = 1) -> None:
        """Delivers every update queued since the last call; with `concurrency` > 1 several at a time, as Telegram
        does (so the order of arrival within a chat is no longer the order of posting)."""
        gate = asyncio.Semaphore(concurrency)

        async def one(number: int, update: JSON) -> None:
            async with gate:
                await self.deliver(update, to_both=bool(both_every) and number % both_every == 0)

        # The semaphore hands out turns first come, first served: with concurrency 1, updates go in posting order.
        await asyncio.gather(*(one(number, update) for number, update in enumerate(self.new_updates(), start=1)))

    async def _post(self, replica: Replica, update: JSON) -> None:
        answer = await self._http.post(replica.url, json=update,
                                       headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert answer.status_code == 200, answer.text


def start_replica(tg: FakeBotAPI, ds: FakeDashScope, database_url: str, folder: Path, **extra: str) -> Replica:
    port = free_port()
    env = bot_environment(tg, ds, folder / "unused.db", **{
        "DATABASE_URL": database_url, "LOG_LEVEL": "INFO", "WEBHOOK_URL": f"https://bot.example.org{HOOK}",
        "WEBHOOK_LISTEN": f"127.0.0.1:{port}", "WEBHOOK_SECRET": SECRET, **extra})
    process = start_bot(env, folder)
    return Replica(port, process, drained(process))


async def until_listening(replica: Replica, http: httpx.AsyncClient, timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        assert replica.process.poll() is None, replica.output()
        with contextlib.suppress(httpx.TransportError):
            await http.get(replica.url)  # any HTTP answer (405 for GET): the webhook server is up
            return
        assert loop.time() < deadline, "the replica did not start listening"
        await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def replicas(tg: FakeBotAPI, ds: FakeDashScope, database_url: str, folder: Path, *, count: int = 2,
                   **extra: str) -> AsyncIterator[Telegram]:
    started = [start_replica(tg, ds, database_url, folder, **extra) for _ in range(count)]
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            for replica in started:
                await until_listening(replica, http)
            yield Telegram(tg, started, http)
    finally:
        for replica in started:
            if replica.process.poll() is None:
                replica.process.send_signal(signal.SIGTERM)
        for replica in started:
            replica.process.wait(timeout=30)


ITEMS = "SELECT count(*) FROM items"
UNFINISHED = "SELECT count(*) FROM jobs WHERE state IN ('pending', 'running')"


async def progress(database_url: str) -> tuple[int, int]:
    """(items stored, jobs pending or running), read as an outsider would, from either backend."""
    if database_url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=10)) as db:
            return int(db.execute(ITEMS).fetchone()[0]), int(db.execute(UNFINISHED).fetchone()[0])
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval(ITEMS)), int(await conn.fetchval(UNFINISHED))
    finally:
        await conn.close()


async def settled(database_url: str, expected_items: int, timeout: float = 90, *, poll: float = 0.2) -> None:
    """Waits until the database holds `expected_items` items and no job is pending or running."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        items, unfinished = await progress(database_url)
        if items >= expected_items and unfinished == 0:
            return
        assert loop.time() < deadline, f"{items} of {expected_items} items, {unfinished} jobs unfinished"
        await asyncio.sleep(poll)


async def items_reach(database_url: str, count: int, timeout: float = 60) -> int:
    """Waits until at least `count` items are stored; returns how many are."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        stored, _ = await progress(database_url)
        if stored >= count:
            return stored
        assert loop.time() < deadline, f"only {stored} items stored"
        await asyncio.sleep(0.05)
