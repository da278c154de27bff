"""The DashScope request budget's shared record on PostgreSQL: every bot process (and an import) admits each request
in one short transaction that holds an advisory lock, so the account's DASHSCOPE_RPM holds for all of them together.

Starts are stamped with the database's clock, not the process's: replicas on different machines agree on it. The
rules live with the limiter (`bot.dashscope.ratelimit.Claim`); this keeps the record and the lock. Implements
`bot.dashscope.ratelimit.SharedWindow` structurally.
"""

from __future__ import annotations

from storage.budget import WINDOW_SECONDS, Claim
from storage.postgres.db import PgDatabase

BUDGET_LOCK = 0x6D65_6469_6162_7270  # "mediabrp"
"""The advisory lock key that serialises admissions across processes."""


class PgWindow:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def take(self, claim: Claim) -> float:
        async with self._db.transaction() as work:
            conn = work.conn
            await conn.execute("SELECT pg_advisory_xact_lock($1)", BUDGET_LOCK)
            now = float(await conn.fetchval("SELECT extract(epoch FROM clock_timestamp())::float8"))
            await conn.execute("DELETE FROM api_requests WHERE at <= $1", now - WINDOW_SECONDS)
            rows = await conn.fetch("SELECT at, lane FROM api_requests")
            wait, record = claim([(float(row["at"]), str(row["lane"])) for row in rows], now)
            if record is not None:
                await conn.execute("INSERT INTO api_requests (at, lane) VALUES ($1, $2)", now, record)
        return wait
