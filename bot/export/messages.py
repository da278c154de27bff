"""One exported message as plain data: what it holds, where its file is, who posted it and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

ExportKind = Literal[
    "photo", "image_document", "video", "animation", "video_note", "sticker", "video_document", "document",
    "voice", "audio", "text", "service",
]
"""The first eight are media kinds of the live pipeline; the rest are counted, never embedded."""

EMBEDDABLE: frozenset[str] = frozenset(
    {"photo", "image_document", "video", "animation", "video_note", "sticker", "video_document", "document"}
)

_MEDIA_TYPES: dict[str, ExportKind] = {
    "video_file": "video",
    "animation": "animation",
    "video_message": "video_note",
    "sticker": "sticker",
    "voice_message": "voice",
    "audio_file": "audio",
}


@dataclass(frozen=True)
class ExportMessage:
    id: int
    kind: ExportKind
    date: int
    sender_id: int | None = None
    sender_name: str | None = None
    path: str | None = None
    """Relative to the export folder; None when the message has no file or the file was not exported."""
    file_left_out: bool = False
    """The message had a file, but the export holds a sentence instead of its path (not ticked, or too big)."""
    file_size: int | None = None
    thumbnail: str | None = None
    mime_type: str | None = None
    file_name: str | None = None
    sticker_format: Literal["static", "animated", "video"] | None = None
    caption: str | None = None
    duration: float | None = None

    @property
    def embeddable(self) -> bool:
        return self.kind in EMBEDDABLE and self.path is not None


def parse_message(raw: dict[str, Any]) -> ExportMessage:
    """A message object of result.json; KeyError/ValueError/TypeError when it is not one (the reader says where)."""
    message_id = int(raw["id"])
    date = _date(raw)
    if raw.get("type") != "message":
        return ExportMessage(message_id, "service", date)
    kind, field = _kind(raw)
    path = raw.get(field) if field else None
    left_out = isinstance(path, str) and not _is_path(path)
    return ExportMessage(
        id=message_id, kind=kind, date=date, sender_id=_sender_id(raw.get("from_id")),
        sender_name=raw.get("from") if isinstance(raw.get("from"), str) else None,
        path=path if isinstance(path, str) and not left_out else None, file_left_out=left_out,
        file_size=_int_or_none(raw.get("photo_file_size" if field == "photo" else "file_size")),
        thumbnail=raw["thumbnail"] if _is_path(raw.get("thumbnail")) else None,
        mime_type=raw.get("mime_type") or None, file_name=raw.get("file_name") or None,
        sticker_format=_sticker_format(raw) if kind == "sticker" else None,
        caption=caption_text(raw.get("text")) or None,
        duration=float(raw["duration_seconds"]) if isinstance(raw.get("duration_seconds"), int | float) else None,
    )


def caption_text(text: Any) -> str:
    """`text` is a string, or a list of strings and entity objects with a `text` field: the caption joins them."""
    if isinstance(text, str):
        return text
    if isinstance(text, list):
        return "".join(part if isinstance(part, str) else str(part.get("text", "")) for part in text
                       if isinstance(part, str | dict))
    return ""


def _kind(raw: dict[str, Any]) -> tuple[ExportKind, str | None]:
    if "photo" in raw:
        return "photo", "photo"
    if "file" not in raw:
        return "text", None
    media_type = raw.get("media_type")
    if media_type in _MEDIA_TYPES:
        return _MEDIA_TYPES[media_type], "file"
    mime = str(raw.get("mime_type") or "")
    if mime.startswith("image/"):
        return "image_document", "file"
    if mime.startswith("video/"):
        return "video_document", "file"
    return "document", "file"


def _is_path(value: Any) -> bool:
    """A left-out file is described by a sentence in parentheses, e.g. "(File not included. …)"."""
    return isinstance(value, str) and bool(value) and not value.startswith("(")


def _sticker_format(raw: dict[str, Any]) -> Literal["static", "animated", "video"]:
    name = str(raw.get("file") or "").lower()
    mime = str(raw.get("mime_type") or "")
    if name.endswith(".tgs") or mime == "application/x-tgsticker":
        return "animated"
    if name.endswith(".webm") or mime == "video/webm":
        return "video"
    return "static"


def _sender_id(from_id: Any) -> int | None:
    """`user123` is the person 123; `channel123` posts as the chat -100123, as the Bot API's sender_chat."""
    if not isinstance(from_id, str):
        return None
    for prefix, to_id in (("user", int), ("channel", lambda digits: int(f"-100{digits}"))):
        digits = from_id.removeprefix(prefix)
        if digits != from_id and digits.isdigit():
            return to_id(digits)
    return None


def _date(raw: dict[str, Any]) -> int:
    if "date_unixtime" in raw:
        return int(raw["date_unixtime"])
    return int(datetime.fromisoformat(str(raw["date"])).replace(tzinfo=UTC).timestamp())


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) else None
