"""The PostgreSQL storage layer as one object, with the same attributes as `storage.store.Store`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from storage.postgres.cache import PgEmbeddingCache
from storage.postgres.chats import PgChatRepository
from storage.postgres.confirmations import PgConfirmationRepository
from storage.postgres.db import PgDatabase
from storage.postgres.feedback import PgFeedbackRepository
from storage.postgres.items import PgItemRepository
from storage.postgres.jobs import PgJobRepository
from storage.postgres.reembedding import PgReembeddingRepository
from storage.postgres.stats import PgStatsRepository


@dataclass
class PgStore:
    db: PgDatabase
    items: PgItemRepository
    cache: PgEmbeddingCache
    stats: PgStatsRepository
    chats: PgChatRepository
    jobs: PgJobRepository
    confirmations: PgConfirmationRepository
    feedback: PgFeedbackRepository
    reembedding: PgReembeddingRepository

    @classmethod
    async def open(cls, dsn: str) -> Self:
        db = await PgDatabase.open(dsn)
        items = PgItemRepository(db)
        jobs = PgJobRepository(db)
        return cls(
            db=db,
            items=items,
            cache=PgEmbeddingCache(db),
            stats=PgStatsRepository(db, items, jobs),
            chats=PgChatRepository(db, items),
            jobs=jobs,
            confirmations=PgConfirmationRepository(db),
            feedback=PgFeedbackRepository(db),
            reembedding=PgReembeddingRepository(db, items),
        )

    async def close(self) -> None:
        """The queue hands this process's running jobs back first (storage.postgres.jobs)."""
        await self.jobs.close()
        await self.db.close()
