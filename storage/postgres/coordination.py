"""State the bot processes share on PostgreSQL, beside the data: how many repost alerts each group got in the last
minute, the items of albums awaiting their one alert, and whether embedding is paused for an account error. Each is
one short statement or transaction, decided by the database (row locks, advisory locks, conditional updates), so
whichever process asks gets one answer for all. Times are the database's clock: replicas on several machines agree
on it.

Implements bot.core.ports' AlertLedger, AlbumLedger and SharedPause structurally (storage never imports bot).
"""

from __future__ import annotations

from storage.models import AlbumEntry
from storage.postgres.db import PgDatabase

ALERT_WINDOW_SECONDS = 60.0
CLAIM_KEPT_SECONDS = 3600.0


class PgAlertLedger:
    """GROUP_ALERTS_PER_MINUTE per group across processes: the group's window is read and written under an advisory
    lock of its own, so two processes alerting one group at once cannot both take its last slot."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def record_if_room(self, chat_id: int, per_minute: int) -> bool:
        async with self._db.transaction() as work:
            conn = work.conn
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('alerts:' || $1::bigint, 0))", chat_id)
            now = float(await conn.fetchval("SELECT extract(epoch FROM clock_timestamp())::float8"))
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


class PgAlbumLedger:
    """An album's items as every process announced and reported them, and the claim on its one alert: the claim is
    a row inserted `ON CONFLICT DO NOTHING`, so one process wins; it deletes the album's items with it. Claims (and
    items of albums nobody claimed) are kept an hour, long past any album's debounce, then pruned."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def expect(self, chat_id: int, media_group_id: str, message_id: int) -> None:
        await self._db.execute(
            "INSERT INTO album_items (chat_id, media_group_id, message_id) VALUES ($1, $2, $3)"
            " ON CONFLICT DO NOTHING", chat_id, media_group_id, message_id)

    async def report(self, chat_id: int, media_group_id: str, entry: AlbumEntry) -> None:
        await self._db.execute(
            "INSERT INTO album_items (chat_id, media_group_id, message_id, reported, hit_item_id, score, identical,"
            " copies) VALUES ($1, $2, $3, true, $4, $5, $6, $7)"
            " ON CONFLICT (chat_id, media_group_id, message_id) DO UPDATE SET reported = true,"
            " hit_item_id = excluded.hit_item_id, score = excluded.score, identical = excluded.identical,"
            " copies = excluded.copies",
            chat_id, media_group_id, entry.message_id, entry.hit_item_id, entry.score, entry.identical, entry.copies)

    async def entries(self, chat_id: int, media_group_id: str) -> list[AlbumEntry]:
        rows = await self._db.fetch(
            "SELECT message_id, reported, hit_item_id, score, identical, copies FROM album_items"
            " WHERE chat_id = $1 AND media_group_id = $2 ORDER BY message_id", chat_id, media_group_id)
        return [AlbumEntry(int(row["message_id"]), bool(row["reported"]), row["hit_item_id"],
                           float(row["score"] or 0.0), bool(row["identical"]), int(row["copies"] or 0))
                for row in rows]

    async def claim(self, chat_id: int, media_group_id: str) -> bool:
        async with self._db.transaction() as work:
            conn = work.conn
            await conn.execute("DELETE FROM album_alerts WHERE at <= extract(epoch FROM clock_timestamp()) - $1",
                               CLAIM_KEPT_SECONDS)
            await conn.execute("DELETE FROM album_items WHERE at <= extract(epoch FROM clock_timestamp()) - $1",
                               CLAIM_KEPT_SECONDS)
            won = await conn.fetchval(
                "INSERT INTO album_alerts (chat_id, media_group_id) VALUES ($1, $2)"
                " ON CONFLICT DO NOTHING RETURNING true", chat_id, media_group_id)
            if won:
                await conn.execute("DELETE FROM album_items WHERE chat_id = $1 AND media_group_id = $2",
                                   chat_id, media_group_id)
            return bool(won)
