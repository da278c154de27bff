"""The worker pool over the durable job queue: where a failed job is retried, failed for good, or paused.

Jobs live in SQLite, so memory stays bounded however long the queue grows and a restart resumes what was unfinished.
Decisions by error type: retryable service or network trouble → retry with exponential backoff (the schedule is stored
on the job, so it survives restarts), or, when every job is failing so (an outage), a pause of all embedding by the
circuit breaker, so that no item runs out of attempts while the service is down; account-level DashScope errors →
the breaker pauses all embedding and the operators are told; anything about the item itself (corrupt, unsupported,
rejected, over the cap) → failed with its reason, and the person is told where they asked (a private chat).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable

from bot.core.breaker import CircuitBreaker
from bot.core.caps import OverCap
from bot.core.ingest import IngestService
from bot.core.ports import ChatGateway, ChatGone, ChatMoved, FileTooBig, FileUnavailable, GatewayError
from bot.core.types import IncomingMedia
from bot.dashscope.errors import EmbeddingError
from bot.media.errors import MediaError
from bot.replies import format as fmt
from bot.replies.failures import failure_text
from bot.replies.i18n import language_of, t
from storage.models import Job
from storage.store import Store

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 1.0
BACKOFF_BASE = 2.0
BACKOFF_CAP = 600.0

OperatorNotice = Callable[[str], Awaitable[None]]


def backoff_delay(attempts: int, hint: float | None = None) -> float:
    """Exponential (2 s, 4 s, … ≤ 10 min) with jitter; a service's own Retry-After wins when it asks for longer."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2.0**attempts) * (1 + random.random() * 0.25)
    return max(float(delay), hint or 0.0)


