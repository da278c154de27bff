"""Structured (JSON lines) logging that can never print the bot token or the API key.

Secrets leak through places we do not control: httpx logs every request URL, and a Telegram URL contains the token.
So redaction happens in the formatter, on the final text of every record, not at each call site.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys() | {"message", "asctime"}
)
REDACTED = "[REDACTED]"


class RedactingJsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and every `extra=` field."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
            # PTB percent-quotes file paths, so the token's ':' may appear as '%3A'.
            text = text.replace(secret.replace(":", "%3A"), REDACTED)
        return text

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return self.redact(json.dumps(payload, default=str, ensure_ascii=False))


def configure_logging(level: str, secrets: Iterable[str], stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingJsonFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx/httpcore log each request URL at INFO; they are noise and (redacted or not) not worth a line each.
    # aiosqlite logs every statement twice at DEBUG, parameters included (vectors as kilobytes of bytes reprs).
    for noisy in ("httpx", "httpcore", "apscheduler", "aiosqlite"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # aiosqlite logs every statement with its parameters at DEBUG: people's captions would outlive their deletion in
    # the log, and two lines per statement drown everything else.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
