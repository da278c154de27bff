"""A chat with imported history moves to another model: the running bot switches its live items and keeps the
imported ones (it has no export to read them from), counted in /stats; import-history run again on the export stages
them for the new model, the bot switches them, and /search finds them again, by content and by caption."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.history import EXIT_DONE, parse_args, run
from tests.conftest import running_bot
from tests.fakes.dashscope import FakeDashScope
from tests.fakes.telegram import FakeBotAPI
from tests.pictures import picture
from tests.support.exports import ExportBuilder
from tests.test_e2e_core import texts
from tests.test_e2e_models import (
    ALICE,
    GROUP,
    NEW_MODEL,
    NEW_SPACE,
    OLD_SPACE,
    media_requests,
    operator_stats,
    rows,
    search_answer,
    until_switched,
)

pytestmark = pytest.mark.slow

BLUE_LINK = f"https://t.me/c/{str(GROUP.id)[4:]}/3"
SUNSET_LINK = f"https://t.me/c/{str(GROUP.id)[4:]}/2"


def exported(folder: Path) -> Path:
    export = ExportBuilder(folder)
    export.photo(2, picture("red", seed=41), text="sunset over the harbour")
    export.photo(3, picture("blue", seed=42), sender="Carol", from_id="user1003")
    return export.write(export.chat(name=GROUP.title or "", chat_id=int(str(GROUP.id)[4:])))


async def test_imported_history_follows_a_model_switch_through_import_history(
        make_settings: Any, fake_tg: FakeBotAPI, fake_ds: FakeDashScope, tmp_path: Path) -> None:
    folder = exported(tmp_path / "export")
    assert await run(parse_args([str(folder)]), make_settings()) == EXIT_DONE
    async with running_bot(make_settings(), fake_tg, fake_ds) as bot:
        bot.tg.send_photo(GROUP, ALICE, picture("green", seed=43))
        await bot.settle()
        assert BLUE_LINK in texts(await search_answer(bot, "blue"))

    new = make_settings(EMBEDDING_MODEL=NEW_MODEL)
    async with running_bot(new, fake_tg, fake_ds) as bot:
        await until_switched(bot)
        # The live item switched; the imported ones stay on v1 (no Telegram file), counted, and out of search.
        assert await rows(bot, "SELECT file_id = '', model FROM items ORDER BY id") == [
            (1, OLD_SPACE), (1, OLD_SPACE), (0, NEW_SPACE)]
        assert "2 items stay on the old model" in await operator_stats(bot)
        assert BLUE_LINK not in texts(await search_answer(bot, "blue"))

        # The operator runs the same import again, with the bot running: it re-reads the two files and stages them.
        before = len(media_requests(fake_ds, NEW_MODEL))
        assert await run(parse_args([str(folder)]), new) == EXIT_DONE
        assert len(media_requests(fake_ds, NEW_MODEL)) - before == 2
        # The bot's re-embedder switches them on its next pass (every minute when idle; run here at once).
        assert await bot.services.reembedder.run_once()
        await until_switched(bot)
        vectors = await rows(bot, "SELECT DISTINCT model FROM vectors")
        assert vectors == [(NEW_SPACE,)]  # each item once, on the new model only
        assert await rows(bot, "SELECT count(*) FROM items") == [(3,)]
        found = texts(await search_answer(bot, "blue"))
        assert BLUE_LINK in found and "Carol" in found
        assert SUNSET_LINK in texts(await search_answer(bot, "sunset over the harbour"))
        assert "stay on the old model" not in await operator_stats(bot)
