"""State the bot processes share on PostgreSQL, beside the data: how many repost alerts each group got in the last
minute, and whether embedding is paused for an account error. Each is one short statement or transaction, decided by
the database (row locks, advisory locks, conditional updates), so whichever process asks gets one answer for all.

Implements bot.core.ports' AlertLedger and SharedPause structurally (storage never imports bot).
"""

from __future__ import annotations

from storage.postgres.db import PgDatabase

ALERT_WINDOW_SECONDS = 60.0
NOW = "extract(epoch FROM clock_timestamp())::float8"
"""The database's clock: replicas on several machines agree on it."""


class PgAlertLedger:
    """GROUP_ALERTS_PER_MINUTE per group across processes: the group's window is read and written under an advisory
    lock of its own, so two processes alerting one group at once cannot both take its last slot."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def record_if_room(self, chat_id: int, per_minute: int) -> bool:
        async with self._db.transaction() as work:
            conn = work.conn
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('alerts:' || $1::text, 0))", chat_id)
            now = float(await conn.fetchval(f"SELECT {NOW}"))
            await conn.execute("DELETE FROM alerts_sent WHERE at <= $1", now - ALERT_WINDOW_SECONDS)
            sent = int(await conn.fetchval("SELECT count(*) FROM alerts_sent WHERE chat_id = $1", chat_id))
            if sent >= per_minute:
                return False
            await conn.execute("INSERT INTO alerts_sent (chat_id, at) VALUES ($1, $2)", chat_id, now)
            return True


class PgPause:
    """The deployment's pause for an account error, one row: pausing and resuming are conditional updates of it,
    so exactly one process learns that it paused (or resumed) embedding, and tells the operators."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def pause(self, code: str) -> bool:
        return bool(await self._db.fetchval(
            "UPDATE embedding_pause SET cause = 'account', code = $1, changed_at = now() WHERE cause IS NULL"
            " RETURNING true", code))

    async def resume(self) -> bool:
        return bool(await self._db.fetchval(
            "UPDATE embedding_pause SET cause = NULL, code = NULL, changed_at = now() WHERE cause IS NOT NULL"
            " RETURNING true"))

    async def paused_code(self) -> str | None:
        code = await self._db.fetchval("SELECT code FROM embedding_pause WHERE cause IS NOT NULL")
        return None if code is None else str(code)
