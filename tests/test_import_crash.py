"""`python -m bot import-history` killed with SIGKILL mid-import, then run again: every message exactly once."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.conftest import bot_environment
from tests.fakes.dashscope import FakeDashScope
from tests.fakes.telegram import FakeBotAPI
from tests.pictures import picture
from tests.support.exports import ExportBuilder
from tests.test_process import start_bot

pytestmark = pytest.mark.slow  # real processes, a real SIGKILL

PHOTOS = 24


def stored_message_ids(db: Path) -> list[int]:
    if not db.exists():
        return []
    with sqlite3.connect(db, timeout=5) as conn:
        try:
            return [row[0] for row in conn.execute("SELECT message_id FROM items ORDER BY message_id")]
        except sqlite3.OperationalError:  # the schema is not there yet
            return []


def test_killed_import_resumes_and_stores_every_message_once(
        fake_tg: FakeBotAPI, fake_ds: FakeDashScope, tmp_path: Path) -> None:
    export = ExportBuilder(tmp_path / "export")
    for message_id in range(1, PHOTOS + 1):
        export.photo(message_id, picture(("red", "green", "blue", "yellow")[message_id % 4], seed=message_id))
        export.message(1000 + message_id, text="chatter between the pictures")
    folder = export.write()
    db = tmp_path / "data" / "bot.db"
    env = bot_environment(fake_tg, fake_ds, db, LOG_LEVEL="INFO")
    fake_ds.latency = 0.15

    first = start_bot(env, tmp_path, "import-history", str(folder))
    deadline = time.monotonic() + 60
    while len(stored_message_ids(db)) < PHOTOS // 3:
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "the import made no progress"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    before = stored_message_ids(db)
    assert 0 < len(before) < PHOTOS

    fake_ds.latency = 0.0
    second = start_bot(env, tmp_path, "import-history", str(folder))
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert stored_message_ids(db) == list(range(1, PHOTOS + 1))
    assert f"skipped as already present: {len(before)}" in out
    assert f"imported: {PHOTOS - len(before)}" in out
    assert len(fake_ds.embed_requests) <= PHOTOS + 1  # at most the one in flight at the kill is paid twice
