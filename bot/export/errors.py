"""What can be wrong with an export as a whole; each stops the command with one clear line (exit code 2)."""

from __future__ import annotations


class ExportError(Exception):
    """The export cannot be read (any further); the message is the line the operator is shown."""


class NotAnExport(ExportError):
    """Missing, unreadable, not JSON, or JSON without a chat and its messages."""


class ExportTruncated(ExportError):
    """The JSON breaks off (a copy cut short): everything before the break was read."""


class NotABotChat(ExportError):
    """Saved messages (or an unknown chat type): no chat a bot can be in, so no chat id to file it under."""
