"""Ingestion throughput through both fakes, API requests per photo, and the queue's memory at 10 000 pending jobs.

Run ``python -m bench.ingest [--photos 300] [--chats 20] [--pending 10000]``.

Throughput: the real bot in-process (PTB against the fake Bot API, the real client against the fake DashScope, as in
tests/conftest.py) ingests ``--photos`` distinct 640x480 JPEGs spread over ``--chats`` groups; the clock runs from the
first post to the last item stored. Jobs of one chat run one after another (replies keep the order of posts), so a
single chat is bounded by one request's latency; the last row shows it. DASHSCOPE_RPM is set high so that the rate
budget does not hide the pipeline's own limits. The same photos are then re-sent to other chats: a file already
embedded (same ``file_unique_id``) must cost no API request.

Queue memory: ``--pending`` jobs of a typical photo payload are enqueued with nothing consuming them, once through
``JobRepository.enqueue`` and once through ``IngestService.accept`` (the handlers' path), each in a fresh process; that
process's RSS growth and the SQLite file size (database plus WAL) are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bot.config import Secret, Settings, load_settings
from bot.core.ingest import job_key
from bot.core.types import ChatRef, FileRef, IncomingMedia, MediaRef, Outgoing, Sender
from bot.replies.render import render
from bot.wiring import Services
from storage.store import Store
from tests.conftest import API_KEY, TOKEN, bot_environment, running_bot
from tests.fakes.dashscope import FakeDashScope
from tests.fakes.telegram import Chat, FakeBotAPI, User
from tests.pictures import COLOURS, picture

POSTER = User(id=7, first_name="Poster")
COLOUR_NAMES = tuple(COLOURS)


@dataclass(frozen=True)
class Scenario:
    name: str
    latency: float
    chats: int | None = None  # None: the --chats option
    workers: int | None = None  # None: the bot's defaults (WORKERS=4, DASHSCOPE_CONCURRENCY=4)


@dataclass(frozen=True)
class Throughput:
    scenario: Scenario
    chats: int
    photos: int
    seconds: float
    requests_per_photo: float
    requests_per_resent_photo: float | None

    @property
    def per_second(self) -> float:
        return self.photos / self.seconds


SCENARIOS = (
    Scenario("API 0 ms, defaults", 0.0),
    Scenario("API 300 ms, defaults", 0.3),
    Scenario("API 300 ms, WORKERS=16, DASHSCOPE_CONCURRENCY=16", 0.3, workers=16),
    Scenario("API 300 ms, one chat, defaults", 0.3, chats=1),
)


def photos(count: int) -> list[bytes]:
    return [picture(COLOUR_NAMES[n % 4], seed=n) for n in range(count)]


def groups(count: int, offset: int = 0) -> list[Chat]:
    return [Chat(id=-1007000000000 - offset - n, type="supergroup", title=f"Bench {n}") for n in range(count)]


def post(tg: FakeBotAPI, images: list[bytes], chats: list[Chat]) -> None:
    """Each photo under a fixed file_unique_id, so that posting it again elsewhere is the same Telegram file."""
    for n, image in enumerate(images):
        tg.send_photo(chats[n % len(chats)], POSTER, image, file_unique_id=f"bench-{n}")


def bench_environment(tg: FakeBotAPI, ds: FakeDashScope, db: Path, scenario: Scenario) -> dict[str, str]:
    extra = {"LOG_LEVEL": "WARNING", "DASHSCOPE_RPM": "100000", "GROUP_ALERTS_PER_MINUTE": "20",
             "DAILY_CHAT_REQUEST_CAP": "1000000", "DAILY_USER_REQUEST_CAP": "1000000"}
    if scenario.workers is not None:
        extra |= {"WORKERS": str(scenario.workers), "DASHSCOPE_CONCURRENCY": str(scenario.workers)}
    return bot_environment(tg, ds, db, **extra)


async def run_scenario(scenario: Scenario, images: list[bytes], chat_count: int, resend: bool) -> Throughput:
    chats = groups(scenario.chats or chat_count)
    with tempfile.TemporaryDirectory() as folder, FakeBotAPI(token=TOKEN) as tg, FakeDashScope(api_key=API_KEY) as ds:
        env = bench_environment(tg, ds, Path(folder) / "bench.db", scenario)
        settings = load_settings(env, dotenv_path=Path(folder) / "absent.env")
        async with running_bot(settings, tg, ds) as bot:
            ds.latency = scenario.latency
            started = time.perf_counter()
            await asyncio.to_thread(post, tg, images, chats)  # people post from elsewhere, not on the bot's loop
            await bot.settle(timeout=600)
            seconds = time.perf_counter() - started
            requests = len(ds.embed_requests)
            resent = None
            if resend:
                await asyncio.to_thread(post, tg, images, groups(len(chats), offset=1000))
                await bot.settle(timeout=600)
                resent = (len(ds.embed_requests) - requests) / len(images)
            stored = sum([len(await bot.services.indexes.get(chat.id)) for chat in chats])
    if stored != len(images):
        raise SystemExit(f"{scenario.name}: {stored} of {len(images)} photos stored")
    return Throughput(scenario, len(chats), len(images), seconds, requests / len(images), resent)


# ---- queue memory --------------------------------------------------------------------------------------------------


def rss_bytes() -> int:
    """Resident set size of this process now (Linux), not the peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def database_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def typical_photo(chat_id: int, message_id: int) -> IncomingMedia:
    """What a photo message turns into: ids as long as Telegram's, a sender name, no caption."""
    file = FileRef(f"AgACAgIAAxkBAAI{message_id:08d}ZmVkY2JhOTg3NjU0MzIxMGFiY2RlZg", f"AQAD{message_id:08d}x", 184_320)
    return IncomingMedia(chat=ChatRef(chat_id, "supergroup", title="Bench"), message_id=message_id,
                         sender=Sender(42, "Alice Example", "en"), date=1_700_000_000 + message_id,
                         media=MediaRef(kind="photo", file=file))


