"""What happens to a job that failed: a look-up of the failure's disposition, in this one table.

Retryable trouble backs off with growing delays stored on the job (so they survive restarts) and gives up after
`max_attempts`; a DashScope outage (jobs failing in a row) or an account error pauses the queue instead, without
spending attempts, so no item is lost however long it lasts; a failure of the item itself fails the job at once. The
person is told where they are waiting for an answer (a private chat): why their item failed, or that it waits.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable

from bot.core.delivery import Delivery
from bot.core.health import EmbeddingHealth
from bot.core.ingest import audience, tell_if_paused
from bot.core.lifecycle import ChatLifecycle
from bot.core.ports import ChatMoved, JobQueue, StatsStore, TransientTelegramError
from bot.core.results import ItemFailed
from bot.core.types import IncomingMedia
from bot.dashscope.errors import EmbeddingError
from bot.errors import Disposition, Failure
from storage.models import Job

log = logging.getLogger(__name__)

BACKOFF_BASE = 2.0
BACKOFF_CAP = 600.0


def backoff_delay(attempts: int, hint: float | None = None) -> float:
    """Exponential (2 s, 4 s, … ≤ 10 min) with jitter; a service's own Retry-After wins when it asks for longer."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2.0**attempts) * (1 + random.random() * 0.25)
    return max(float(delay), hint or 0.0)


def disposition_of(exc: Exception) -> Disposition:
    return exc.disposition if isinstance(exc, Failure) else Disposition.RETRY


def _retry_hint(exc: Exception) -> float | None:
    if isinstance(exc, EmbeddingError | TransientTelegramError):
        return exc.retry_after
    return None


def _reason(exc: Exception) -> str:
    if isinstance(exc, EmbeddingError):
        return f"{exc.code or exc.status}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


class FailurePolicy:
    def __init__(self, jobs: JobQueue, stats: StatsStore, lifecycle: ChatLifecycle, health: EmbeddingHealth,
                 delivery: Delivery, *, max_attempts: int) -> None:
        self._jobs = jobs
        self._stats = stats
        self._lifecycle = lifecycle
        self._health = health
        self._delivery = delivery
        self._max_attempts = max_attempts
        self._actions: dict[Disposition, Callable[[Job, Exception, bool], Awaitable[None]]] = {
            Disposition.RETRY: self._retry,
            Disposition.RETRY_SERVICE: self._retry_service,
            Disposition.FAIL_ITEM: self._fail_item,
            Disposition.OVER_CAP: self._over_cap,
            Disposition.PAUSE_ACCOUNT: self._pause_for_account,
            Disposition.CHAT_GONE: self._chat_gone,
            Disposition.CHAT_MOVED: self._chat_moved,
            # Delivery replaces a gone original itself; should one escape it, the job is retried like any trouble.
            Disposition.ORIGINAL_GONE: self._retry,
        }

    async def handle(self, job: Job, exc: Exception, *, probe: bool) -> None:
        """`probe`: the job ran alone to test a paused service."""
        disposition = disposition_of(exc)
        context = {"job_id": job.id, "chat_id": job.chat_id, "attempts": job.attempts,
                   "error": type(exc).__name__, "disposition": disposition.value}
        if isinstance(exc, Failure):
            log.info("job failed", extra={**context, "reason": _reason(exc),
                                          "request_id": getattr(exc, "request_id", None)})
        else:
            log.exception("unexpected failure in job", extra=context)
        await self._actions[disposition](job, exc, probe)

    async def _retry(self, job: Job, exc: Exception, _probe: bool) -> None:
        reason = _reason(exc)
        if job.attempts + 1 >= self._max_attempts:
            log.warning("job failed after retries", extra={"job_id": job.id, "reason": reason})
            await self._fail(job, f"gave up: {reason}", Failure(reason))
            return
        at = int(time.time() + backoff_delay(job.attempts, _retry_hint(exc)))
        await self._jobs.retry_later(job.id, at=at, error=reason)

    async def _retry_service(self, job: Job, exc: Exception, probe: bool) -> None:
        """Backoff as long as the service works for other items; during an outage the job waits for the next
        probe instead, however long the outage lasts."""
        self._health.service_failed()
        if self._health.paused:
            await self._pause(job, _reason(exc), probe)
        else:
            await self._retry(job, exc, probe)

    async def _pause_for_account(self, job: Job, exc: Exception, probe: bool) -> None:
        await self._pause(job, _reason(exc), probe)

    async def _pause(self, job: Job, reason: str, probe: bool) -> None:
        """Wait for the next probe. A failed probe waits one interval more, so that the next probe is another job:
        an item the service fails on by itself (the same 500 for one odd file) must not be the only one ever tried,
        holding everyone's embedding paused."""
        breaker = self._health.breaker
        delay = max(1.0, breaker.seconds_to_probe()) + (breaker.probe_interval if probe else 0.0)
        await self._jobs.postpone(job.id, at=int(time.time() + delay), error=f"paused: {reason}")
        incoming = _ingested(job)
        if incoming is not None:
            await tell_if_paused(self._health, self._delivery, incoming)

    async def _fail_item(self, job: Job, exc: Exception, _probe: bool) -> None:
        await self._fail(job, _reason(exc), exc)

    async def _over_cap(self, job: Job, exc: Exception, probe: bool) -> None:
        await self._stats.add_skipped_over_cap(job.chat_id)
        await self._fail_item(job, exc, probe)

    async def _chat_gone(self, job: Job, _exc: Exception, _probe: bool) -> None:
        await self._lifecycle.removed(job.chat_id)
        await self._jobs.fail(job.id, "chat gone")

    async def _chat_moved(self, job: Job, exc: Exception, _probe: bool) -> None:
        if isinstance(exc, ChatMoved):
            await self._lifecycle.migrated(job.chat_id, exc.new_chat_id)
        await self._jobs.postpone(job.id, at=int(time.time()), error="chat migrated")

    async def _fail(self, job: Job, reason: str, exc: Exception) -> None:
        await self._jobs.fail(job.id, reason)
        incoming = _ingested(job)
        if incoming is not None and incoming.chat.type == "private":
            failure = exc if isinstance(exc, Failure) else Failure(reason)
            await self._delivery.send_quietly(ItemFailed(audience(incoming), failure))


def _ingested(job: Job) -> IncomingMedia | None:
    """The media of a new-item job, whose sender may be waiting for an answer; edits answer nobody."""
    return IncomingMedia.from_payload(job.payload) if job.kind == "ingest" else None
