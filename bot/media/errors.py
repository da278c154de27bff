"""Typed failures of media normalisation.

The pipeline decides per type what to do (skip silently, tell the user the file is broken, count it in
/stats), so each failure carries a short machine-readable ``reason`` fit for logs and metrics as it is.
"""

from __future__ import annotations

from bot.errors import Disposition, Failure


class MediaError(Failure):
    """Base class: the media cannot be turned into something the embedding API accepts."""

    default_reason = "media"
    disposition = Disposition.FAIL_ITEM
    message_key = "too_large"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason: str = reason or self.default_reason


class CorruptMedia(MediaError):
    """The bytes claim a format but cannot be decoded: truncated, damaged or empty."""

    default_reason = "corrupt"
    message_key = "corrupt"


class UnsupportedMedia(MediaError):
    """The bytes decode to nothing we can embed (a PDF, an animated TGS sticker, an audio-only file)."""

    default_reason = "unsupported"
    message_key = "unsupported"


class MediaTooLarge(MediaError):
    """Over a pixel or byte limit we refuse; a decompression bomb is reported with reason ``"bomb"``."""

    default_reason = "too_large"
