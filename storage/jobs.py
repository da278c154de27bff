"""The durable ingestion queue: work survives a crash or restart because it lives in SQLite, not in memory.

Each job has a caller-chosen key (e.g. derived from the Telegram update), so the same update delivered twice
makes one job. Jobs of one chat run strictly one after another, oldest first, so the bot's replies in a chat
keep the order of the posts; a job waiting for its retry time holds back its chat (and only its chat), a
failed one does not. Text messages (kinds `TEXT_JOB`, `TEXT_EDIT_JOB`) are the exception: they are embedded many per
request, so they are claimed together across and within chats.

Finished jobs (done or failed) are kept a while, for /stats and to recognise a re-delivered update, and then pruned
by `prune_finished`; every change of a job stamps `updated_at` with the repository's clock.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from storage.db import Database
from storage.models import Job, JobState
from storage.rows import Row

TEXT_JOB = "text"
TEXT_EDIT_JOB = "text_edit"

# Statements both backends run as they are (storage.postgres numbers the `?` placeholders).
ENQUEUE = ("INSERT INTO jobs (key, chat_id, kind, payload, state, next_attempt_at, created_at, updated_at) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING RETURNING *")
COMPLETE = "UPDATE jobs SET updated_at = ?, state = 'done' WHERE id = ?"
RETRY_LATER = ("UPDATE jobs SET updated_at = ?, state = 'pending', attempts = attempts + 1, next_attempt_at = ?, "
               "error = ? WHERE id = ?")
POSTPONE = "UPDATE jobs SET updated_at = ?, state = 'pending', next_attempt_at = ?, error = ? WHERE id = ?"
FAIL = "UPDATE jobs SET updated_at = ?, state = 'failed', attempts = attempts + 1, error = ? WHERE id = ?"
SET_REPLY_STATE = "UPDATE jobs SET updated_at = ?, reply_state = ? WHERE id = ?"
BACKLOG = ("SELECT count(*), min(CASE WHEN state = 'pending' THEN created_at END) FROM jobs "
           "WHERE state IN ('pending', 'running')")
PENDING_COUNT = "SELECT count(*) FROM jobs WHERE state = 'pending'"
DUE_COUNT = "SELECT count(*) FROM jobs WHERE state = 'running' OR (state = 'pending' AND next_attempt_at <= ?)"
GET = "SELECT * FROM jobs WHERE id = ?"
RECENT_FAILURES = "SELECT * FROM jobs WHERE chat_id = ? AND state = 'failed' ORDER BY id DESC LIMIT ?"
PRUNE_FINISHED = "DELETE FROM jobs WHERE state IN ('done', 'failed') AND updated_at < ?"


class JobRepository:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock())

    async def enqueue(self, key: str, chat_id: int, kind: str, payload: dict[str, Any], *, now: int) -> Job | None:
        """The new job, or None when a job with this key already exists (whatever its state)."""
        async with self._db.transaction() as conn:
            rows = list(
                await conn.execute_fetchall(
                    ENQUEUE, (key, chat_id, kind, json.dumps(payload), JobState.PENDING.value, now, now, now)
                )
            )
        return job_from_row(rows[0]) if rows else None

    async def claim(self, *, now: int, limit: int) -> list[Job]:
        """Mark up to `limit` due media jobs running, returned by id; per chat only its oldest unfinished one.

        Text jobs are a lane of their own (`claim_texts`): they neither wait for nor hold up a chat's media."""
        return await self._claim_where(
            """j.kind NOT IN (:text, :text_edit) AND j.id = (
                SELECT min(h.id) FROM jobs AS h WHERE h.chat_id = j.chat_id AND h.kind NOT IN (:text, :text_edit)
                AND h.state IN ('pending', 'running'))""",
            now=now, limit=limit,
        )

    async def claim_texts(self, *, now: int, limit: int) -> list[Job]:
        """Mark up to `limit` due text jobs running, of any chats, several of one chat at once: they are embedded
        many per request, which a chat-at-a-time order would reduce to one text per request."""
        return await self._claim_where("j.kind IN (:text, :text_edit)", now=now, limit=limit)

    async def _claim_where(self, condition: str, *, now: int, limit: int) -> list[Job]:
        async with self._db.transaction() as conn:
            rows = await conn.execute_fetchall(
                f"""
                UPDATE jobs SET state = 'running', updated_at = :now WHERE id IN (
                    SELECT j.id FROM jobs AS j
                    WHERE j.state = 'pending' AND j.next_attempt_at <= :now AND {condition}
                    ORDER BY j.id LIMIT :limit)
                RETURNING *
                """,  # noqa: S608 - the condition is one of the two literals above
                {"now": now, "limit": limit, "text": TEXT_JOB, "text_edit": TEXT_EDIT_JOB},
            )
        return sorted(map(job_from_row, rows), key=lambda job: job.id)

    async def complete(self, job_id: int) -> None:
        await self._update(COMPLETE, (job_id,))

    async def retry_later(self, job_id: int, *, at: int, error: str) -> None:
        """Back to pending until `at`; the chat's later jobs wait for it."""
        await self._update(RETRY_LATER, (at, error, job_id))

    async def postpone(self, job_id: int, *, at: int, error: str) -> None:
        """Back to pending until `at` without counting an attempt: the job did nothing wrong (embedding is paused,
        or its chat moved), so a long pause must not use up the attempts it has for its own failures."""
        await self._update(POSTPONE, (at, error, job_id))

    async def fail(self, job_id: int, error: str) -> None:
        """Give up for good (counted as an attempt); the chat's next job becomes runnable."""
        await self._update(FAIL, (error, job_id))

    async def set_reply_state(self, job_id: int, state: str) -> None:
        """Recorded before and after sending: a job resumed after a crash can tell whether it replied."""
        await self._update(SET_REPLY_STATE, (state, job_id))

    async def requeue_running(self) -> int:
        """At start-up, jobs left running by a crash are pending again; returns how many."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE jobs SET state = 'pending', updated_at = ? WHERE state = 'running'", (self._now(),)
            )
            return cursor.rowcount

    async def counts(self, chat_id: int | None = None) -> dict[str, int]:
        """Jobs by state (every state present, zeros included), for one chat or all."""
        async with self._db.read() as conn:
            rows = await conn.execute_fetchall(
                "SELECT state, count(*) FROM jobs WHERE :chat IS NULL OR chat_id = :chat GROUP BY state",
                {"chat": chat_id},
            )
        return {state.value: 0 for state in JobState} | {str(row[0]): int(row[1]) for row in rows}

    async def backlog(self) -> tuple[int, int | None]:
        """Jobs pending or running, and when the oldest pending one was created (None: none pending)."""
        async with self._db.read() as conn:
            rows = await conn.execute_fetchall(BACKLOG)
        count, oldest = next(iter(rows))
        return int(count), None if oldest is None else int(oldest)

    async def pending_count(self) -> int:
        async with self._db.read() as conn:
            rows = await conn.execute_fetchall(PENDING_COUNT)
        return int(next(iter(rows))[0])

    async def due_count(self, *, now: int) -> int:
        """Jobs running or due to run: work people may be waiting on (an import of history waits for none)."""
        async with self._db.read() as conn:
            rows = await conn.execute_fetchall(DUE_COUNT, (now,))
        return int(next(iter(rows))[0])

    async def get(self, job_id: int) -> Job | None:
        async with self._db.read() as conn:
            rows = list(await conn.execute_fetchall(GET, (job_id,)))
        return job_from_row(rows[0]) if rows else None

    async def recent_failures(self, chat_id: int, limit: int = 5) -> list[Job]:
        """Newest first."""
        async with self._db.read() as conn:
            rows = await conn.execute_fetchall(RECENT_FAILURES, (chat_id, limit))
        return [job_from_row(row) for row in rows]

    async def prune_finished(self, older_than: int) -> int:
        """Delete done and failed jobs that last changed before `older_than` (unix seconds); returns how many.

        Failed jobs are kept exactly as long as done ones: /stats lists the recent failures of a chat."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(PRUNE_FINISHED, (older_than,))
            return cursor.rowcount

    async def _update(self, query: str, params: tuple[Any, ...]) -> None:
        """`query` sets `updated_at = ?` first; the current time fills it in. A job that vanished meanwhile (its chat
        was purged) is not an error: nothing is left to update."""
        async with self._db.transaction() as conn:
            await conn.execute(query, (self._now(), *params))


def job_from_row(row: Row) -> Job:
    """The payload is JSON text in both backends (asyncpg hands JSONB over as text)."""
    return Job(
        id=row["id"],
        key=row["key"],
        chat_id=row["chat_id"],
        kind=row["kind"],
        payload=json.loads(row["payload"]),
        state=row["state"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        error=row["error"],
        reply_state=row["reply_state"],
        created_at=row["created_at"],
    )