class JobRunner:
    def __init__(self, store: Store, ingest: IngestService, gateway: ChatGateway, breaker: CircuitBreaker, *,
                 workers: int, max_attempts: int, notify_operators: OperatorNotice,
                 api_requests: Callable[[], int]) -> None:
        self._store = store
        self._ingest = ingest
        self._gateway = gateway
        self._breaker = breaker
        self._workers = workers
        self._max_attempts = max_attempts
        self._notify_operators = notify_operators
        self._api_requests = api_requests
        self._probe_ids: set[int] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self._dispatcher: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        resumed = await self._store.jobs.requeue_running()
        if resumed:
            log.info("resumed unfinished jobs", extra={"count": resumed})
        self._dispatcher = asyncio.create_task(self._dispatch(), name="job-dispatcher")

    def wake(self) -> None:
        """Called when a job was enqueued, so it starts now rather than at the next poll."""
        self._wake.set()

    async def stop(self, grace_seconds: float) -> None:
        """Stop claiming, let in-flight jobs finish within the grace period; the rest stays pending for next time."""
        self._stopping = True
        self._wake.set()
        if self._dispatcher is not None:
            await self._dispatcher
        if self._running:
            _done, pending = await asyncio.wait(self._running, timeout=grace_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            if pending:
                log.warning("jobs interrupted by shutdown, left for restart", extra={"count": len(pending)})

    async def run_until_idle(self) -> None:
        """Test and benchmark helper: returns once no job is pending or running. The database is asked about both:
        jobs being claimed are already 'running' there before their tasks exist."""
        while self._running or await self._unfinished_jobs():
            self._wake.set()
            await asyncio.sleep(0.02)

    async def _unfinished_jobs(self) -> int:
        counts = await self._store.jobs.counts()
        return counts.get("pending", 0) + counts.get("running", 0)

    async def _dispatch(self) -> None:
        while not self._stopping:
            try:
                claimed = await self._claim()
            except Exception:  # e.g. the database is locked or the disk full: keep the loop alive, try again soon
                log.exception("claiming jobs failed")
                claimed = []
            for job in claimed:
                task = asyncio.create_task(self._run(job), name=f"job-{job.id}")
                self._running.add(task)
                task.add_done_callback(self._job_finished)
            if not claimed:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), IDLE_POLL_SECONDS)

    async def _claim(self) -> list[Job]:
        """As many due jobs as there are free workers; while the breaker is open, only its probe."""
        free = self._workers - len(self._running)
        if free <= 0 or not self._breaker.allow():
            return []
        if not self._breaker.is_open:
            return await self._store.jobs.claim(now=int(time.time()), limit=free)
        probe = await self._store.jobs.claim(now=int(time.time()), limit=1)
        self._probe_ids.update(job.id for job in probe)
        return probe

    def _job_finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()

    async def _run(self, job: Job) -> None:
        try:
            requests_before = self._api_requests()
            await self._ingest.run(job)
        except asyncio.CancelledError:
            raise  # shutdown: the job is still 'running' in the DB and is resumed at the next start
        except Exception as exc:  # every outcome is decided here, per type, in one place
            await self._record_failure(job, exc)
            self._probe_ids.discard(job.id)
        else:
            self._probe_ids.discard(job.id)
            await self._store.jobs.complete(job.id)
            # Only a job that reached DashScope proves it works again: a probe served from the cache proves nothing.
            # (While the breaker is open this job runs alone, so the counter is its own.)
            if self._api_requests() > requests_before:
                await self._record_success()

    async def _record_success(self) -> None:
        cause = self._breaker.cause
        if not self._breaker.record_success():
            return
        log.warning("embedding resumed", extra={"cause": cause})
        if cause == "account":
            await self._notify_operators(t("operator_resumed", "en"))

    async def _record_failure(self, job: Job, exc: Exception) -> None:
        """An error while deciding (the database, a send) must not vanish with the task: it is logged, and the job,
        still 'running', resumes at the next start."""
        try:
            await self._handle_failure(job, exc)
        except Exception:
            log.exception("could not record the outcome of a job", extra={"job_id": job.id, "chat_id": job.chat_id})

    async def _handle_failure(self, job: Job, exc: Exception) -> None:
        context = {"job_id": job.id, "chat_id": job.chat_id, "attempts": job.attempts, "error": type(exc).__name__}
        if isinstance(exc, EmbeddingError) and exc.account_level:
            await self._pause_for_account(job, exc)
        elif isinstance(exc, EmbeddingError) and exc.retryable:
            log.info("embedding failed, will retry", extra={**context, "code": exc.code,
                                                             "request_id": exc.request_id})
            await self._retry_transient(job, exc)
        elif isinstance(exc, EmbeddingError):
            log.warning("embedding refused the item", extra={**context, "code": exc.code,
                                                              "request_id": exc.request_id})
            await self._fail(job, f"{exc.code}: {exc.message}", exc)
        elif isinstance(exc, MediaError | FileTooBig | FileUnavailable | OverCap):
            await self._fail_for_item(job, exc)
        elif isinstance(exc, ChatGone):
            log.info("bot no longer in chat", extra=context)
            await self._store.chats.mark_removed(job.chat_id, int(time.time()))
            await self._store.jobs.fail(job.id, "chat gone")
        elif isinstance(exc, ChatMoved):
            await self._store.items.move_chat(job.chat_id, exc.new_chat_id)
            await self._store.jobs.postpone(job.id, at=int(time.time()), error="chat migrated")
        elif isinstance(exc, GatewayError):
            await self._retry_or_fail(job, str(exc), getattr(exc, "retry_after", None))
        else:
            log.exception("unexpected failure in job", extra=context)
            await self._retry_or_fail(job, f"{type(exc).__name__}: {exc}", None)

    async def _pause_for_account(self, job: Job, exc: EmbeddingError) -> None:
        if self._breaker.record_account_failure(exc.code):
            log.error("DashScope account error: embedding paused until a probe succeeds",
                      extra={"code": exc.code, "status": exc.status, "request_id": exc.request_id})
            await self._notify_operators(t("operator_auth", "en", code=exc.code or exc.status))
        await self._pause(job, str(exc.code or exc.status))

    async def _retry_transient(self, job: Job, exc: EmbeddingError) -> None:
        """Backoff and, in the end, give up, as long as the service works for other items; during an outage the
        job waits for the breaker's probe instead, however long the outage lasts."""
        if self._breaker.record_transient_failure():
            log.warning("DashScope failing for every item: embedding paused until a probe succeeds",
                        extra={"code": exc.code, "status": exc.status, "request_id": exc.request_id})
        reason = f"{exc.code or exc.status}: {exc.message}"
        if self._breaker.is_open:
            await self._pause(job, reason)
        else:
            await self._retry_or_fail(job, reason, exc.retry_after)

    async def _pause(self, job: Job, reason: str) -> None:
        """Wait for the next probe. A failed probe waits one interval more, so that the next probe is another job:
        an item the service fails on by itself (the same 500 for one odd file) must not be the only one ever tried,
        holding everyone's embedding paused."""
        delay = max(1.0, self._breaker.seconds_to_probe())
        if job.id in self._probe_ids:
            delay += self._breaker.probe_interval
        await self._store.jobs.postpone(job.id, at=int(time.time() + delay), error=f"paused: {reason}")

    async def _fail_for_item(self, job: Job, exc: Exception) -> None:
        if isinstance(exc, OverCap):
            await self._store.stats.add_skipped_over_cap(job.chat_id)
        log.info("item skipped", extra={"job_id": job.id, "chat_id": job.chat_id, "error": type(exc).__name__,
                                        "detail": str(exc)})
        await self._fail(job, f"{type(exc).__name__}: {exc}", exc)

    async def _fail(self, job: Job, reason: str, exc: Exception) -> None:
        await self._store.jobs.fail(job.id, reason)
        await self._tell_person(job, exc)

    async def _retry_or_fail(self, job: Job, reason: str, hint: float | None) -> None:
        if job.attempts + 1 >= self._max_attempts:
            log.warning("job failed after retries", extra={"job_id": job.id, "reason": reason})
            await self._fail(job, f"gave up: {reason}", RuntimeError(reason))
            return
        at = int(time.time() + backoff_delay(job.attempts, hint))
        await self._store.jobs.retry_later(job.id, at=at, error=reason)

    async def _tell_person(self, job: Job, exc: Exception) -> None:
        """Only in private chats: there a person is waiting for an answer; in groups a log line is enough."""
        incoming = IncomingMedia.from_payload(job.payload)
        if incoming.chat.type != "private" or job.kind != "ingest":
            return
        text = failure_text(exc, language_of(incoming.sender.language))
        try:
            await self._gateway.send(fmt.text_reply(job.chat_id, incoming.message_id, text))
        except GatewayError as exc:
            log.info("could not tell the user about a failed item", extra={"job_id": job.id, "error": str(exc)})
