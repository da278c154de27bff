"""import-history: throughput with a zero-latency fake API, peak RSS on a 200 000-message result.json, dry-run time.

Run ``python -m bench.import_history [--photos 300] [--messages 200000] [--with-files 500]``.

Throughput: ``--photos`` distinct 640x480 JPEGs in a single-chat export are imported by ``python -m bot
import-history`` (a real process, as an operator runs it) against the fake DashScope with no latency and
IMPORT_RPM high enough not to be the limit; items/s = photos / wall time of the process (start-up included).

Memory: a result.json of ``--messages`` messages is generated, streamed to disk: mostly text messages (typical chat
lines with entity lists), every 40th a photo whose file was not exported, and ``--with-files`` photos (distinct
160x120 JPEGs) spread through it whose files are present. The import process's peak RSS (``ru_maxrss`` of that one
child, from ``os.wait4``) is reported with the file's size; then the same for ``--dry-run`` with its wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import API_KEY, TOKEN, bot_environment
from tests.fakes.dashscope import FakeDashScope
from tests.fakes.telegram import FakeBotAPI
from tests.pictures import COLOURS, picture
from tests.support.exports import LEFT_OUT

ROOT = Path(__file__).resolve().parents[1]
COLOUR_NAMES = tuple(COLOURS)


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_mb: float
    stdout: str


def run_import(env: dict[str, str], cwd: Path, *args: str) -> Run:
    full = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "bot", "import-history", *args], cwd=cwd, env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"import-history exited {proc.returncode}:\n{stdout}")
    return Run(seconds, usage.ru_maxrss / 1024, stdout)


def photo_export(folder: Path, photos: int) -> Path:
    (folder / "photos").mkdir(parents=True)
    messages = []
    for message_id in range(1, photos + 1):
        path = f"photos/photo_{message_id}.jpg"
        (folder / path).write_bytes(picture(COLOUR_NAMES[message_id % 4], seed=message_id))
        messages.append({"id": message_id, "type": "message", "date_unixtime": str(1_600_000_000 + message_id),
                         "from": "Alice", "from_id": "user1001", "photo": path, "text": ""})
    (folder / "result.json").write_text(json.dumps({"name": "Bench", "type": "private_supergroup", "id": 1,
                                                    "messages": messages}))
    return folder


def large_export(folder: Path, messages: int, with_files: int) -> Path:
    """Written message by message: the generator itself stays small too."""
    (folder / "photos").mkdir(parents=True)
    every = max(1, messages // max(with_files, 1))
    with (folder / "result.json").open("w", encoding="utf-8") as out:
        out.write('{"name": "Big group", "type": "private_supergroup", "id": 2, "messages": [\n')
        for message_id in range(1, messages + 1):
            message = _message(folder, message_id, with_file=message_id % every == 0)
            out.write(json.dumps(message, ensure_ascii=False))
            out.write(",\n" if message_id < messages else "\n")
        out.write("]}\n")
    return folder


def _message(folder: Path, message_id: int, *, with_file: bool) -> dict[str, object]:
    message: dict[str, object] = {
        "id": message_id, "type": "message", "date": "2021-05-01T10:00:00",
        "date_unixtime": str(1_620_000_000 + message_id), "from": f"Member {message_id % 300}",
        "from_id": f"user{10_000 + message_id % 300}",
        "text": ["see ", {"type": "link", "text": "https://example.org/page"}, f" about thing {message_id} 好的"],
        "text_entities": [{"type": "plain", "text": "see "}, {"type": "link", "text": "https://example.org/page"}],
    }
    if with_file:
        path = f"photos/photo_{message_id}.jpg"
        (folder / path).write_bytes(picture(COLOUR_NAMES[message_id % 4], seed=message_id, size=(160, 120)))
        message.update(photo=path, photo_file_size=(folder / path).stat().st_size, width=160, height=120)
    elif message_id % 40 == 0:
        message.update(photo=LEFT_OUT, width=1280, height=960)
    return message


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=300)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--with-files", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeBotAPI(token=TOKEN) as tg, FakeDashScope(api_key=API_KEY) as ds:
        root = Path(tmp)
        fast = {"IMPORT_RPM": "1000000", "DASHSCOPE_RPM": "1000000", "LOG_LEVEL": "WARNING"}

        env = bot_environment(tg, ds, root / "throughput.db", **fast)
        run = run_import(env, root, str(photo_export(root / "photos_export", args.photos)))
        print(f"throughput: {args.photos} photos in {run.seconds:.1f} s = {args.photos / run.seconds:.1f} items/s "
              f"(process start-up included; {len(ds.embed_requests)} API requests)")

        big = large_export(root / "big_export", args.messages, args.with_files)
        size_mb = (big / "result.json").stat().st_size / 1e6
        env = bot_environment(tg, ds, root / "big.db", **fast)
        dry = run_import(env, root, str(big), "--dry-run")
        print(f"dry run, {args.messages} messages ({size_mb:.0f} MB result.json): {dry.seconds:.1f} s, "
              f"peak RSS {dry.peak_rss_mb:.0f} MB")
        full = run_import(env, root, str(big))
        imported = next(line for line in full.stdout.splitlines() if line.startswith("imported:"))
        print(f"import, same file: {full.seconds:.1f} s, peak RSS {full.peak_rss_mb:.0f} MB ({imported})")


if __name__ == "__main__":
    main()