@dataclass(frozen=True)
class QueueMemory:
    path: str
    jobs: int
    seconds: float
    rss_growth: int
    file_size: int


async def queue_through_repository(folder: Path, count: int) -> QueueMemory:
    db = folder / "repository.db"
    store = await Store.open(db)
    try:
        before, started = rss_bytes(), time.perf_counter()
        for n in range(count):
            incoming = typical_photo(-1008000000000 - n % 50, n + 1)
            await store.jobs.enqueue(job_key(incoming), incoming.chat.id, "ingest", incoming.to_payload(), now=0)
        seconds, growth = time.perf_counter() - started, rss_bytes() - before
        pending = await store.jobs.pending_count()
    finally:
        await store.close()
    assert pending == count
    return QueueMemory("JobRepository.enqueue", count, seconds, growth, database_bytes(db))


class NoTelegram:
    """The consumer is stopped, so nothing may reach Telegram."""

    async def download(self, file: FileRef) -> bytes:
        raise AssertionError("the queue was not supposed to be consumed")

    async def send(self, message: Outgoing) -> None:
        raise AssertionError("the queue was not supposed to be consumed")

    async def show_typing(self, chat_id: int) -> None:
        raise AssertionError("no command was supposed to run")


async def queue_through_services(folder: Path, count: int) -> QueueMemory:
    db = folder / "services.db"
    settings = Settings(telegram_bot_token=Secret(TOKEN), dashscope_api_key=Secret(API_KEY), database_path=db,
                        dashscope_base_url="http://127.0.0.1:9")
    services = await Services.start(settings, NoTelegram(), render)
    try:
        await services.runner.stop(0)  # nothing consumes: the queue only grows
        before, started = rss_bytes(), time.perf_counter()
        for n in range(count):
            await services.ingest.accept(typical_photo(-1009000000000 - n % 50, n + 1))
        seconds, growth = time.perf_counter() - started, rss_bytes() - before
        pending = await services.store.jobs.pending_count()
    finally:
        await services.stop()
        await services.close()
    assert pending == count
    return QueueMemory("IngestService.accept", count, seconds, growth, database_bytes(db))


# ---- report --------------------------------------------------------------------------------------------------------


def print_throughput(rows: list[Throughput]) -> None:
    print(f"{'scenario':<50} {'chats':>5} {'photos':>6} {'seconds':>8} {'items/s':>8} {'req/photo':>9} "
          f"{'req/re-sent':>11}")
    for row in rows:
        resent = f"{row.requests_per_resent_photo:.2f}" if row.requests_per_resent_photo is not None else "-"
        print(f"{row.scenario.name:<50} {row.chats:>5} {row.photos:>6} {row.seconds:>8.1f} {row.per_second:>8.1f} "
              f"{row.requests_per_photo:>9.2f} {resent:>11}")


def print_queue_memory(rows: list[QueueMemory]) -> None:
    print(f"\n{'pending jobs via':<24} {'jobs':>6} {'seconds':>8} {'RSS growth kB':>14} {'SQLite MB':>10} "
          f"{'bytes/job (file)':>17}")
    for row in rows:
        print(f"{row.path:<24} {row.jobs:>6} {row.seconds:>8.1f} {row.rss_growth / 1024:>14.0f} "
              f"{row.file_size / 1e6:>10.1f} {row.file_size / row.jobs:>17.0f}")


QUEUE_PATHS = {"repository": queue_through_repository, "services": queue_through_services}


async def measure_queue(path: str, count: int) -> None:
    """One queue measurement, in this (fresh) process, printed as JSON for the parent."""
    with tempfile.TemporaryDirectory() as folder:
        print(json.dumps(asdict(await QUEUE_PATHS[path](Path(folder), count))))


def queue_in_fresh_process(path: str, count: int) -> QueueMemory:
    """A process of its own, so that memory left over from the throughput runs cannot hide (or add to) the growth."""
    output = subprocess.run([sys.executable, "-m", "bench.ingest", "--measure-queue", path, "--pending", str(count)],
                            check=True, capture_output=True, text=True).stdout
    return QueueMemory(**json.loads(output))


async def throughput(args: argparse.Namespace) -> list[Throughput]:
    images = photos(args.photos)
    rows = []
    for number, scenario in enumerate(SCENARIOS):
        count = args.photos if scenario.chats is None else min(args.photos, args.one_chat_photos)
        rows.append(await run_scenario(scenario, images[:count], args.chats, resend=number == 0))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=300)
    parser.add_argument("--chats", type=int, default=20)
    parser.add_argument("--one-chat-photos", type=int, default=30, help="photos in the one-chat scenario")
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--measure-queue", choices=QUEUE_PATHS, help=argparse.SUPPRESS)  # internal: one measurement
    args = parser.parse_args()
    if args.measure_queue:
        asyncio.run(measure_queue(args.measure_queue, args.pending))
        return
    print_throughput(asyncio.run(throughput(args)))
    print_queue_memory([queue_in_fresh_process(path, args.pending) for path in QUEUE_PATHS])


if __name__ == "__main__":
    main()
