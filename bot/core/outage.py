"""Riding out a database outage where giving up would lose something: an update Telegram will not deliver again.

A media or text update is confirmed to Telegram (the next getUpdates, the webhook's answer) only once its handler
returns, so a handler that waits for the database keeps Telegram holding the update. Waiting is bounded: an outage
longer than `PATIENCE_SECONDS` is an operator's problem, and the update is then dropped with an error in the log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from storage.errors import StoreUnavailable

log = logging.getLogger(__name__)

PATIENCE_SECONDS = 300.0
"""Long enough for a restart, an upgrade or a failover of the database server."""
FIRST_WAIT_SECONDS = 0.5
LONGEST_WAIT_SECONDS = 10.0

T = TypeVar("T")


async def once_stored(store: Callable[[], Awaitable[T]], *, about: dict[str, Any],
                      patience: float = PATIENCE_SECONDS) -> T:
    """`store()`, tried again with growing waits while the database is unavailable, for up to `patience` seconds;
    `about` says in the log what waits (chat and message ids)."""
    deadline = time.monotonic() + patience
    wait = FIRST_WAIT_SECONDS
    while True:
        try:
            return await store()
        except StoreUnavailable as exc:
            if time.monotonic() + wait > deadline:
                log.error("database unavailable too long; update dropped",
                          extra={**about, "waited_seconds": patience, "error": str(exc)})
                raise
            log.warning("storing the update waits for the database",
                        extra={**about, "retry_in_seconds": wait, "error": str(exc)})
            await asyncio.sleep(wait)
            wait = min(wait * 2, LONGEST_WAIT_SECONDS)
