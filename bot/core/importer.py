"""Importing a chat's past from a Telegram Desktop export: each media message through the same routes, cache,
caps and API as a live one, stored with its original message id, sender and date.

Idempotent and resumable by construction: an item is keyed by its message (chat, message id), the import skips
messages already stored (imported before, or seen live), and every file's vector is cached before its item is
stored, so a run killed at any moment and run again creates each item once and pays for each file once. The
import yields to live traffic: while the bot has due jobs, it waits.

Each item records where its file is in the export (`source_path`). After a change of model the running bot cannot
re-read imported items (it has no export folder), so running the import again does: an item already stored but on
another model than the configured one is embedded again from the export and staged like the background
re-embedder's work (`ReembeddingRepository.stage`); the running bot switches the chat when all its items are ready.
`reembed` does only that, for the items listed in the database by their recorded paths (`import-history --reembed`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Protocol

from bot.core.embedding import EmbeddingService, Payer
from bot.core.local_files import FolderFiles
from bot.core.ports import ChatStore, ImportedReembedStore, ItemStore
from bot.core.reembed import stored_media
from bot.core.types import ChatRef, FileRef, MediaKind, MediaRef
from bot.errors import Disposition, Failure
from bot.export.chats import ExportChat
from bot.export.messages import ExportMessage
from bot.export.reader import BadMessage, Entry
from storage.models import FACET_CAPTION, FACET_MEDIA, Item, NewItem

log = logging.getLogger(__name__)

IMPORTED_FILE_ID = ""
"""Imported items have no Telegram file id: replies show them by a link to their message instead."""
LIVE_POLL_SECONDS = 0.5
REEMBED_BATCH = 64


class ImportStopped(Exception):
    """The import cannot go on now (daily cap, account trouble, DashScope down); run again later to continue."""


class ExportFileChanged(Failure):
    """The export holds another file where the item's was: re-embedding it would give the item a stranger's
    vectors (another export of the chat, or of another chat through --chat-id)."""

    disposition = Disposition.FAIL_ITEM
    message_key = "corrupt"


class LiveTraffic(Protocol):
    """The running bot's queue (storage.jobs.JobRepository): jobs due now are people waiting."""

    async def due_count(self, *, now: int) -> int: ...


@dataclass
class ImportTally:
    total: int = 0
    """Media messages with a file to embed, when known in advance (the progress bar's end)."""
    done: int = 0
    imported: int = 0
    already_present: int = 0
    forgotten: int = 0
    """Messages whose items were deleted on request (/forget, /forget me): an import does not bring them back."""
    without_file: int = 0
    unsupported: int = 0
    not_media: int = 0
    requests: float = 0.0
    reembedded: int = 0
    """Items stored before on another model, embedded again from the export and staged for the chat's switch."""
    without_path: int = 0
    """Items imported before paths were recorded, not on the configured model (`--reembed` cannot find their
    files; a plain import of their export can)."""
    failed: Counter[str] = field(default_factory=Counter)

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())


@dataclass(frozen=True)
class ChatChoice:
    """Which chats of an export to import and under which id: `chat_id` overrides (single chat) or picks (whole
    account); without it a whole-account export imports the chats the bot already knows."""

    chat_id: int | None
    known: frozenset[int]


def target(chat: ExportChat, choice: ChatChoice) -> ChatRef | None:
    """The chat to import `chat` into, or None to pass over it; a single chat that no bot can be in is an error."""
    if chat.whole_account:
        if not chat.is_bot_chat:
            return None
        derived = chat.bot_chat_id
        wanted = derived == choice.chat_id if choice.chat_id is not None else derived in choice.known
        return ChatRef(derived, chat.bot_type, title=chat.name) if wanted else None
    derived_type = chat.bot_type
    return ChatRef(choice.chat_id if choice.chat_id is not None else chat.bot_chat_id, derived_type, title=chat.name)


Outcome = Callable[[ImportTally], None]


def chosen(entries: Iterable[Entry], choose: Callable[[ExportChat], ChatRef | None]
           ) -> Iterator[tuple[ChatRef, ExportMessage | BadMessage | None]]:
    """The messages of the chosen chats with the chat each goes to; (chat, None) first as each chosen chat begins."""
    chat: ChatRef | None = None
    for entry in entries:
        if isinstance(entry, ExportChat):
            chat = choose(entry)
            if chat is not None:
                yield chat, None
        elif chat is not None:
            yield chat, entry

