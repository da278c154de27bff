"""The durable job queue on PostgreSQL, shared by every bot process on the database.

The same contract as storage.jobs.JobRepository (idempotent keys, one media job per chat at a time and oldest
first, a lane of text jobs), with several processes claiming at once:

- A claimed row is locked `FOR UPDATE SKIP LOCKED`, so two claimers never take the same job and never wait for
  each other's rows.
- Media claims of all processes take turns under one transaction-level advisory lock. Read committed alone would let
  two claimers, each with a snapshot that misses the other's uncommitted claim, start two jobs of one chat (for
  example when two jobs of a chat were enqueued by two processes and committed out of id order); under the lock
  every media claim sees all earlier ones. A claim is one short statement, so the turn costs milliseconds.
- Each process is alive as long as it holds a session-level advisory lock `(LIVENESS, token)` on a connection of its
  own, and writes its token into `claimed_by` of the jobs it claims. PostgreSQL drops the lock with the connection,
  so the running jobs of a process that died (`kill -9`, a lost machine) are orphans at once: the next claim of any
  other process takes them as if pending, counting the interrupted run as an attempt (a job that kills its process
  must not do so forever). A process that closes in order hands its running jobs back as pending first, uncounted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from storage.jobs import (
    BACKLOG,
    COMPLETE,
    DUE_COUNT,
    ENQUEUE,
    FAIL,
    GET,
    PENDING_COUNT,
    POSTPONE,
    PRUNE_FINISHED,
    RECENT_FAILURES,
    RETRY_LATER,
    SET_REPLY_STATE,
    TEXT_EDIT_JOB,
    TEXT_JOB,
    job_from_row,
)
from storage.models import Job, JobState
from storage.postgres.db import Connection, PgDatabase, answers, translated
from storage.postgres.sql import numbered, row_count

log = logging.getLogger(__name__)

LIVENESS = 0x6A6F62  # "job"
"""First key of the session-level advisory lock `(LIVENESS, token)` that a claiming process holds while alive."""
MEDIA_CLAIMS = (0x636C6D, 0)  # "clm"
"""The transaction-level advisory lock under which media claims take turns."""
_TEXT_KINDS = [TEXT_JOB, TEXT_EDIT_JOB]

_LIVE_OWNERS = f"""
    SELECT l.objid::bigint FROM pg_locks AS l
    WHERE l.locktype = 'advisory' AND l.classid = {LIVENESS}::oid AND l.objsubid = 2 AND l.granted
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""  # noqa: S608 - constants only
"""The tokens of the processes alive now (on this database: tests run many databases on one server)."""

_CLAIMABLE = f"""(j.state = 'pending' AND j.next_attempt_at <= $1
    OR j.state = 'running' AND (j.claimed_by IS NULL OR j.claimed_by NOT IN ({_LIVE_OWNERS})))"""
"""Due and pending, or running for a process that is gone."""

_MEDIA_TURN = f"""j.kind <> ALL($4::text[]) AND j.id = (
    SELECT min(h.id) FROM jobs AS h WHERE h.chat_id = j.chat_id AND h.kind <> ALL($4::text[])
    AND h.state IN ('pending', 'running'))
AND NOT EXISTS (
    SELECT 1 FROM jobs AS r WHERE r.chat_id = j.chat_id AND r.kind <> ALL($4::text[]) AND r.state = 'running'
    AND r.id <> j.id AND r.claimed_by IN ({_LIVE_OWNERS}))"""  # noqa: S608 - constants only
"""The chat's oldest unfinished media job, and no other of its media jobs running in a live process (a job enqueued
by another process may commit after a later one of the same chat was already claimed)."""

_TEXT_LANE = "j.kind = ANY($4::text[])"


