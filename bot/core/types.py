"""Plain data the pipeline works with: what the handlers extract from a Telegram update, and what they send back.

Telegram types stop at the handler layer; these dataclasses cross it. They serialise to JSON because an incoming
item is stored as a durable job before any network call is made.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

MediaKind = Literal[
    "photo", "image_document", "video", "animation", "video_note", "sticker", "video_document", "document"
]
ChatType = Literal["private", "group", "supergroup", "channel"]


@dataclass(frozen=True)
class FileRef:
    file_id: str
    file_unique_id: str
    file_size: int | None = None


@dataclass(frozen=True)
class MediaRef:
    kind: MediaKind
    file: FileRef
    mime_type: str | None = None
    thumbnail: FileRef | None = None
    sticker_format: Literal["static", "animated", "video"] | None = None
    file_name: str | None = None


@dataclass(frozen=True)
class ChatRef:
    id: int
    type: ChatType
    username: str | None = None
    title: str | None = None

    @property
    def is_group(self) -> bool:
        return self.type in ("group", "supergroup")


@dataclass(frozen=True)
class Sender:
    id: int | None
    name: str | None
    language: str | None = None


@dataclass(frozen=True)
class IncomingMedia:
    chat: ChatRef
    message_id: int
    sender: Sender
    date: int
    media: MediaRef
    caption: str | None = None
    media_group_id: str | None = None
    edit_date: int | None = None
    is_channel_post: bool = False

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> IncomingMedia:
        media = dict(data["media"])
        media["file"] = FileRef(**media["file"])
        media["thumbnail"] = FileRef(**media["thumbnail"]) if media.get("thumbnail") else None
        return cls(
            chat=ChatRef(**data["chat"]),
            message_id=data["message_id"],
            sender=Sender(**data["sender"]),
            date=data["date"],
            media=MediaRef(**media),
            caption=data.get("caption"),
            media_group_id=data.get("media_group_id"),
            edit_date=data.get("edit_date"),
            is_channel_post=data.get("is_channel_post", False),
        )


@dataclass(frozen=True)
class MessageRef:
    """A message someone pointed at (replied to), whatever it holds: its address and who posted it."""

    chat_id: int
    message_id: int
    poster_id: int | None


# What the pipeline asks the Telegram side to send. `html` fields are already escaped and formatted.
@dataclass(frozen=True)
class MediaOut:
    kind: str
    file_id: str
    caption_html: str | None = None


@dataclass(frozen=True)
class ButtonOut:
    """An inline button; `data` comes back in the press (at most 64 bytes: an id and a verb, never state)."""

    text: str
    data: str


@dataclass(frozen=True)
class DocumentOut:
    """A file the bot makes (an export), sent as a document after the text."""

    file_name: str
    data: bytes


@dataclass(frozen=True)
class Outgoing:
    """A reply: text alone, or media (one item or an album) with an optional text sent after an album.

    `buttons` are rows of inline buttons under the message (under the text that heads an album: an album itself
    cannot carry buttons). `document` follows the text. `edit` names a message of the bot's to re-word in place
    (text and buttons) instead of sending a new one; `reaction` is an emoji put on the `reply_to` message instead of
    any text (a quiet alert)."""

    chat_id: int
    reply_to: int | None = None
    text_html: str | None = None
    media: tuple[MediaOut, ...] = field(default_factory=tuple)
    buttons: tuple[tuple[ButtonOut, ...], ...] = field(default_factory=tuple)
    document: DocumentOut | None = None
    edit: int | None = None
    reaction: str | None = None