_STOPPING = {Disposition.OVER_CAP: "the daily request cap is reached (pass --ignore-caps to lift it for a run)",
             Disposition.PAUSE_ACCOUNT: "DashScope refused the account (key, billing or access)",
             Disposition.RETRY_SERVICE: "DashScope is unavailable", Disposition.RETRY: "a transient error",
             Disposition.CHAT_GONE: "the chat is gone", Disposition.CHAT_MOVED: "the chat moved"}
"""What stops a run (anything but a failure of the item itself); a later run continues where this one stopped."""


async def needs_reembedding(item: Item, target: str, staging: ImportedReembedStore) -> bool:
    """An imported item the configured model (`target`) has not embedded yet; live items are the running bot's."""
    return (item.file_id == IMPORTED_FILE_ID and item.model != target
            and not await staging.is_staged(item.id, target))


class HistoryImporter:
    def __init__(self, *, items: ItemStore, chats: ChatStore, staging: ImportedReembedStore,
                 embedding: EmbeddingService, files: FolderFiles, traffic: LiveTraffic,
                 poll_seconds: float = LIVE_POLL_SECONDS) -> None:
        self._items = items
        self._chats = chats
        self._staging = staging
        self._embedding = embedding
        self._files = files
        self._traffic = traffic
        self._poll = poll_seconds

    @property
    def _target(self) -> str:
        return self._embedding.model.space

    async def run(self, entries: Iterable[Entry], choose: Callable[[ExportChat], ChatRef | None],
                  tally: ImportTally, progress: Outcome) -> None:
        """Every message of the chosen chats, in file order. Export errors (a truncated file) propagate after
        everything before them was stored."""
        for chat, entry in chosen(entries, choose):
            if entry is None:
                await self._chats.mark_active(chat.id)
                continue
            if isinstance(entry, BadMessage):
                tally.failed[entry.reason] += 1
            else:
                await self._one(chat, entry, tally)
            progress(tally)

    async def _one(self, chat: ChatRef, message: ExportMessage, tally: ImportTally) -> None:
        if message.kind in ("text", "service"):
            tally.not_media += 1
        elif message.file_left_out:
            tally.without_file += 1
        elif not message.embeddable:
            tally.unsupported += 1
        else:
            await self._media(chat, message, tally)
            tally.done += 1

    async def reembed(self, chat_ids: Iterable[int], tally: ImportTally, progress: Outcome) -> None:
        """The chats' imported items on another model, re-read from their recorded paths in this export."""
        for chat_id in chat_ids:
            tally.without_path += await self._staging.imported_without_path(chat_id, self._target)
            async for item in self._pending(chat_id):
                assert item.source_path is not None  # listed by it
                await self._attempt(chat_id, item.message_id, tally,
                                    partial(self._reembed_one, item, item.source_path, tally))
                tally.done += 1
                progress(tally)

    async def pending_count(self, chat_ids: Iterable[int]) -> int:
        """How many items `reembed` has to do in these chats (the progress bar's end)."""
        return sum([1 for chat_id in chat_ids async for _item in self._pending(chat_id)])

    async def _pending(self, chat_id: int) -> AsyncIterator[Item]:
        """Page by page by id: an item that fails stays listed, the next page starts after it."""
        after = 0
        while batch := await self._staging.imported_pending(chat_id, self._target, after_id=after,
                                                            limit=REEMBED_BATCH):
            for item in batch:
                yield item
            after = batch[-1].id

    async def _media(self, chat: ChatRef, message: ExportMessage, tally: ImportTally) -> None:
        stored = await self._items.by_message(chat.id, message.id)
        if stored is not None:
            if await needs_reembedding(stored, self._target, self._staging):
                assert message.path is not None  # embeddable
                await self._attempt(chat.id, message.id, tally, partial(self._reembed_one, stored, message.path, tally))
            else:
                tally.already_present += 1
            return
        if await self._items.is_forgotten(chat.id, message.id):
            tally.forgotten += 1
            return
        await self._attempt(chat.id, message.id, tally, partial(self._store, chat, message, tally))

    async def _attempt(self, chat_id: int, message_id: int, tally: ImportTally,
                       work: Callable[[], Awaitable[None]]) -> None:
        """One message's embedding, after live traffic: its own failure is counted, anything else stops the run."""
        await self._wait_for_quiet()
        try:
            await work()
        except Failure as exc:
            if exc.disposition is not Disposition.FAIL_ITEM:
                raise ImportStopped(f"stopped at message {message_id}: {_STOPPING[exc.disposition]} ({exc})") from exc
            if exc.message_key == "unsupported":
                tally.unsupported += 1
            else:
                tally.failed[str(exc) or exc.message_key] += 1
            log.info("message not imported", extra={"chat_id": chat_id, "message_id": message_id,
                                                    "reason": str(exc), "key": exc.message_key})

    async def _reembed_one(self, item: Item, relative: str, tally: ImportTally) -> None:
        """The item's file, read from the export at `relative`, embedded with the configured model and staged."""
        path = self._files.resolve(relative)
        if await _content_id(path) != item.file_unique_id:
            raise ExportFileChanged(f"{relative!r} is not the file imported for message {item.message_id}")
        embedded = await self._embedding.media(stored_media(item, relative), item.caption, Payer(item.chat_id, None))
        tally.requests += embedded.spend.requests
        await self._staging.stage(item, self._target, embedded.media, embedded.caption)
        if item.source_path != relative:
            await self._staging.record_source_path(item.id, relative)
        tally.reembedded += 1

    async def _store(self, chat: ChatRef, message: ExportMessage, tally: ImportTally) -> None:
        media = await self._media_ref(message)
        embedded = await self._embedding.media(media, message.caption, Payer(chat.id, None))
        tally.requests += embedded.spend.requests
        vectors = {FACET_MEDIA: embedded.media}
        if embedded.caption is not None:
            vectors[FACET_CAPTION] = embedded.caption
        await self._items.add(NewItem(
            chat_id=chat.id, message_id=message.id, sender_id=message.sender_id, sender_name=message.sender_name,
            date=message.date, kind=media.kind, file_id=IMPORTED_FILE_ID, file_unique_id=media.file.file_unique_id,
            caption=message.caption, model=self._embedding.model.space, route=embedded.route,
            source_path=message.path,
        ), vectors)
        tally.imported += 1

    async def _media_ref(self, message: ExportMessage) -> MediaRef:
        """The file is named by its content (`export:<sha256>`): the same file twice, in any chat or run, is
        embedded once."""
        assert message.path is not None  # embeddable
        path = self._files.resolve(message.path)
        thumbnail = _thumbnail(self._files, message.thumbnail)
        return MediaRef(kind=_media_kind(message), file=FileRef(message.path, await _content_id(path),
                                                                path.stat().st_size),
                        mime_type=message.mime_type, thumbnail=thumbnail, sticker_format=message.sticker_format,
                        file_name=message.file_name)

    async def _wait_for_quiet(self) -> None:
        """People waiting on the live bot go first: no import request while its queue has due jobs. The queue is
        another process's, so there is no event to wait on: it is polled."""
        while await self._traffic.due_count(now=int(time.time())) > 0:  # noqa: ASYNC110
            await asyncio.sleep(self._poll)


_MEDIA_KINDS: dict[str, MediaKind] = {
    "photo": "photo", "image_document": "image_document", "video": "video", "animation": "animation",
    "video_note": "video_note", "sticker": "sticker", "video_document": "video_document", "document": "document",
}


def _media_kind(message: ExportMessage) -> MediaKind:
    """Only embeddable messages get here; their export kinds are the live pipeline's media kinds."""
    return _MEDIA_KINDS[message.kind]


def _thumbnail(files: FolderFiles, relative: str | None) -> FileRef | None:
    """A thumbnail outside the folder or missing is no thumbnail (the route falls back without it)."""
    if relative is None:
        return None
    try:
        files.resolve(relative)
    except Failure:
        return None
    return FileRef(relative, f"export-thumb:{relative}")


async def _content_id(path: Path) -> str:
    """An exported file's `file_unique_id`: its content's digest, as Telegram's names the file, not the message."""
    return f"export:{await asyncio.to_thread(_sha256, path)}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
