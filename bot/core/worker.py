"""The worker pool over the durable job queue: claims due jobs, runs them, hands failures to the policy.

Jobs live in the database, so memory stays bounded however long the queue grows and a restart resumes what was
unfinished. While embedding is paused (bot.core.health), one job at a time is let through as a probe.

Text messages have a lane of their own, as wide as two of the model's batches: each text job mostly waits for its
batch to fill, so many run at once (one batch filling while the previous one is in flight) without taking a worker
from the media.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Protocol

from bot.core.failures import FailurePolicy
from bot.core.health import EmbeddingHealth
from bot.core.ports import JobQueue
from storage.errors import StoreUnavailable
from storage.models import Job

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 1.0


class JobHandler(Protocol):
    async def run(self, job: Job) -> None: ...


class JobRunner:
    def __init__(self, jobs: JobQueue, handler: JobHandler, policy: FailurePolicy, health: EmbeddingHealth, *,
                 workers: int, texts: JobHandler | None = None, text_lane: int = 0) -> None:
        self._jobs = jobs
        self._handler = handler
        self._texts = texts
        self._text_lane = text_lane if texts is not None else 0
        self._running_texts: set[asyncio.Task[None]] = set()
        self._policy = policy
        self._health = health
        self._workers = workers
        self._probe_ids: set[int] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self._dispatcher: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        resumed = await self._jobs.requeue_running()
        if resumed:
            log.info("resumed unfinished jobs", extra={"count": resumed})
        self._dispatcher = asyncio.create_task(self._dispatch(), name="job-dispatcher")

    def wake(self) -> None:
        """Called when a job was enqueued, so it starts now rather than at the next poll."""
        self._wake.set()

    @property
    def busy(self) -> bool:
        """Some job is in hand in this process."""
        return bool(self._running or self._running_texts)

    async def stop(self, grace_seconds: float) -> None:
        """Stop claiming, let in-flight jobs finish within the grace period; the rest stays pending for next time."""
        self._stopping = True
        self._wake.set()
        if self._dispatcher is not None:
            await self._dispatcher
        running = self._running | self._running_texts
        if running:
            _done, pending = await asyncio.wait(running, timeout=grace_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            if pending:
                log.warning("jobs interrupted by shutdown, left for restart", extra={"count": len(pending)})

    async def _dispatch(self) -> None:
        while not self._stopping:
            try:
                claimed = await self._claim()
            except StoreUnavailable as exc:  # restarting: the pool reconnects by itself, the next poll claims
                log.warning("claiming jobs waits for the database", extra={"error": str(exc)})
                claimed = []
            except Exception:  # e.g. the database is locked or the disk full: keep the loop alive, try again soon
                log.exception("claiming jobs failed")
                claimed = []
            for job, handler, lane in claimed:
                task = asyncio.create_task(self._run(job, handler), name=f"job-{job.id}")
                lane.add(task)
                task.add_done_callback(self._job_finished)
            if not claimed:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), IDLE_POLL_SECONDS)

    async def _claim(self) -> list[tuple[Job, JobHandler, set[asyncio.Task[None]]]]:
        """As many due jobs as there are free workers, and texts as the text lane has room; while embedding is
        paused, only its probe (a media job: texts wait for the service to work again)."""
        free = self._workers - len(self._running)
        breaker = self._health.breaker
        if not breaker.allow():
            return []
        now = int(time.time())
        if breaker.is_open:
            probe = await self._jobs.claim(now=now, limit=1) if free > 0 else []
            self._probe_ids.update(job.id for job in probe)
            return [(job, self._handler, self._running) for job in probe]
        media = await self._jobs.claim(now=now, limit=free) if free > 0 else []
        claimed = [(job, self._handler, self._running) for job in media]
        text_room = self._text_lane - len(self._running_texts)
        if self._texts is not None and text_room > 0:
            texts = await self._jobs.claim_texts(now=now, limit=text_room)
            claimed += [(job, self._texts, self._running_texts) for job in texts]
        return claimed

    def _job_finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._running_texts.discard(task)
        self._wake.set()

    async def _run(self, job: Job, handler: JobHandler) -> None:
        probe = job.id in self._probe_ids
        try:
            await handler.run(job)
        except asyncio.CancelledError:
            raise  # shutdown: the job is still 'running' in the DB and is resumed at the next start
        except Exception as exc:
            await self._record_failure(job, exc, probe)
        else:
            await self._completed(job)
        finally:
            self._probe_ids.discard(job.id)

    async def _completed(self, job: Job) -> None:
        """A job done while the database went away stays 'running' under this process's lost liveness token: an
        orphan, which a claim runs again once the database is back (its reply state tells it not to answer twice)."""
        try:
            await self._jobs.complete(job.id)
        except StoreUnavailable as exc:
            log.warning("could not mark a job done; it runs again", extra={"job_id": job.id, "error": str(exc)})

    async def _record_failure(self, job: Job, exc: Exception, probe: bool) -> None:
        """An error while deciding (the database, a send) must not vanish with the task: it is logged, and the job,
        still 'running', resumes at the next start."""
        try:
            await self._policy.handle(job, exc, probe=probe)
        except Exception:
            log.exception("could not record the outcome of a job", extra={"job_id": job.id, "chat_id": job.chat_id})
