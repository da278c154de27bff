"""Waiting for the bot's queue to drain: tests and benchmarks only."""

from __future__ import annotations

import asyncio

from bot.wiring import Services
from storage.jobs import JobRepository
from storage.postgres.jobs import PgJobRepository


async def unfinished_jobs(jobs: JobRepository | PgJobRepository) -> int:
    counts = await jobs.counts()
    return counts.get("pending", 0) + counts.get("running", 0)


async def until_idle(services: Services) -> None:
    """Returns once no job is pending or running. The database is asked about both: jobs being claimed are already
    'running' there before their tasks exist."""
    while services.runner.busy or await unfinished_jobs(services.store.jobs):
        services.runner.wake()
        await asyncio.sleep(0.02)
