"""An in-memory ChatGateway: the core's view of Telegram, for fast tests of the use cases without any server."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.core.ports import FileUnavailable, GatewayError
from bot.core.types import FileRef, Outgoing


@dataclass
class MemoryGateway:
    files: dict[str, bytes] = field(default_factory=dict)
    """Downloadable bytes by file_id; any other id is unavailable, as for a file Telegram no longer serves."""
    sent: list[Outgoing] = field(default_factory=list)
    typing: list[int] = field(default_factory=list)
    failures: list[GatewayError] = field(default_factory=list)
    """Raised by the next sends, one each, in order (then sends succeed again)."""

    async def download(self, file: FileRef) -> bytes | Path:
        try:
            return self.files[file.file_id]
        except KeyError:
            raise FileUnavailable(f"no file {file.file_id}") from None

    async def send(self, message: Outgoing) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)

    async def show_typing(self, chat_id: int) -> None:
        self.typing.append(chat_id)

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [m.text_html or "" for m in self.sent if chat_id is None or m.chat_id == chat_id]
