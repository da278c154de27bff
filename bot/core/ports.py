"""What the pipeline needs from the Telegram side, as a protocol, so that it can run (and be tested) without PTB.

The errors are the decisions the pipeline makes about Telegram failures: a file that cannot be fetched falls back to
its thumbnail, a chat that is gone stops being served, a chat that moved is migrated, and anything else is retried.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from bot.core.types import FileRef, Outgoing


class GatewayError(Exception):
    """Base of every failure the Telegram side reports to the pipeline."""


class FileTooBig(GatewayError):
    """The Bot API will not hand the file out (cloud API, over 20 MB)."""


class FileUnavailable(GatewayError):
    """The file id is not (or no longer) downloadable; retrying will not help."""


class TransientTelegramError(GatewayError):
    """Network trouble or flood control; worth retrying later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Undeliverable(GatewayError):
    """Telegram refused this particular message (chat not found, bad markup…); sending it again will not help."""


class ChatGone(GatewayError):
    """The bot was kicked or blocked: stop working for this chat."""


class ChatMoved(GatewayError):
    """The group became a supergroup; everything must follow it to the new id."""

    def __init__(self, new_chat_id: int) -> None:
        super().__init__(f"chat migrated to {new_chat_id}")
        self.new_chat_id = new_chat_id


class ChatGateway(Protocol):
    async def download(self, file: FileRef) -> bytes | Path:
        """The file's bytes, or a local path when a `--local` Bot API server hands one out."""
        ...

    async def send(self, message: Outgoing) -> None: ...
