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
from typing import IO, Any

import ijson

from bot.export.chats import ExportChat
from bot.export.errors import ExportTruncated, NotAnExport
from bot.export.messages import ExportMessage, parse_message

log = logging.getLogger(__name__)

RESULT_FILE = "result.json"
_CHAT_PREFIXES = ("", "chats.list.item")
_HEADER_FIELDS = ("name", "type", "id")


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
    """Each chat, then its messages, in file order; raises ExportTruncated at a break (after yielding all before)."""
    try:
        with export.result.open("rb") as file:
            yield from _walk(file)
    except OSError as exc:
        raise NotAnExport(f"{export.result}: cannot be read ({exc.strerror or exc})") from exc


def _walk(file: IO[bytes]) -> Iterator[Entry]:
    walker = _Walker()
    try:
        for prefix, event, value in ijson.parse(file, use_float=True):
            yield from walker.feed(prefix, event, value)
    except ijson.IncompleteJSONError as exc:
        if walker.started:
            raise ExportTruncated(f"{walker.where()}; the file breaks off there ({_first_line(exc)})") from exc
        raise NotAnExport(f"not a JSON export ({_first_line(exc)})") from exc
    except ijson.JSONError as exc:
        if walker.started:
            raise ExportTruncated(f"{walker.where()}; invalid JSON there ({_first_line(exc)})") from exc
        raise NotAnExport(f"not a JSON export ({_first_line(exc)})") from exc
    if not walker.chats:
        raise NotAnExport("no chat with messages in it: not a Telegram Desktop JSON export")


class _Walker:
    """The state between events: the chat being read, and the message object being built."""

    def __init__(self) -> None:
        self.chats = 0
        self.messages = 0
        self.last_id: int | None = None
        self.started = False
        self._header: dict[str, Any] = {}
        self._base = ""
        self._builder: Any = None
        self._depth = 0

    def where(self) -> str:
        after = f" (last message id {self.last_id})" if self.last_id is not None else ""
        return f"chat {self.chats}, after {self.messages} messages{after}"

    def feed(self, prefix: str, event: str, value: Any) -> Iterator[Entry]:
        self.started = self.started or event in ("start_map", "start_array")
        if self._builder is not None:
            yield from self._build(event, value)
            return
        chat = _chat_prefix(prefix, event)
        if chat is not None:
            self._base = chat
            if event == "start_map":
                self._header = {}
            elif prefix.endswith("messages") and event == "start_array":
                yield self._chat()
            elif event in ("string", "number"):
                self._header[prefix.rsplit(".", 1)[-1]] = value
            return
        if event == "start_map" and _message_prefix(prefix):
            self._builder = ijson.ObjectBuilder()
            self._depth = 0
            yield from self._build(event, value)

    def _chat(self) -> ExportChat:
        try:
            chat = ExportChat(self._header.get("name"), str(self._header["type"]), int(self._header["id"]),
                              whole_account=self._base != "")
        except (KeyError, ValueError) as exc:
            raise NotAnExport(f"a chat's messages come without its type and id ({exc}): not an export") from exc
        self.chats += 1
        return chat

    def _build(self, event: str, value: Any) -> Iterator[Entry]:
        self._builder.event(event, value)
        self._depth += {"start_map": 1, "start_array": 1, "end_map": -1, "end_array": -1}.get(event, 0)
        if self._depth:
            return
        raw, self._builder = self._builder.value, None
        self.messages += 1
        try:
            message = parse_message(raw)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            yield BadMessage(self.messages, f"message {self.messages} of the chat is malformed: {exc!r}")
            return
        self.last_id = message.id
        yield message


def _chat_prefix(prefix: str, event: str) -> str | None:
    """The chat object this event belongs to directly (its start, a header field, its messages array)."""
    for base in _CHAT_PREFIXES:
        if event == "start_map" and prefix == base:
            return base
        for field in (*_HEADER_FIELDS, "messages"):
            if prefix == (f"{base}.{field}" if base else field):
                return base
    return None


def _message_prefix(prefix: str) -> bool:
    return prefix in ("messages.item", "chats.list.item.messages.item")


def _first_line(exc: Exception) -> str:
    """yajl's messages draw an arrow under the input over several lines; the first says what broke."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
