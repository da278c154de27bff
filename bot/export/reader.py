"""Streaming result.json: chats and their messages one at a time, whatever the file's size.

ijson's event stream is walked once. A chat is announced when its `messages` array opens (its name, type and id
come before it in every export seen), then each message object is built alone and parsed. A single-chat export is
the chat object itself; a whole-account export lists chats under `chats.list`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ijson

from bot.export.chats import ExportChat
from bot.export.errors import ExportTruncated, NotAnExport
from bot.export.messages import ExportMessage, parse_message

log = logging.getLogger(__name__)

RESULT_FILE = "result.json"
_CHAT_PREFIXES = ("", "chats.list.item")
_HEADER_FIELDS = ("name", "type", "id")
_MESSAGE_PREFIXES = ("messages.item", "chats.list.item.messages.item")
_MESSAGE_ID_PREFIXES = tuple(f"{prefix}.id" for prefix in _MESSAGE_PREFIXES)
_MESSAGE_MARK = "messages.item"


@dataclass(frozen=True)
class Export:
    """An export on disk: the folder media paths are relative to, and its result.json."""

    folder: Path
    result: Path


def locate(path: Path) -> Export:
    """PATH may be the export folder or its result.json."""
    if path.is_dir():
        path = path / RESULT_FILE
    if not path.is_file():
        raise NotAnExport(f"{path}: no such file (expected an export folder holding {RESULT_FILE}, or the file)")
    return Export(path.parent.resolve(), path.resolve())


@dataclass(frozen=True)
class BadMessage:
    """A message object that could not be understood (counted as failed, the import goes on)."""

    position: int
    reason: str


Entry = ExportChat | ExportMessage | BadMessage


def read(export: Export) -> Iterator[Entry]:
    """Each chat, then its messages, in file order; raises ExportTruncated at a break (after yielding all before).

    Two passes, both in yajl's C code for the bulk of the work: an outline of the chats (headers, and how many
    complete messages each holds) from the event stream, then the message objects themselves, built by
    `ijson.items`. Building them from events in Python would be several times slower on a large export."""
    outline = _outline(export)
    try:
        with export.result.open("rb") as file:
            messages = ijson.items(file, outline.message_prefix, use_float=True)
            for chat, count in outline.chats:
                yield chat
                for position in range(1, count + 1):
                    yield _parsed(next(messages), position)
    except OSError as exc:
        raise NotAnExport(f"{export.result}: cannot be read ({exc.strerror or exc})") from exc
    if outline.broken is not None:
        raise outline.broken


@dataclass
class _Outline:
    chats: list[tuple[ExportChat, int]]
    message_prefix: str
    broken: ExportTruncated | None = None


def _outline(export: Export) -> _Outline:
    walker = _Walker()
    try:
        with export.result.open("rb") as file:
            for prefix, event, value in ijson.parse(file, use_float=True):
                walker.feed(prefix, event, value)
    except OSError as exc:
        raise NotAnExport(f"{export.result}: cannot be read ({exc.strerror or exc})") from exc
    except ijson.JSONError as exc:  # IncompleteJSONError too
        if not walker.chats:
            raise NotAnExport(f"not a JSON export ({_first_line(exc)})") from exc
        return walker.outline(ExportTruncated(f"{walker.where()}; the file breaks off there ({_first_line(exc)})"))
    if not walker.chats:
        raise NotAnExport("no chat with messages in it: not a Telegram Desktop JSON export")
    return walker.outline(None)


def _parsed(raw: dict[str, Any], position: int) -> ExportMessage | BadMessage:
    try:
        return parse_message(raw)
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        return BadMessage(position, f"message {position} of the chat is malformed: {exc!r}")


class _Walker:
    """The outline pass: chat headers, and per chat the complete messages and the last message id seen."""

    def __init__(self) -> None:
        self.chats: list[tuple[ExportChat, int]] = []
        self._header: dict[str, Any] = {}
        self._base = ""
        self._last_id: Any = None
        """The id of the last complete message (`_current_id`: of the one being read)."""
        self._current_id: Any = None

    def outline(self, broken: ExportTruncated | None) -> _Outline:
        base = self._base
        return _Outline(self.chats, f"{base}.messages.item" if base else "messages.item", broken)

    def where(self) -> str:
        chat, count = self.chats[-1]
        after = f" (last message id {self._last_id})" if self._last_id is not None else ""
        return f"chat {len(self.chats)} ({chat.name!r}), after {count} messages{after}"

    def feed(self, prefix: str, event: str, value: Any) -> None:
        """One parser event; called for every value of a big export, so the common case (inside a message) is a
        couple of string comparisons."""
        if _MESSAGE_MARK in prefix:
            if event == "end_map" and prefix in _MESSAGE_PREFIXES:
                chat, count = self.chats[-1]
                self.chats[-1] = (chat, count + 1)
                self._last_id = self._current_id
            elif prefix in _MESSAGE_ID_PREFIXES:
                self._current_id = value
            return
        base = _chat_prefix(prefix, event)
        if base is None:
            return
        self._base = base
        if event == "start_map":
            self._header = {}
        elif event == "start_array" and prefix.endswith("messages"):
            self.chats.append((self._chat(), 0))
            self._last_id = None
        elif event in ("string", "number"):
            self._header[prefix.rsplit(".", 1)[-1]] = value

    def _chat(self) -> ExportChat:
        try:
            return ExportChat(self._header.get("name"), str(self._header["type"]), int(self._header["id"]),
                              whole_account=self._base != "")
        except (KeyError, ValueError) as exc:
            raise NotAnExport(f"a chat's messages come without its type and id ({exc}): not an export") from exc


def _chat_prefix(prefix: str, event: str) -> str | None:
    """The chat object this event belongs to directly (its start, a header field, its messages array)."""
    for base in _CHAT_PREFIXES:
        if event == "start_map" and prefix == base:
            return base
        for field in (*_HEADER_FIELDS, "messages"):
            if prefix == (f"{base}.{field}" if base else field):
                return base
    return None


def _first_line(exc: Exception) -> str:
    """yajl's messages draw an arrow under the input over several lines; the first says what broke."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
