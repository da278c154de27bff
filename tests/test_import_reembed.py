"""Imported history after a change of model: each imported item records its file's path in the export, and
import-history (run again, or with --reembed from the recorded paths) re-embeds the items still on an older model,
staged for the running bot's switch, within the import's budget rules."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.history import EXIT_DONE, parse_args, run
from bot.wiring import open_store
from tests.fakes.dashscope import V1_MODEL, FakeDashScope
from tests.pictures import picture
from tests.support.exports import ExportBuilder
from tests.support.storage import run_sql

CHAT_ID = -1001234567890
NEW_MODEL = "tongyi-embedding-vision-flash"
NEW_SPACE = f"{NEW_MODEL}@768"
OLD_SPACE = f"{V1_MODEL}@1024"
RED = "photos/photo_2@13-09-2020_12-26-40.jpg"


async def import_history(settings: Settings, *argv: str) -> int:
    return await run(parse_args(list(argv)), settings)


async def query(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    store = await open_store(settings)
    try:
        return await run_sql(store, sql)
    finally:
        await store.close()


def requests_of(ds: FakeDashScope, model: str) -> int:
    return sum(1 for r in ds.embed_requests if isinstance(r.json, dict) and r.json["model"] == model)


def three_pictures(folder: Path) -> ExportBuilder:
    export = ExportBuilder(folder)
    export.photo(2, picture("red", seed=1), text="sunset over the harbour")
    export.photo(3, picture("blue", seed=2), sender="Bob", from_id="user1002")
    export.photo(4, picture("green", seed=3))
    return export


async def staged(settings: Settings) -> list[tuple[Any, ...]]:
    return await query(settings, "SELECT i.message_id, r.model, r.state, dims(r.media) FROM reembedded AS r "
                                 "JOIN items AS i ON i.id = r.item_id ORDER BY i.message_id")


@pytest.fixture
async def imported_on_v1(make_settings: Any, tmp_path: Path) -> tuple[ExportBuilder, Path]:
    export = three_pictures(tmp_path / "export")
    folder = export.write()
    assert await import_history(make_settings(), str(folder)) == EXIT_DONE
    return export, folder


async def test_each_imported_item_records_where_its_file_is_in_the_export(
        make_settings: Any, imported_on_v1: tuple[ExportBuilder, Path]) -> None:
    assert await query(make_settings(), "SELECT message_id, source_path, model FROM items ORDER BY message_id") == [
        (2, RED, OLD_SPACE), (3, "photos/photo_3@13-09-2020_12-26-40.jpg", OLD_SPACE),
        (4, "photos/photo_4@13-09-2020_12-26-40.jpg", OLD_SPACE)]


async def test_importing_again_after_a_model_switch_stages_the_old_items_for_the_new_model(
        make_settings: Any, fake_ds: FakeDashScope, imported_on_v1: tuple[ExportBuilder, Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    _export, folder = imported_on_v1
    settings = make_settings(EMBEDDING_MODEL=NEW_MODEL)
    capsys.readouterr()
    assert await import_history(settings, str(folder)) == EXIT_DONE
    assert requests_of(fake_ds, NEW_MODEL) == 3
    assert await staged(settings) == [(m, NEW_SPACE, "ready", 768) for m in (2, 3, 4)]
    # Staged, not switched: the items keep their v1 vectors until the running bot switches the chat.
    assert await query(settings, "SELECT DISTINCT model FROM vectors") == [(OLD_SPACE,)]
    out = capsys.readouterr().out
    assert "re-embedded for the configured model: 3" in out and "imported: 0" in out
    # A third run finds them staged: nothing is paid twice.
    assert await import_history(settings, str(folder)) == EXIT_DONE
    assert requests_of(fake_ds, NEW_MODEL) == 3
    assert "skipped as already present: 3" in capsys.readouterr().out


async def test_reembed_reads_the_recorded_paths_and_imports_nothing_new(
        make_settings: Any, fake_ds: FakeDashScope, imported_on_v1: tuple[ExportBuilder, Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    export, _folder = imported_on_v1
    export.photo(5, picture("yellow", seed=4))  # a message the first import did not see
    folder = export.write()
    settings = make_settings(EMBEDDING_MODEL=NEW_MODEL)
    assert await import_history(settings, str(folder), "--reembed") == EXIT_DONE
    assert [row[:3] for row in await staged(settings)] == [(m, NEW_SPACE, "ready") for m in (2, 3, 4)]
    assert await query(settings, "SELECT count(*) FROM items") == [(3,)]
    assert requests_of(fake_ds, NEW_MODEL) == 3
    assert "re-embedded for the configured model: 3" in capsys.readouterr().out


async def test_a_missing_or_different_file_is_counted_and_the_rest_staged(
        make_settings: Any, fake_ds: FakeDashScope, imported_on_v1: tuple[ExportBuilder, Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    _export, folder = imported_on_v1
    (folder / RED).write_bytes(picture("yellow", seed=9))  # another file where the imported one was
    (folder / "photos/photo_3@13-09-2020_12-26-40.jpg").unlink()
    settings = make_settings(EMBEDDING_MODEL=NEW_MODEL)
    capsys.readouterr()
    assert await import_history(settings, str(folder), "--reembed") == EXIT_DONE
    assert [row[0] for row in await staged(settings)] == [4]
    assert requests_of(fake_ds, NEW_MODEL) == 1
    out = capsys.readouterr().out
    assert "failed: 2" in out and "is not the file imported for message 2" in out and "is missing" in out


async def test_items_imported_before_paths_were_recorded_are_counted_then_found_by_a_plain_import(
        make_settings: Any, fake_ds: FakeDashScope, imported_on_v1: tuple[ExportBuilder, Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    _export, folder = imported_on_v1
    store = await open_store(make_settings())
    await run_sql(store, "UPDATE items SET source_path = NULL")  # as an import by an older version left them
    await store.close()
    settings = make_settings(EMBEDDING_MODEL=NEW_MODEL)
    capsys.readouterr()
    assert await import_history(settings, str(folder), "--reembed") == EXIT_DONE
    assert await staged(settings) == [] and requests_of(fake_ds, NEW_MODEL) == 0
    assert "imported before file paths were recorded (kept on their old model): 3" in capsys.readouterr().out
    assert await import_history(settings, str(folder)) == EXIT_DONE
    assert [row[0] for row in await staged(settings)] == [2, 3, 4]
    assert (RED,) in await query(settings, "SELECT source_path FROM items")


async def test_reembedding_waits_for_live_jobs_like_the_import(
        make_settings: Any, fake_ds: FakeDashScope, imported_on_v1: tuple[ExportBuilder, Path]) -> None:
    _export, folder = imported_on_v1
    settings = make_settings(EMBEDDING_MODEL=NEW_MODEL)
    store = await open_store(settings)
    await store.jobs.enqueue("live-1", CHAT_ID, "media", {}, now=0)  # a person waiting on the running bot
    await store.close()
    task = asyncio.create_task(import_history(settings, str(folder), "--reembed"))
    await asyncio.sleep(1.0)
    assert not task.done() and requests_of(fake_ds, NEW_MODEL) == 0
    store = await open_store(settings)
    (job,) = await store.jobs.claim(now=int(time.time()), limit=1)
    await store.jobs.complete(job.id)
    await store.close()
    assert await task == EXIT_DONE and requests_of(fake_ds, NEW_MODEL) == 3


async def test_a_dry_run_counts_the_items_to_reembed_and_their_requests(
        make_settings: Any, fake_ds: FakeDashScope, imported_on_v1: tuple[ExportBuilder, Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    _export, folder = imported_on_v1
    capsys.readouterr()
    assert await import_history(make_settings(EMBEDDING_MODEL=NEW_MODEL), str(folder), "--dry-run") == EXIT_DONE
    out = capsys.readouterr().out
    assert "already imported or seen live: 0; imported on an older model, to re-embed: 3" in out
    assert "API requests: 3" in out and requests_of(fake_ds, NEW_MODEL) == 0
    assert await import_history(make_settings(), str(folder), "--dry-run") == EXIT_DONE  # on the same model
    out = capsys.readouterr().out
    assert "already imported or seen live: 3; imported on an older model, to re-embed: 0" in out
    assert "API requests: 0" in out
