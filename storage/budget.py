"""The DashScope request budget's shared record on SQLite: the bot and an `import-history` running beside it open
the same database file, so each request's admission is one `BEGIN IMMEDIATE` transaction on it, which SQLite
serialises across processes (a writer waits up to the busy timeout for another's lock).

The rules live with the limiter (`bot.dashscope.ratelimit.Claim`); this keeps the record and the lock. Implements
`bot.dashscope.ratelimit.SharedWindow` structurally.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from storage.db import Database

WINDOW_SECONDS = 60.0
Start = tuple[float, str]
Claim = Callable[[Sequence[Start], float], tuple[float, str | None]]


class SqliteWindow:
    """Starts are stamped with the wall clock: every process on one database file is on one machine, one clock."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    async def take(self, claim: Claim) -> float:
        async with self._db.transaction() as conn:
            now = self._clock()
            await conn.execute("DELETE FROM api_requests WHERE at <= ?", (now - WINDOW_SECONDS,))
            rows = await conn.execute_fetchall("SELECT at, lane FROM api_requests")
            wait, record = claim([(float(at), str(lane)) for at, lane in rows], now)
            if record is not None:
                await conn.execute("INSERT INTO api_requests (at, lane) VALUES (?, ?)", (now, record))
        return wait
