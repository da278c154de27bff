"""The breaker's probe rotates: one item that the service always fails on must not keep everyone paused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.core.breaker import CircuitBreaker
from bot.core.delivery import Delivery
from bot.core.erasing import Eraser
from bot.core.failures import FailurePolicy
from bot.core.health import EmbeddingHealth
from bot.core.lifecycle import ChatLifecycle
from bot.core.originals import Originals
from bot.core.worker import JobRunner
from bot.dashscope.errors import ServerError
from bot.replies.render import render
from storage.models import Job
from storage.store import Store
from tests.support.gateway import MemoryGateway
from tests.support.storage import open_store

pytestmark = pytest.mark.slow  # waits for the breaker's probe interval


class PoisonedIngest:
    """Stands in for IngestService: the item of chat 1 always gets a 500; everything else works."""

    def __init__(self) -> None:
        self.api_requests = 0
        self.healthy_ran = asyncio.Event()

    async def run(self, job: Job) -> None:
        self.api_requests += 1
        if job.chat_id == 1:
            raise ServerError("The algorithm failed on this input", status=500, code="InternalError.Algo")
        self.healthy_ran.set()


async def is_done(store: Store, job_id: int) -> bool:
    job = await store.jobs.get(job_id)
    return job is not None and job.state == "done"


async def notify(_paused_code: str | None) -> None:
    return None


async def test_a_poisoned_item_does_not_stall_the_queue_behind_the_breaker(tmp_path: Path) -> None:
    async with open_store(tmp_path / "bot.db") as store:
        poisoned = await store.jobs.enqueue("poisoned", 1, "ingest", {}, now=0)
        healthy = await store.jobs.enqueue("healthy", 2, "ingest", {}, now=0)
        assert poisoned is not None and healthy is not None
        ingest = PoisonedIngest()
        breaker = CircuitBreaker(first_probe_after=1.0, outage_after_failures=1)
        health = EmbeddingHealth(breaker, notify)
        lifecycle = ChatLifecycle(store.chats, store.jobs, store.confirmations,
                                  Eraser(store.items, store.chats, store.db), retention_days=30, job_retention_days=7)
        policy = FailurePolicy(store.jobs, store.stats, lifecycle, health,
                               Delivery(MemoryGateway(), render, store.stats, Originals(store.items)), max_attempts=50)
        runner = JobRunner(store.jobs, ingest, policy, health, workers=1)
        await runner.start()
        try:
            await asyncio.wait_for(ingest.healthy_ran.wait(), timeout=8)
        finally:
            await runner.stop(grace_seconds=1)  # lets the job in hand finish
        assert await is_done(store, healthy.id)
        job = await store.jobs.get(poisoned.id)
        assert job is not None and job.state in ("pending", "running")  # still waiting its turn, not lost
