"""The queue, counter, cache, feedback and confirmation repositories on either backend, for storage tests that must
hold for both: the same test, the same assertions, run once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.jobs import JobRepository
from storage.postgres.cache import PgEmbeddingCache
from storage.postgres.confirmations import PgConfirmationRepository
from storage.postgres.db import PgDatabase
from storage.postgres.feedback import PgFeedbackRepository
from storage.postgres.items import PgItemRepository
from storage.postgres.jobs import PgJobRepository
from storage.postgres.stats import PgStatsRepository
from storage.store import Store

Clock = Callable[[], float]


@dataclass
class Repos:
    """One backend's repositories; `jobs_with_clock` makes another job repository on the same database."""

    backend: str
    jobs: Any
    stats: Any
    cache: Any
    feedback: Any
    confirmations: Any
    items: Any
    jobs_with_clock: Callable[[Clock], Any]


@asynccontextmanager
async def open_repos(url: str) -> AsyncIterator[Repos]:
    """The repositories of a DATABASE_URL (the `backend_url` fixture): PostgreSQL, or a SQLite file."""
    if not url.startswith("postgresql://"):
        store = await Store.open(Path(url.removeprefix("sqlite:///")))
        try:
            yield Repos("sqlite", store.jobs, store.stats, store.cache, store.feedback, store.confirmations,
                        store.items, lambda clock: JobRepository(store.db, clock=clock))
        finally:
            await store.close()
        return
    db = await PgDatabase.open(url)
    made: list[PgJobRepository] = []

    def jobs_with_clock(clock: Clock = time.time) -> PgJobRepository:
        made.append(PgJobRepository(db, clock=clock))
        return made[-1]

    jobs = jobs_with_clock()
    items = PgItemRepository(db)
    try:
        yield Repos("postgresql", jobs, PgStatsRepository(db, items, jobs),
                    PgEmbeddingCache(db), PgFeedbackRepository(db), PgConfirmationRepository(db), items,
                    jobs_with_clock)
    finally:
        for repository in made:
            await repository.close()
        await db.close()

