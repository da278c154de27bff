"""`kill -9` at random points while 1 000 photos are ingested: nothing lost, nothing duplicated, no reply twice.

The bot runs as `python -m bot` (tests/test_process.py) against both fakes and the same DATABASE_URL every time.
Photos go to several groups at once (so that the worker pool is busy), a few of them reposts of earlier ones so
that replies are due. The counts are printed: `pytest -s tests/test_crash.py` shows them.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import bot_environment
from tests.fakes.dashscope import FakeDashScope
from tests.fakes.telegram import Chat, FakeBotAPI, User
from tests.pictures import picture
from tests.test_process import ROOT

pytestmark = pytest.mark.slow  # crash tests: the bot as a subprocess, killed with SIGKILL

PHOTOS = 1000
GROUPS = tuple(Chat(id=-1003000000000 - n, type="supergroup", title=f"Crash {n}") for n in range(5))
POSTER = User(id=71, first_name="Poster")
REPOST_EVERY = 20  # every 20th photo of a group is an identical repost of an earlier one there: 50 alerts due
KILLS = 4
SEED = 20240604
FINISH_SECONDS = 90
LOST_HINT = "updates were confirmed to Telegram (getUpdates offset) before their handlers had stored a job"


@dataclass(frozen=True)
class Posted:
    chat_id: int
    message_id: int
    is_repost: bool


def small_photo(n: int) -> bytes:
    colour = ("red", "green", "blue", "yellow")[n % 4]
    return picture(colour, seed=n, size=(160, 120))


def post_photos(tg: FakeBotAPI, posted: list[Posted], rng: random.Random) -> None:
    """People post at their own pace, whatever the bot is doing: 1 000 photos over a few seconds."""
    originals: dict[int, list[tuple[bytes, str]]] = {chat.id: [] for chat in GROUPS}
    for n in range(PHOTOS):
        chat = GROUPS[n % len(GROUPS)]
        earlier = originals[chat.id]
        if (n // len(GROUPS)) % REPOST_EVERY == REPOST_EVERY - 1:
            data, unique_id = rng.choice(earlier)
            message = tg.send_photo(chat, POSTER, data, file_unique_id=unique_id)
            posted.append(Posted(chat.id, message["message_id"], is_repost=True))
        else:
            unique_id = f"crash-{n}"
            data = small_photo(n)
            message = tg.send_photo(chat, POSTER, data, file_unique_id=unique_id)
            earlier.append((data, unique_id))
            posted.append(Posted(chat.id, message["message_id"], is_repost=False))
        if n % 50 == 49:
            time.sleep(0.15)


def stored_items(db: Path) -> Counter[tuple[int, int]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        rows = conn.execute("SELECT origin_chat_id, message_id FROM items").fetchall()
    return Counter((int(chat), int(message)) for chat, message in rows)


def job_states(db: Path) -> Counter[str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return Counter(str(state) for (state,) in conn.execute("SELECT state FROM jobs").fetchall())


def replies_per_message(tg: FakeBotAPI) -> Counter[tuple[int, int]]:
    """Successful alerts by the message they answer (failed sends are not in sent_messages)."""
    replies: Counter[tuple[int, int]] = Counter()
    for message in tg.sent_messages():
        reply = message["params"].get("reply_parameters") or {}
        if message["method"] == "sendPhoto" and "message_id" in reply:
            replies[(message["chat"]["id"], int(reply["message_id"]))] += 1
    return replies


def start_bot(env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[str]:
    """Like tests/test_process.py, but the log goes to a file: a pipe nobody reads would block the bot."""
    full = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env}
    with log.open("a") as stderr:
        return subprocess.Popen([sys.executable, "-m", "bot"], cwd=cwd, env=full, stdout=subprocess.DEVNULL,
                                stderr=stderr, text=True)


def kill_hard(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def stop_gently(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=30)


def wait_until(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.timeout(240)
def test_kill_9_while_ingesting_loses_and_duplicates_nothing(
    tmp_path: Path, fake_tg: FakeBotAPI, fake_ds: FakeDashScope
) -> None:
    rng = random.Random(SEED)
    db = tmp_path / "data" / "bot.db"
    env = bot_environment(fake_tg, fake_ds, db, LOG_LEVEL="WARNING", GROUP_ALERTS_PER_MINUTE="1000",
                          DAILY_CHAT_REQUEST_CAP="100000", DAILY_USER_REQUEST_CAP="100000")
    log_path = tmp_path / "bot.log"
    posted: list[Posted] = []
    poster = threading.Thread(target=post_photos, args=(fake_tg, posted, rng), name="poster")

    def launch() -> subprocess.Popen[str]:
        """A new process, returned once it polls Telegram: a kill should hit a bot at work, not one importing."""
        polls = len(fake_tg.calls("getUpdates"))
        proc = start_bot(env, tmp_path, log_path)
        fake_tg.wait_for_sync(lambda: len(fake_tg.calls("getUpdates")) > polls, timeout=30)
        return proc

    started = time.monotonic()
    proc = launch()
    try:
        poster.start()
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.2, 2.5))
            kill_hard(proc)
            proc = launch()
        poster.join()
        expected = {(p.chat_id, p.message_id) for p in posted}
        done = wait_until(lambda: set(stored_items(db)) >= expected, FINISH_SECONDS)
        wait_until(lambda: job_states(db)["pending"] + job_states(db)["running"] == 0, 20)
        assert stop_gently(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    elapsed = time.monotonic() - started

    items = stored_items(db)
    replies = replies_per_message(fake_tg)
    reposts = [(p.chat_id, p.message_id) for p in posted if p.is_repost]
    lost = len(expected - set(items))
    duplicated_items = sum(count - 1 for count in items.values())
    duplicate_replies = sum(count - 1 for count in replies.values())
    missing_alerts = sum(1 for key in reposts if replies[key] == 0)
    print(
        f"\ncrash test: {len(posted)} photos, {KILLS} x kill -9, {elapsed:.1f} s; items {len(items)}, lost {lost}, "
        f"duplicated items {duplicated_items}, replies {sum(replies.values())} for {len(reposts)} reposts, "
        f"duplicate replies {duplicate_replies}, reposts without alert {missing_alerts}, jobs {dict(job_states(db))}"
    )
    assert done, "not every photo was stored in time"
    assert len(posted) == PHOTOS
    assert lost == 0, LOST_HINT
    assert duplicated_items == 0
    assert duplicate_replies == 0
    assert elapsed < 180


def test_kill_9_right_after_telegram_confirmed_a_batch_loses_nothing(
    tmp_path: Path, fake_tg: FakeBotAPI, fake_ds: FakeDashScope
) -> None:
    """The worst moment: Telegram forgets updates once a getUpdates call confirms them, so by then every one of them
    must be a job in SQLite, however many arrived in the batch."""
    db = tmp_path / "data" / "bot.db"
    env = bot_environment(fake_tg, fake_ds, db, LOG_LEVEL="WARNING")
    proc = start_bot(env, tmp_path, tmp_path / "bot.log")
    try:
        fake_tg.wait_for_sync(lambda: fake_tg.calls("getUpdates"), timeout=30)
        posted = [fake_tg.send_photo(GROUPS[n % len(GROUPS)], POSTER, small_photo(n)) for n in range(100)]
        last = fake_tg.last_update_id()
        fake_tg.wait_for_sync(lambda: fake_tg.confirmed_offset() > last, timeout=30)
        kill_hard(proc)
        proc = start_bot(env, tmp_path, tmp_path / "bot.log")
        expected = {(m["chat"]["id"], m["message_id"]) for m in posted}
        wait_until(lambda: set(stored_items(db)) >= expected, 30)
        assert len(expected - set(stored_items(db))) == 0, LOST_HINT
        assert stop_gently(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
