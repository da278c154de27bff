"""`python -m bot import-history PATH [--chat-id ID] [--dry-run] [--ignore-caps] [--reembed]`: a chat's past from a
Telegram Desktop export, through the same embedding path as the running bot (same configuration and database).

After a change of model, the same command run again re-embeds the chat's imported items from the export (the running
bot has no export to read them from); `--reembed` does only that, from the paths recorded at import.

Exit codes: 0 done (messages that could not be imported are counted, not fatal), 2 bad arguments, configuration or
an unreadable export (a truncated file: what came before the break is kept), 4 stopped before the end (daily cap,
DashScope account or outage: run again to continue), 5 the PostgreSQL database cannot be reached or used, 130
interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from bot.config import ConfigError, Settings, load_settings
from bot.core.breaker import CircuitBreaker
from bot.core.health import EmbeddingHealth
from bot.core.import_estimate import Estimate, Stored, estimate
from bot.core.importer import ChatChoice, HistoryImporter, ImportStopped, ImportTally, chosen, target
from bot.core.local_files import FolderFiles
from bot.core.types import ChatRef
from bot.dashscope.ratelimit import Lane
from bot.export.chats import ExportChat
from bot.export.errors import ExportError
from bot.export.messages import ExportMessage
from bot.export.reader import Export, locate, read
from bot.logs import configure_logging
from bot.wiring import AnyStore, dashscope_client, embedding_service, open_store, request_budget
from storage.errors import DatabaseUnavailable

log = logging.getLogger("bot.history")

EXIT_DONE = 0
EXIT_BAD_INPUT = 2
EXIT_STOPPED = 4
EXIT_DATABASE_UNAVAILABLE = 5
EXIT_INTERRUPTED = 130
PROGRESS_LOG_SECONDS = 10.0
IMPORT_LANE = "import"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot import-history",
                                     description="Import a chat's history from a Telegram Desktop JSON export.")
    parser.add_argument("path", type=Path, help="the export folder, or its result.json")
    parser.add_argument("--chat-id", type=int, help="the Bot API chat id to import into (or to pick, in a "
                                                    "whole-account export)")
    parser.add_argument("--dry-run", action="store_true", help="only count and estimate; no API call")
    parser.add_argument("--ignore-caps", action="store_true", help="lift the daily request caps for this run")
    parser.add_argument("--reembed", action="store_true",
                        help="only re-embed, with the configured model, the chat's imported items still on an older "
                             "one, from the files recorded at import (a plain import of the export does this too)")
    return parser.parse_args(argv)  # argparse exits 2 with a usage line on bad arguments


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"configuration error: {exc} (see .env.example)", file=sys.stderr)
        return EXIT_BAD_INPUT
    configure_logging(settings.log_level, secrets=settings.secrets)
    try:
        return asyncio.run(run(args, settings))
    except KeyboardInterrupt:
        print("interrupted: everything imported so far is kept; run the same command again to continue",
              file=sys.stderr)
        return EXIT_INTERRUPTED


async def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        export = locate(args.path)
    except ExportError as exc:
        print(f"import-history: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        store = await open_store(settings)
    except DatabaseUnavailable as exc:
        print(f"import-history: {exc}", file=sys.stderr)
        return EXIT_DATABASE_UNAVAILABLE
    try:
        chooser = Chooser(ChatChoice(args.chat_id, frozenset(await store.chats.known_ids())))
        if args.dry_run:
            return await _dry_run(export, chooser, store, settings)
        if args.reembed:
            return await _reembed(export, chooser, store, settings, ignore_caps=args.ignore_caps)
        return await _import(export, chooser, store, settings, ignore_caps=args.ignore_caps)
    finally:
        await store.close()


@dataclass
class Chooser:
    """Picks the chats of the export to import and says, once per chat, what it does with each."""

    choice: ChatChoice
    chosen: int = 0

    def __call__(self, chat: ExportChat) -> ChatRef | None:
        picked = target(chat, self.choice)
        if picked is not None:
            self.chosen += 1
            print(f"chat {chat.name!r} ({chat.type}) → chat id {picked.id}")
        elif chat.whole_account:
            print(f"passing over chat {chat.name!r} ({chat.type}): {self._reason(chat)}")
        return picked

    def _reason(self, chat: ExportChat) -> str:
        if not chat.is_bot_chat:
            return "not a chat a bot can be in"
        return "not the --chat-id asked for" if self.choice.chat_id is not None else "not known to the bot"

    def nothing_chosen(self) -> str | None:
        if self.chosen:
            return None
        if self.choice.chat_id is not None:
            return f"no chat of this export has chat id {self.choice.chat_id}"
        return "no chat of this export is known to the bot: pass --chat-id to pick one"


async def _dry_run(export: Export, chooser: Chooser, store: AnyStore, settings: Settings) -> int:
    try:
        result = await estimate(read(export), chooser, FolderFiles(export.folder),
                                Stored(store.items, store.reembedding, settings.embedding.space))
    except ExportError as exc:
        print(f"import-history: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if (problem := chooser.nothing_chosen()) is not None:
        print(f"import-history: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(_estimate_text(result, settings.import_requests_per_minute))
    return EXIT_DONE


def _estimate_text(result: Estimate, rpm: int) -> str:
    kinds = ", ".join(f"{kind} {count}" for kind, count in result.by_kind.most_common())
    lines = [
        f"messages by kind: {kinds or 'none'}",
        f"media files present: {result.files_present} (already imported or seen live: {result.already_present}; "
        f"imported on an older model, to re-embed: {result.to_reembed})",
        f"exported without their file: {result.without_file}",
        f"API requests: {result.requests}",
        f"tokens (estimated): {result.image_tokens} image, {result.text_tokens} text; video: "
        f"{result.video_seconds:.0f} s",
        f"time at IMPORT_RPM={rpm}: {_duration(result.minutes_at(rpm) * 60)}",
    ]
    lines += [f"unreadable: {reason} ×{count}" for reason, count in result.unreadable.most_common()]
    return "\n".join(lines)


async def _import(export: Export, chooser: Chooser, store: AnyStore, settings: Settings, *, ignore_caps: bool) -> int:
    tally = ImportTally(total=_embeddable_count(export, chooser.choice))

    async def work(importer: HistoryImporter) -> None:
        with _Progress(tally.total, "importing") as report:
            await importer.run(read(export), chooser, tally, report)

    return await _embedding_run(export, chooser, store, settings, tally, work, ignore_caps=ignore_caps)


async def _reembed(export: Export, chooser: Chooser, store: AnyStore, settings: Settings, *, ignore_caps: bool) -> int:
    """The chosen chats' imported items on an older model, from this export's folder, staged for the running bot
    to switch (it switches a chat within a minute of its last item being ready, or at its next start)."""
    tally = ImportTally()

    async def work(importer: HistoryImporter) -> None:
        chat_ids = [chat.id for chat, entry in chosen(read(export), chooser) if entry is None]
        tally.total = await importer.pending_count(chat_ids)
        with _Progress(tally.total, "re-embedding") as report:
            await importer.reembed(chat_ids, tally, report)

    return await _embedding_run(export, chooser, store, settings, tally, work, ignore_caps=ignore_caps)


async def _embedding_run(export: Export, chooser: Chooser, store: AnyStore, settings: Settings, tally: ImportTally,
                         work: Callable[[HistoryImporter], Awaitable[None]], *, ignore_caps: bool) -> int:
    """An import or a re-embedding: the import's budget (IMPORT_RPM), caps, files and exit codes."""
    # The account's budget, shared with the running bot through the database; the import is background work
    # (it takes what live traffic leaves) and spends at most IMPORT_RPM of it.
    lane = Lane(IMPORT_LANE, background=True, per_minute=settings.import_requests_per_minute)
    client = dashscope_client(settings, request_budget(settings, store.db, background_lane=lane), background=True)
    health = EmbeddingHealth(CircuitBreaker(), _log_account_trouble)
    files = FolderFiles(export.folder)
    embedding = embedding_service(settings, store, client, files, health, download_limit=None,
                                  caps_lifted=ignore_caps)
    importer = HistoryImporter(items=store.items, chats=store.chats, staging=store.reembedding, embedding=embedding,
                               files=files, traffic=store.jobs)
    code = EXIT_DONE
    try:
        await work(importer)
    except ImportStopped as exc:
        print(f"import-history: {exc}; run the same command again to continue", file=sys.stderr)
        code = EXIT_STOPPED
    except ExportError as exc:
        print(f"import-history: {exc}; everything before it is kept", file=sys.stderr)
        code = EXIT_BAD_INPUT
    finally:
        await client.aclose()
    if code == EXIT_DONE and (problem := chooser.nothing_chosen()) is not None:
        print(f"import-history: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(summary(tally))
    return code


def _embeddable_count(export: Export, choice: ChatChoice) -> int:
    """A first, quiet pass for the progress bar's end; a break in the file is reported by the import pass."""
    count = 0
    try:
        for _chat, entry in chosen(read(export), lambda chat: target(chat, choice)):
            count += isinstance(entry, ExportMessage) and entry.embeddable
    except ExportError:
        pass
    return count


def summary(tally: ImportTally) -> str:
    lines = [
        f"imported: {tally.imported}",
        f"skipped as already present: {tally.already_present}",
        f"skipped as deleted on request: {tally.forgotten}",
        f"without file: {tally.without_file}",
        f"unsupported: {tally.unsupported}",
        f"not media (text, service): {tally.not_media}",
        f"failed: {tally.failed_total}",
        f"re-embedded for the configured model: {tally.reembedded}",
        f"API requests: {tally.requests:g}",
    ]
    if tally.without_path:
        lines.append(f"imported before file paths were recorded (kept on their old model): {tally.without_path}; "
                     "import their export again without --reembed to re-embed them")
    lines += [f"  {reason} ×{count}" for reason, count in tally.failed.most_common()]
    return "\n".join(lines)


class _Progress:
    """A bar on a terminal (done / total, rate, ETA, requests); a log line every few seconds otherwise."""

    def __init__(self, total: int, label: str) -> None:
        self._total = total
        self._label = label
        self._bar: Progress | None = None
        self._task = TaskID(0)
        self._started = time.monotonic()
        self._logged = self._started

    def __enter__(self) -> _Progress:
        if sys.stderr.isatty():
            self._bar = Progress(TextColumn(self._label), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[rate]}"),
                                 TimeRemainingColumn(), TextColumn("{task.fields[requests]} requests"),
                                 transient=False)
            self._bar.start()
            self._task = self._bar.add_task("import", total=self._total, rate="", requests="0")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def __call__(self, tally: ImportTally) -> None:
        now = time.monotonic()
        rate = tally.done / max(now - self._started, 1e-9)
        if self._bar is not None:
            self._bar.update(self._task, completed=tally.done, rate=f"{rate:.1f}/s", requests=f"{tally.requests:g}")
        elif now - self._logged >= PROGRESS_LOG_SECONDS:
            self._logged = now
            log.info("import progress", extra={"done": tally.done, "total": tally.total, "per_second": round(rate, 2),
                                               "imported": tally.imported, "reembedded": tally.reembedded,
                                               "requests": tally.requests})


async def _log_account_trouble(paused_code: str | None) -> None:
    """No chat to tell from here: the import stops with the reason, and the log keeps the code."""
    log.warning("DashScope account trouble during import", extra={"code": paused_code})


def _duration(seconds: float) -> str:
    hours, rest = divmod(round(seconds), 3600)
    return f"{hours} h {rest // 60} min" if hours else f"{rest // 60} min {rest % 60} s"
