"""Plain data shared by the fake Bot API modules: chats, users, files, recorded requests, API errors.

These mirror the Bot API JSON objects closely enough that ``to_dict`` output passes python-telegram-bot's
``de_json``; tests build them directly, so they stay small, frozen and free of server logic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

JSON = dict[str, Any]

CHAT_TYPES: Final = frozenset({"private", "group", "supergroup", "channel"})
MEMBER_STATUSES: Final = frozenset({"creator", "administrator", "member", "restricted", "left", "kicked"})

# Senders Telegram substitutes for anonymous group admins and for channels posting into groups.
GROUP_ANONYMOUS_BOT: Final[JSON] = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}
CHANNEL_BOT: Final[JSON] = {
    "id": 136817688,
    "is_bot": True,
    "first_name": "Channel",
    "username": "Channel_Bot",
}


def _without_none(values: dict[str, Any]) -> JSON:
    """Telegram omits absent optional fields instead of sending null; PTB relies on that for some types."""
    return {key: value for key, value in values.items() if value is not None}


@dataclass(frozen=True)
class Chat:
    """A chat as it appears in updates; ``type`` is one of private, group, supergroup, channel."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None

    def __post_init__(self) -> None:
        if self.type not in CHAT_TYPES:
            raise ValueError(f"unknown chat type {self.type!r}")
        if self.type == "private" and not self.first_name:
            raise ValueError("a private chat needs first_name, like the user it belongs to")
        if self.type != "private" and not self.title:
            raise ValueError(f"a {self.type} chat needs a title")

    @property
    def is_group_like(self) -> bool:
        return self.type in ("group", "supergroup")

    @classmethod
    def from_dict(cls, data: JSON) -> Chat:
        return cls(data["id"], data["type"], data.get("title"), data.get("username"), data.get("first_name"))

    def to_dict(self) -> JSON:
        return _without_none(
            {
                "id": self.id,
                "type": self.type,
                "title": self.title,
                "username": self.username,
                "first_name": self.first_name,
            }
        )


@dataclass(frozen=True)
class User:
    """A Telegram account that talks to the bot."""

    id: int
    first_name: str
    username: str | None = None
    language_code: str | None = "en"
    is_bot: bool = False

    def to_dict(self) -> JSON:
        return _without_none(
            {
                "id": self.id,
                "is_bot": self.is_bot,
                "first_name": self.first_name,
                "username": self.username,
                "language_code": self.language_code,
            }
        )

    @classmethod
    def from_dict(cls, data: JSON) -> User:
        return cls(data["id"], data["first_name"], data.get("username"), data.get("language_code"), data["is_bot"])

    def private_chat(self) -> Chat:
        """The one-to-one chat between this user and the bot (its id equals the user id, as in Telegram)."""
        return Chat(id=self.id, type="private", first_name=self.first_name, username=self.username)


@dataclass(frozen=True)
class FileInfo:
    """What ``getFile`` would tell about a registered file."""

    file_id: str
    file_unique_id: str
    file_size: int
    file_path: str


@dataclass(frozen=True)
class UploadedFile:
    """A multipart file part as it arrived on the wire."""

    filename: str
    content_type: str
    data: bytes


@dataclass
class RecordedRequest:
    """One HTTP request the fake received; ``status``/``response`` are filled in once it is answered.

    ``method`` is the canonical Bot API name (``sendMessage``) or, for unknown names, what the client sent;
    it is None for file downloads.
    """

    method: str | None
    http_method: str
    path: str
    headers: dict[str, str]
    params: dict[str, Any]
    files: dict[str, UploadedFile] = field(default_factory=dict)
    status: int | None = None
    response: Any = None


class ApiError(Exception):
    """An error answer of the Bot API, raised wherever a request turns out to be invalid."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def to_json(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(message: str, parameters: JSON | None = None) -> ApiError:
    return ApiError(400, f"Bad Request: {message}", parameters)


def forbidden(message: str) -> ApiError:
    return ApiError(403, f"Forbidden: {message}")


def to_integer(text: str) -> int:
    """tdlib's lenient ``to_integer``: an optional sign and the leading digits; anything else yields 0."""
    stripped = text.strip()
    sign = -1 if stripped.startswith("-") else 1
    digits = stripped.lstrip("+-")
    end = next((index for index, character in enumerate(digits) if not character.isdigit()), len(digits))
    return sign * int(digits[:end]) if end else 0
