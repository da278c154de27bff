"""import-history through the fake DashScope: what is stored, what is counted, what is refused, and reruns."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bot.config import Settings
from bot.core.importer import IMPORTED_FILE_ID
from bot.history import EXIT_BAD_INPUT, EXIT_DONE, EXIT_STOPPED, parse_args, run
from bot.wiring import open_store
from storage.models import FACET_MEDIA
from tests.fakes.dashscope import FakeDashScope
from tests.media_samples import garbage, video
from tests.pictures import picture
from tests.support.exports import LEFT_OUT, ExportBuilder, whole_account
from tests.support.storage import new_item, run_sql

CHAT_ID = -1001234567890


async def import_history(settings: Settings, *argv: str) -> int:
    return await run(parse_args(list(argv)), settings)


async def stored(settings: Settings, chat_id: int = CHAT_ID) -> dict[int, tuple[object, ...]]:
    store = await open_store(settings)
    try:
        rows = await run_sql(store, "SELECT message_id, kind, sender_id, sender_name, date, file_id, caption, route "
                                    "FROM items WHERE chat_id = $1 ORDER BY message_id", chat_id)
    finally:
        await store.close()
    return {int(row[0]): tuple(row[1:]) for row in rows}


def sample_export(folder: Path) -> ExportBuilder:
    export = ExportBuilder(folder)
    export.service(1)
    export.photo(2, picture("red", seed=1), text="sunset over the harbour")
    export.message(3, text="only words")
    export.photo(4, picture("blue", seed=2), sender="Bob", from_id="user1002")
    export.file(5, video(seconds=1.0), "clip.mp4", media_type="video_file", mime_type="video/mp4",
                folder="video_files", duration_seconds=1)
    export.message(6, photo=LEFT_OUT)
    export.file(7, b"OggS" + b"\0" * 100, "v.ogg", media_type="voice_message", mime_type="audio/ogg")
    return export


async def test_every_media_message_is_stored_with_its_message_id_sender_and_date(
        make_settings, fake_ds: FakeDashScope, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = make_settings()
    folder = sample_export(tmp_path / "export").write()
    assert await import_history(settings, str(folder)) == EXIT_DONE
    items = await stored(settings)
    assert items == {
        2: ("photo", 1001, "Alice", 1_600_000_002, IMPORTED_FILE_ID, "sunset over the harbour", "image"),
        4: ("photo", 1002, "Bob", 1_600_000_004, IMPORTED_FILE_ID, None, "image"),
        5: ("video", 1001, "Alice", 1_600_000_005, IMPORTED_FILE_ID, None, "video"),
    }
    assert len(fake_ds.embed_requests) == 3
    out = capsys.readouterr().out
    assert f"chat id {CHAT_ID}" in out
    for line in ("imported: 3", "without file: 1", "unsupported: 1", "not media (text, service): 2", "failed: 0"):
        assert line in out


async def test_a_second_run_imports_nothing_twice_and_calls_no_api(
        make_settings, fake_ds: FakeDashScope, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = make_settings()
    folder = sample_export(tmp_path / "export").write()
    await import_history(settings, str(folder))
    calls = len(fake_ds.embed_requests)
    assert await import_history(settings, str(folder / "result.json")) == EXIT_DONE
    assert len(fake_ds.embed_requests) == calls
    assert "skipped as already present: 3" in capsys.readouterr().out
    assert len(await stored(settings)) == 3


async def test_a_message_seen_live_is_not_imported_again(make_settings, fake_ds: FakeDashScope, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    settings = make_settings()
    store = await open_store(settings)
    live = replace(new_item(CHAT_ID, 2, model="multimodal-embedding-v1"), file_id="telegram-file-id")
    await store.items.add(live, {FACET_MEDIA: np.ones(1024)})
    await store.close()
    folder = sample_export(tmp_path / "export").write()
    assert await import_history(settings, str(folder)) == EXIT_DONE
    assert (await stored(settings))[2][4] == "telegram-file-id"
    assert "imported: 2" in capsys.readouterr().out and len(fake_ds.embed_requests) == 2


async def test_chat_id_override_files_the_chat_elsewhere(make_settings, tmp_path: Path) -> None:
    settings = make_settings()
    folder = sample_export(tmp_path / "export").write()
    assert await import_history(settings, str(folder), "--chat-id", "-1009999") == EXIT_DONE
    assert len(await stored(settings, -1009999)) == 3
    assert await stored(settings) == {}


async def test_whole_account_export_imports_the_chat_picked_by_id(make_settings, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    settings = make_settings()
    first, second = ExportBuilder(tmp_path / "export"), ExportBuilder(tmp_path / "export")
    first.photo(10, picture("red", seed=3))
    second.photo(20, picture("green", seed=4))
    first.files.update(second.files)
    saved = {"name": "Saved Messages", "type": "saved_messages", "id": 1, "messages": []}
    folder = first.write(whole_account(saved, first.chat(name="A", chat_id=111),
                                       second.chat(name="B", chat_type="private_group", chat_id=222)))
    assert await import_history(settings, str(folder), "--chat-id", "-222") == EXIT_DONE
    assert list(await stored(settings, -222)) == [20]
    assert await stored(settings, -100111) == {}
    out = capsys.readouterr().out
    assert "passing over chat 'A'" in out and "not the --chat-id asked for" in out
    assert "passing over chat 'Saved Messages' (saved_messages): not a chat a bot can be in" in out


async def test_whole_account_export_without_chat_id_imports_the_chats_the_bot_knows(
        make_settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = make_settings()
    store = await open_store(settings)
    await store.chats.update_settings(-100111, alert_stickers=True)
    await store.close()
    first, second = ExportBuilder(tmp_path / "export"), ExportBuilder(tmp_path / "export")
    first.photo(10, picture("red", seed=5))
    second.photo(20, picture("green", seed=6))
    first.files.update(second.files)
    folder = first.write(whole_account(first.chat(name="A", chat_id=111), second.chat(name="B", chat_id=222)))
    assert await import_history(settings, str(folder)) == EXIT_DONE
    assert list(await stored(settings, -100111)) == [10]
    assert await stored(settings, -100222) == {}
    assert "passing over chat 'B' (private_supergroup): not known to the bot" in capsys.readouterr().out


async def test_whole_account_export_with_nothing_to_pick_is_bad_input(make_settings, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    export = ExportBuilder(tmp_path / "export")
    export.photo(10, picture("red", seed=7))
    folder = export.write(whole_account(export.chat(chat_id=111)))
    assert await import_history(make_settings(), str(folder)) == EXIT_BAD_INPUT
    assert "pass --chat-id" in capsys.readouterr().err


async def test_dry_run_counts_and_estimates_without_any_api_call(
        make_settings, fake_ds: FakeDashScope, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = make_settings(DASHSCOPE_RPM="120")
    folder = sample_export(tmp_path / "export").write()
    assert await import_history(settings, str(folder), "--dry-run") == EXIT_DONE
    assert fake_ds.requests == []
    assert await stored(settings) == {}
    out = capsys.readouterr().out
    assert "photo 3" in out and "service 1" in out and "video 1" in out and "voice 1" in out
    assert "media files present: 3" in out and "exported without their file: 1" in out
    assert "API requests: 3" in out
    # two 640×480 pictures sent as they are: 23 × 18 patches of 28 px each; the caption's 4 words ≈ 6 tokens
    assert "tokens (estimated): 828 image, 6 text; video: 1 s" in out
    assert "time at IMPORT_RPM=60: 0 min 3 s" in out


async def test_bad_media_is_counted_with_its_reason_and_the_rest_imported(
        make_settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = make_settings()
    export = ExportBuilder(tmp_path / "export")
    export.photo(1, garbage())
    export.file(6, picture("red", seed=9)[:400], "broken.jpg", media_type=None, mime_type="image/jpeg")
    export.message(2, photo="photos/missing.jpg")
    export.message(3, photo="../outside.jpg")
    (tmp_path / "outside.jpg").write_bytes(picture("red", seed=8))
    export.message(4, photo=str(tmp_path / "outside.jpg"))
    export.photo(5, picture("green", seed=9))
    folder = export.write()
    assert await import_history(settings, str(folder)) == EXIT_DONE
    assert list(await stored(settings)) == [5]
    out = capsys.readouterr().out
    assert "unsupported: 1" in out and "failed: 4" in out
    assert "'photos/missing.jpg' is missing from the export" in out
    assert "'../outside.jpg' points outside the export folder: refused" in out
    assert f"'{tmp_path / 'outside.jpg'}' points outside the export folder: refused" in out
    assert "cannot parse the image header" in out


async def test_truncated_export_keeps_what_came_before_the_break(
        make_settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = make_settings()
    export = ExportBuilder(tmp_path / "export")
    for message_id in range(1, 5):
        export.photo(message_id, picture("red", seed=10 + message_id))
    folder = export.write()
    text = (folder / "result.json").read_text()
    (folder / "result.json").write_text(text[:text.index('"id": 4')])
    assert await import_history(settings, str(folder)) == EXIT_BAD_INPUT
    assert list(await stored(settings)) == [1, 2, 3]
    captured = capsys.readouterr()
    assert "after 3 messages (last message id 3); the file breaks off there" in captured.err
    assert "everything before it is kept" in captured.err and "imported: 3" in captured.out


@pytest.mark.parametrize(("setup", "expected"), [
    ("missing", "no such file"),
    ("not_json", "not a JSON export"),
    ("saved", "saved_messages"),
])
async def test_unreadable_exports_get_one_line_and_exit_2(
        make_settings, tmp_path: Path, capsys: pytest.CaptureFixture[str], setup: str, expected: str) -> None:
    folder = tmp_path / "export"
    if setup == "not_json":
        folder.mkdir()
        (folder / "result.json").write_text("<html>not an export</html>")
    elif setup == "saved":
        export = ExportBuilder(folder)
        export.photo(1, picture("red", seed=20))
        export.write(export.chat(name="Saved Messages", chat_type="saved_messages"))
    assert await import_history(make_settings(), str(folder)) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1 and "Traceback" not in err


async def test_daily_caps_stop_the_run_unless_lifted(make_settings, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    settings = make_settings(DAILY_CHAT_REQUEST_CAP="2")
    folder = sample_export(tmp_path / "export").write()
    assert await import_history(settings, str(folder)) == EXIT_STOPPED
    assert list(await stored(settings)) == [2, 4]
    assert "daily request cap" in capsys.readouterr().err
    assert await import_history(settings, str(folder), "--ignore-caps") == EXIT_DONE
    assert list(await stored(settings)) == [2, 4, 5]


async def test_import_waits_while_the_live_bot_has_due_jobs(make_settings, tmp_path: Path) -> None:
    """A job of the running bot is due: the import sends nothing until it is done."""
    settings = make_settings()
    folder = sample_export(tmp_path / "export").write()
    store = await open_store(settings)
    job = await store.jobs.enqueue("ingest:-1:1", -1, "ingest", {}, now=int(time.time()))
    assert job is not None
    task = asyncio.create_task(import_history(settings, str(folder)))
    await asyncio.sleep(1.5)
    assert await stored(settings) == {} and not task.done()
    await store.jobs.complete(job.id)
    assert await asyncio.wait_for(task, 20) == EXIT_DONE
    await store.close()
    assert len(await stored(settings)) == 3


async def test_off_a_terminal_progress_goes_to_periodic_log_lines(
        make_settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr("bot.history.PROGRESS_LOG_SECONDS", 0.0)
    folder = sample_export(tmp_path / "export").write()
    with caplog.at_level("INFO", logger="bot.history"):
        assert await import_history(make_settings(), str(folder)) == EXIT_DONE
    lines = [record for record in caplog.records if record.getMessage() == "import progress"]
    assert lines and lines[-1].__dict__["done"] == 3 and lines[-1].__dict__["total"] == 3


async def test_a_forgotten_message_is_not_imported_again(make_settings, fake_ds: FakeDashScope, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    settings = make_settings()
    folder = sample_export(tmp_path / "export").write()
    await import_history(settings, str(folder))
    store = await open_store(settings)
    try:
        item = await store.items.by_message(CHAT_ID, 2)
        assert item is not None
        await store.items.forget([item], now=int(time.time()))
    finally:
        await store.close()
    calls = len(fake_ds.embed_requests)
    assert await import_history(settings, str(folder)) == EXIT_DONE
    assert "skipped as deleted on request: 1" in capsys.readouterr().out
    assert sorted(await stored(settings)) == [4, 5] and len(fake_ds.embed_requests) == calls