class PgJobRepository:
    def __init__(self, db: PgDatabase, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock
        self._liveness: Connection | None = None
        self._token: int | None = None
        self._owning = asyncio.Lock()

    def _now(self) -> int:
        return int(self._clock())

    async def enqueue(self, key: str, chat_id: int, kind: str, payload: dict[str, Any], *, now: int) -> Job | None:
        """The new job, or None when a job with this key already exists (whatever its state, whichever process
        enqueued it: the unique key decides, also between two processes inserting at once)."""
        row = await self._fetchrow(
            numbered(ENQUEUE), key, chat_id, kind, json.dumps(payload), JobState.PENDING.value, now, now, now,
        )
        return None if row is None else job_from_row(row)

    async def claim(self, *, now: int, limit: int) -> list[Job]:
        """Mark up to `limit` due media jobs running for this process, returned by id; per chat only its oldest
        unfinished one, and none while another of the chat's runs in a live process."""
        return await self._claim_where(_MEDIA_TURN, now=now, limit=limit, turn=MEDIA_CLAIMS)

    async def claim_texts(self, *, now: int, limit: int) -> list[Job]:
        """Mark up to `limit` due text jobs running, of any chats, several of one chat at once (they are embedded
        many per request); row locks alone keep two processes from taking the same one."""
        return await self._claim_where(_TEXT_LANE, now=now, limit=limit, turn=None)

    async def _claim_where(self, condition: str, *, now: int, limit: int, turn: tuple[int, int] | None) -> list[Job]:
        token = await self._owner_token()
        async with self._db.transaction() as work:
            if turn is not None:
                await work.conn.execute("SELECT pg_advisory_xact_lock($1, $2)", *turn)
            rows = await work.conn.fetch(
                f"""
                WITH picked AS (
                    SELECT j.id FROM jobs AS j WHERE {_CLAIMABLE} AND {condition} AND $3 IN ({_LIVE_OWNERS})
                    ORDER BY j.id LIMIT $2 FOR UPDATE OF j SKIP LOCKED)
                UPDATE jobs SET state = 'running', claimed_by = $3, updated_at = $1,
                    attempts = jobs.attempts + (jobs.state = 'running')::int
                FROM picked WHERE jobs.id = picked.id
                RETURNING jobs.*
                """,  # noqa: S608 - the condition is one of the module's literals; `$3 IN …`: never claim for a
                # process whose liveness lock is gone, whatever this process believes of its connection
                now, limit, token, _TEXT_KINDS,
            )
        return sorted(map(job_from_row, rows), key=lambda job: job.id)

    async def complete(self, job_id: int) -> None:
        await self._update(COMPLETE, job_id)

    async def retry_later(self, job_id: int, *, at: int, error: str) -> None:
        """Back to pending until `at`; the chat's later jobs wait for it."""
        await self._update(RETRY_LATER, at, error, job_id)

    async def postpone(self, job_id: int, *, at: int, error: str) -> None:
        """Back to pending until `at` without counting an attempt (see storage.jobs.JobRepository.postpone)."""
        await self._update(POSTPONE, at, error, job_id)

    async def fail(self, job_id: int, error: str) -> None:
        """Give up for good (counted as an attempt); the chat's next job becomes runnable."""
        await self._update(FAIL, error, job_id)

    async def set_reply_state(self, job_id: int, state: str) -> None:
        """Recorded before and after sending: a job resumed after a crash can tell whether it replied."""
        await self._update(SET_REPLY_STATE, state, job_id)

    async def requeue_running(self) -> int:
        """At start-up: running jobs of processes that are gone, and this one's own, are pending again (uncounted);
        returns how many. Jobs running in other live processes are theirs to finish."""
        token = await self._owner_token()
        status = await self._db.execute(
            f"UPDATE jobs SET state = 'pending', claimed_by = NULL, updated_at = $1 WHERE state = 'running' "  # noqa: S608
            f"AND (claimed_by IS NULL OR claimed_by = $2 OR claimed_by NOT IN ({_LIVE_OWNERS}))",
            self._now(), token,
        )
        return row_count(status)

    async def close(self) -> None:
        """Hand this process's running jobs back as pending (a shutdown is not the jobs' fault), then let go of the
        liveness lock. Call before closing the database."""
        async with self._owning:
            if self._liveness is None:
                return
            # Jobs another process took over meanwhile carry its token now: they are not touched.
            await self._db.execute(
                "UPDATE jobs SET state = 'pending', claimed_by = NULL, updated_at = $1 "
                "WHERE state = 'running' AND claimed_by = $2", self._now(), self._token,
            )
            await self._liveness.close()
            self._liveness = self._token = None

    async def counts(self, chat_id: int | None = None) -> dict[str, int]:
        """Jobs by state (every state present, zeros included), for one chat or all."""
        rows = await self._db.fetch(
            "SELECT state, count(*) FROM jobs WHERE $1::bigint IS NULL OR chat_id = $1 GROUP BY state", chat_id,
        )
        return {state.value: 0 for state in JobState} | {str(row[0]): int(row[1]) for row in rows}

    async def backlog(self) -> tuple[int, int | None]:
        """Jobs pending or running, and when the oldest pending one was created (None: none pending)."""
        count, oldest = await self._fetchrow(BACKLOG)
        return int(count), None if oldest is None else int(oldest)

    async def pending_count(self) -> int:
        return int(await self._db.fetchval(PENDING_COUNT))

    async def due_count(self, *, now: int) -> int:
        """Jobs running or due to run: work people may be waiting on (an import of history waits for none)."""
        return int(await self._db.fetchval(numbered(DUE_COUNT), now))

    async def get(self, job_id: int) -> Job | None:
        row = await self._fetchrow(numbered(GET), job_id)
        return None if row is None else job_from_row(row)

    async def recent_failures(self, chat_id: int, limit: int = 5) -> list[Job]:
        """Newest first."""
        return [job_from_row(row) for row in await self._db.fetch(numbered(RECENT_FAILURES), chat_id, limit)]

    async def prune_finished(self, older_than: int) -> int:
        """Delete done and failed jobs that last changed before `older_than` (unix seconds); returns how many."""
        return row_count(await self._db.execute(numbered(PRUNE_FINISHED), older_than))

    async def _owner_token(self) -> int:
        """This process's token, its liveness lock taken on first use (and again after the lock's connection was
        lost: the jobs claimed under the old token are then orphans that any process may resume)."""
        async with self._owning:
            if self._liveness is not None and await answers(self._liveness):
                assert self._token is not None
                return self._token
            if self._liveness is not None:
                log.warning("job liveness connection lost; claiming under a new token",
                            extra={"old_token": self._token})
                self._liveness.terminate()
                self._liveness = None  # said once per loss, however long the server stays away
            conn = await self._db.connect()
            try:
                with translated():
                    token = int(await conn.fetchval("SELECT nextval('job_claimers')"))
                    await conn.execute("SELECT pg_advisory_lock($1, $2)", LIVENESS, token)
            except BaseException:
                conn.terminate()
                raise
            self._liveness, self._token = conn, token
            return token

    async def _fetchrow(self, query: str, *args: Any) -> Any:
        rows = await self._db.fetch(query, *args)
        return rows[0] if rows else None

    async def _update(self, statement: str, *args: Any) -> None:
        """`statement` (a shared one) sets `updated_at` first; the current time fills it in. A job that vanished
        meanwhile (its chat was purged) is not an error: nothing is left to update."""
        await self._db.execute(numbered(statement), self._now(), *args)

