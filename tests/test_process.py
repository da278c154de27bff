"""`python -m bot` as operators run it: a real process, real signals, the fakes on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import API_KEY, TOKEN, bot_environment
from tests.fakes.dashscope import FakeDashScope
from tests.fakes.telegram import Chat, FakeBotAPI, User
from tests.pictures import picture
from tests.support.ports import free_port

pytestmark = pytest.mark.slow  # each test starts the bot as a subprocess

ROOT = Path(__file__).resolve().parents[1]


def start_bot(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    """`python -m bot` with `args` (e.g. `import-history PATH`)."""
    full = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env}
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def drained(proc: subprocess.Popen[str]) -> Callable[[], str]:
    """Read the child's stderr while it runs: at DEBUG the bot logs more than a pipe holds (64 KiB), and a full pipe
    blocks the logging thread that writes to it (and with it the bot) until someone reads. Returns what was read,
    once the process has ended."""
    assert proc.stderr is not None
    chunks: list[str] = []
    reader = threading.Thread(target=lambda: chunks.extend(proc.stderr or ()), daemon=True)
    reader.start()

    def collected() -> str:
        reader.join(timeout=30)
        return "".join(chunks)

    return collected


def test_missing_variable_is_one_clear_line(tmp_path: Path) -> None:
    proc = start_bot({"DASHSCOPE_API_KEY": "sk-x"}, tmp_path)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert err == "configuration error: TELEGRAM_BOT_TOKEN is required (see .env.example)\n"


def test_malformed_variable_is_one_clear_line_pointing_at_the_example(tmp_path: Path) -> None:
    proc = start_bot({"TELEGRAM_BOT_TOKEN": TOKEN, "DASHSCOPE_API_KEY": "sk-x", "JOB_RETENTION_DAYS": "soon"}, tmp_path)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert err.startswith("configuration error: JOB_RETENTION_DAYS is malformed: ")
    assert err.endswith(" (see .env.example)\n") and err.count("\n") == 1
    assert TOKEN not in err


def test_rejected_token_exits_3(tmp_path: Path, fake_ds: FakeDashScope) -> None:
    with FakeBotAPI(token="999999:the-real-one") as telegram:
        proc = start_bot(bot_environment(telegram, fake_ds, tmp_path / "bot.db"), tmp_path)
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err[-2000:]
    last = json.loads(err.splitlines()[-1])
    assert (last["level"], last["msg"]) == ("ERROR", "Telegram rejected TELEGRAM_BOT_TOKEN")
    assert TOKEN not in err and TOKEN.replace(":", "%3A") not in err


def test_sigterm_finishes_work_and_exits_zero(
    tmp_path: Path, fake_tg: FakeBotAPI, fake_ds: FakeDashScope
) -> None:
    db = tmp_path / "data" / "bot.db"
    proc = start_bot(bot_environment(fake_tg, fake_ds, db, LOG_LEVEL="DEBUG"), tmp_path)
    stderr = drained(proc)
    try:
        fake_tg.wait_for_sync(lambda: fake_tg.calls("getUpdates"), timeout=30)
        group = Chat(id=-1001000000001, type="supergroup", title="G")
        fake_tg.send_photo(group, User(id=1, first_name="A"), picture("red", seed=1))
        fake_tg.wait_for_sync(lambda: fake_ds.embed_requests, timeout=30)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = stderr()
    assert proc.returncode == 0, err[-2000:]
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(line["msg"] == "bot stopped" for line in lines)
    assert TOKEN not in err and TOKEN.replace(":", "%3A") not in err and API_KEY not in err
    assert db.exists()


def test_a_second_bot_on_the_same_sqlite_database_refuses_to_start(
    tmp_path: Path, fake_tg: FakeBotAPI, fake_ds: FakeDashScope
) -> None:
    env = bot_environment(fake_tg, fake_ds, tmp_path / "data" / "bot.db")
    first = start_bot(env, tmp_path)
    try:
        fake_tg.wait_for_sync(lambda: fake_tg.calls("getUpdates"), timeout=30)
        second = start_bot(env, tmp_path)
        _out, err = second.communicate(timeout=30)
        assert second.returncode == 4
        assert err.startswith("another mediabot process already serves ") and err.count("\n") == 1
        assert first.poll() is None  # the first one serves on, untouched
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)
    assert first.returncode == 0
    polled = len(fake_tg.calls("getUpdates"))
    third = start_bot(env, tmp_path)  # the lock went with the first process
    try:
        fake_tg.wait_for_sync(lambda: len(fake_tg.calls("getUpdates")) > polled, timeout=30)
        assert third.poll() is None
    finally:
        third.send_signal(signal.SIGTERM)
        third.communicate(timeout=30)


def test_an_unreachable_postgresql_exits_5_with_one_line_that_hides_the_password(
    tmp_path: Path, fake_tg: FakeBotAPI, fake_ds: FakeDashScope
) -> None:
    password = "pw-never-logged-7Qx"
    database = f"postgresql://mediabot:{password}@127.0.0.1:{free_port()}/mediabot"
    proc = start_bot(bot_environment(fake_tg, fake_ds, tmp_path / "bot.db", DATABASE_URL=database,
                                     LOG_LEVEL="INFO"), tmp_path)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 5, err[-2000:]
    last = json.loads(err.splitlines()[-1])
    assert last["level"] == "ERROR"
    assert last["msg"].startswith(f"cannot reach the PostgreSQL database 127.0.0.1:{database.rsplit(':', 1)[1]}")
    assert password not in err and TOKEN not in err and API_KEY not in err
    assert not fake_tg.calls("getUpdates")  # nothing served without a database


def test_import_history_with_an_unreachable_postgresql_exits_5(tmp_path: Path, fake_ds: FakeDashScope) -> None:
    export = tmp_path / "export"
    export.mkdir()
    (export / "result.json").write_text(json.dumps(
        {"name": "G", "type": "private_supergroup", "id": 1234567890, "messages": []}))
    with FakeBotAPI() as telegram:
        env = bot_environment(telegram, fake_ds, tmp_path / "bot.db",
                              DATABASE_URL=f"postgresql://mediabot:secret-pw@127.0.0.1:{free_port()}/mediabot",
                              LOG_LEVEL="INFO")
        proc = start_bot(env, tmp_path, "import-history", str(export))
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 5, err[-2000:]
    assert err.startswith("import-history: cannot reach the PostgreSQL database 127.0.0.1:")
    assert err.count("\n") == 1 and "secret-pw" not in err


def test_telegram_unreachable_at_start_exits_6_with_a_clear_line(tmp_path: Path, fake_ds: FakeDashScope) -> None:
    with FakeBotAPI() as telegram:
        env = bot_environment(telegram, fake_ds, tmp_path / "bot.db", LOG_LEVEL="INFO",
                              TELEGRAM_API_URL=f"http://127.0.0.1:{free_port()}")
    proc = start_bot(env, tmp_path)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 6, err[-2000:]
    last = json.loads(err.splitlines()[-1])
    assert (last["level"], last["msg"]) == ("ERROR", "cannot reach Telegram")
    assert "Traceback" not in err.splitlines()[-1] and TOKEN not in err
