"""Re-embedding throughput, and the share of the request budget it leaves to live traffic during a burst.

Run ``python -m bench.reembed [--items 120] [--burst 30]``.

Method: the real bot in-process against both fakes (as tests/conftest.py does). A database of ``--items`` distinct
640x480 JPEG photos in 4 groups is built on ``multimodal-embedding-v1``; the bot is restarted on
``tongyi-embedding-vision-flash`` and the clock runs from start until every chat has switched.

* Throughput: with the fake API answering at once (0 ms) and after 300 ms, DASHSCOPE_RPM high (100 000) so that the
  pipeline itself is measured: each item is fetched from the fake Bot API, prepared, embedded, staged; one chat and
  one item at a time, so 300 ms bounds it to about 3 items/s.
* Burst: DASHSCOPE_RPM=120 (v1's published quota; 2 requests per second), API 50 ms. While the backlog is being
  re-embedded, ``--burst`` photos are posted at once to another group. Over the window from the first burst post to
  its last item stored, the live client's requests and the re-embedder's are counted: the share of the budget live
  traffic got, and how long the burst took compared with the same burst and no re-embedding.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bot.config import load_settings
from tests.conftest import API_KEY, TOKEN, RunningBot, bot_environment, running_bot
from tests.fakes.dashscope import FakeDashScope
from tests.fakes.telegram import Chat, FakeBotAPI, User
from tests.pictures import COLOURS, picture

NEW_MODEL = "tongyi-embedding-vision-flash"
POSTER = User(id=7, first_name="Poster")
GROUPS = [Chat(id=-1007100000000 - n, type="supergroup", title=f"Backlog {n}") for n in range(4)]
LIVE = Chat(id=-1007199999999, type="supergroup", title="Live")
COLOUR_NAMES = tuple(COLOURS)


@dataclass(frozen=True)
class Throughput:
    latency: float
    items: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.items / self.seconds


@dataclass(frozen=True)
class Burst:
    photos: int
    seconds: float
    seconds_alone: float
    live_requests: int
    background_requests: float

    @property
    def live_share(self) -> float:
        return self.live_requests / (self.live_requests + self.background_requests)


def post(tg: FakeBotAPI, chats: list[Chat], count: int, seed: int) -> None:
    for n in range(count):
        tg.send_photo(chats[n % len(chats)], POSTER, picture(COLOUR_NAMES[n % 4], seed=seed + n))


def environment(tg: FakeBotAPI, ds: FakeDashScope, db: Path, **extra: str) -> dict[str, str]:
    return bot_environment(tg, ds, db, LOG_LEVEL="WARNING", DAILY_CHAT_REQUEST_CAP="1000000",
                           DAILY_USER_REQUEST_CAP="1000000", **extra)


async def backlog_on_v1(tg: FakeBotAPI, ds: FakeDashScope, db: Path, items: int) -> None:
    """The chats' history on the old model. It stands for media posted long before the switch, so its requests are
    taken out of the shared request budget's record: left there, they would fill the restarted bot's first minute at
    DASHSCOPE_RPM=120 and the burst would measure that minute, not the re-embedding beside it."""
    settings = load_settings(environment(tg, ds, db, DASHSCOPE_RPM="100000"), dotenv_path=db.parent / "absent.env")
    async with running_bot(settings, tg, ds) as bot:
        await asyncio.to_thread(post, tg, GROUPS, items, 0)
        await bot.settle(timeout=600)
        async with bot.services.store.db.transaction() as conn:
            await conn.execute("DELETE FROM api_requests")


async def switched(bot: RunningBot) -> bool:
    backlog = await bot.services.store.reembedding.backlog(bot.services.reembedder.target)
    return all(chat.remaining == 0 and chat.staged == 0 for chat in backlog)


async def until_switched(bot: RunningBot) -> None:
    """Polled: the switch is a database state, with no event to wait on."""
    while True:
        if await switched(bot):
            return
        await asyncio.sleep(0.05)


async def throughput(latency: float, items: int) -> Throughput:
    with tempfile.TemporaryDirectory() as folder, FakeBotAPI(token=TOKEN) as tg, FakeDashScope(api_key=API_KEY) as ds:
        db = Path(folder) / "bench.db"
        await backlog_on_v1(tg, ds, db, items)
        ds.latency = latency
        env = environment(tg, ds, db, DASHSCOPE_RPM="100000", EMBEDDING_MODEL=NEW_MODEL)
        started = time.perf_counter()
        async with running_bot(load_settings(env, dotenv_path=Path(folder) / "absent.env"), tg, ds) as bot:
            await until_switched(bot)
            seconds = time.perf_counter() - started
    return Throughput(latency, items, seconds)


async def live_burst(bot: RunningBot, tg: FakeBotAPI, photos: int, seed: int) -> tuple[float, int, float]:
    """Seconds until the burst's items are stored, live requests and background requests in that window."""
    live_before, background_before = bot.services.client.requests_sent, bot.services.reembedder.requests
    started = time.perf_counter()
    await asyncio.to_thread(post, tg, [LIVE], photos, seed)
    await bot.settle(timeout=600)
    return (time.perf_counter() - started, bot.services.client.requests_sent - live_before,
            bot.services.reembedder.requests - background_before)


async def burst(items: int, photos: int) -> Burst:
    with tempfile.TemporaryDirectory() as folder, FakeBotAPI(token=TOKEN) as tg, FakeDashScope(api_key=API_KEY) as ds:
        db = Path(folder) / "bench.db"
        await backlog_on_v1(tg, ds, db, items)
        ds.latency = 0.05
        env = environment(tg, ds, db, DASHSCOPE_RPM="120", EMBEDDING_MODEL=NEW_MODEL)
        async with running_bot(load_settings(env, dotenv_path=Path(folder) / "absent.env"), tg, ds) as bot:
            await asyncio.sleep(3.0)  # re-embedding under way, its budget in use
            seconds, live, background = await live_burst(bot, tg, photos, 10_000)
            if await switched(bot):
                raise SystemExit("the backlog finished before the burst did: raise --items")
        alone_env = environment(tg, ds, Path(folder) / "alone.db", DASHSCOPE_RPM="120", EMBEDDING_MODEL=NEW_MODEL)
        async with running_bot(load_settings(alone_env, dotenv_path=Path(folder) / "absent.env"), tg, ds) as bot:
            alone, _, _ = await live_burst(bot, tg, photos, 20_000)
    return Burst(photos, seconds, alone, live, background)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=120)
    parser.add_argument("--burst", type=int, default=30)
    args = parser.parse_args()
    print("| fake API latency | items | seconds | items/s |\n|---|---|---|---|")
    for latency in (0.0, 0.3):
        result = await throughput(latency, args.items)
        print(f"| {latency * 1000:.0f} ms | {result.items} | {result.seconds:.1f} | {result.per_second:.1f} |")
    result = await burst(args.items, args.burst)
    print(f"\nburst of {result.photos} photos at DASHSCOPE_RPM=120 while re-embedding: {result.seconds:.1f} s "
          f"(alone: {result.seconds_alone:.1f} s); live requests {result.live_requests}, re-embedding "
          f"{result.background_requests:.0f}: live traffic got {result.live_share:.0%} of the budget used")


if __name__ == "__main__":
    asyncio.run(main())
