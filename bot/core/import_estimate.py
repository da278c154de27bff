"""`import-history --dry-run`: what an import will cost, read from the export alone (no API call).

Requests: one per media message whose file is present and not yet stored (its caption rides in the same request),
or stored from an import but on another model than the configured one (it is re-embedded).
Tokens are estimated from the media as the routes would send them: a picture at the size `prepare_image` sends it,
one token per 28×28-pixel patch (the vision models' patch size; the API's own count may differ); a caption about one
token per 4 characters (one per CJK character); videos are reported in seconds, which is how the API meters them.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bot.core.importer import chosen, needs_reembedding
from bot.core.local_files import FolderFiles
from bot.core.ports import ImportedReembedStore, ItemStore
from bot.core.types import ChatRef
from bot.errors import Failure
from bot.export.chats import ExportChat
from bot.export.messages import ExportMessage
from bot.export.reader import BadMessage, Entry
from bot.media.images import sent_size

PATCH = 28
IMAGE_KINDS = frozenset({"photo", "image_document", "sticker"})
VIDEO_KINDS = frozenset({"video", "animation", "video_note", "video_document"})


@dataclass
class Estimate:
    by_kind: Counter[str] = field(default_factory=Counter)
    files_present: int = 0
    without_file: int = 0
    unreadable: Counter[str] = field(default_factory=Counter)
    """Files named by the export but missing, outside the folder, or not readable as what they claim."""
    already_present: int = 0
    to_reembed: int = 0
    """Imported before, on another model than the configured one: embedded again (counted in `requests`)."""
    requests: int = 0
    image_tokens: int = 0
    text_tokens: int = 0
    video_seconds: float = 0.0
    chats: list[ChatRef] = field(default_factory=list)

    def minutes_at(self, requests_per_minute: float) -> float:
        return self.requests / requests_per_minute


@dataclass(frozen=True)
class Stored:
    """What the database already holds, and the model an import would embed with."""

    items: ItemStore
    staging: ImportedReembedStore
    target: str


async def estimate(entries: Iterable[Entry], choose: Callable[[ExportChat], ChatRef | None], files: FolderFiles,
                   stored: Stored) -> Estimate:
    result = Estimate()
    for chat, entry in chosen(entries, choose):
        if entry is None:
            result.chats.append(chat)
        elif isinstance(entry, BadMessage):
            result.unreadable[entry.reason] += 1
        else:
            await _count(result, chat, entry, files, stored)
    return result


async def _count(result: Estimate, chat: ChatRef, message: ExportMessage, files: FolderFiles,
                 stored: Stored) -> None:
    result.by_kind[message.kind] += 1
    if message.file_left_out:
        result.without_file += 1
    if not message.embeddable or message.path is None:
        return
    try:
        path = files.resolve(message.path)
        size = await asyncio.to_thread(sent_size, path) if message.kind in IMAGE_KINDS else None
    except Failure as exc:
        result.unreadable[str(exc)] += 1
        return
    result.files_present += 1
    item = await stored.items.by_message(chat.id, message.id)
    if item is not None and await needs_reembedding(item, stored.target, stored.staging):
        result.to_reembed += 1
    elif item is not None:
        result.already_present += 1
        return
    result.requests += 1
    if size is not None:
        result.image_tokens += math.ceil(size[0] / PATCH) * math.ceil(size[1] / PATCH)
    if message.kind in VIDEO_KINDS:
        result.video_seconds += message.duration or 0.0
    result.text_tokens += text_tokens(message.caption or "")


def text_tokens(text: str) -> int:
    wide = sum(1 for char in text if ord(char) > 0x2E80)
    return wide + math.ceil((len(text) - wide) / 4)
