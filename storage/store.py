"""The storage layer as one object: the database and every repository over it, opened and closed together."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Self

from storage.cache import EmbeddingCache
from storage.chats import ChatRepository
from storage.confirmations import ConfirmationRepository
from storage.db import Database
from storage.feedback import FeedbackRepository
from storage.items import ItemRepository
from storage.jobs import JobRepository
from storage.reembedding import ReembeddingRepository
from storage.stats import StatsRepository


@dataclass
class Store:
    db: Database
    items: ItemRepository
    cache: EmbeddingCache
    stats: StatsRepository
    chats: ChatRepository
    jobs: JobRepository
    confirmations: ConfirmationRepository
    feedback: FeedbackRepository
    reembedding: ReembeddingRepository

    @classmethod
    async def open(cls, path: Path) -> Self:
        db = await Database.open(path)
        items = ItemRepository(db)
        jobs = JobRepository(db)
        return cls(
            db=db,
            items=items,
            cache=EmbeddingCache(db),
            stats=StatsRepository(db, items, jobs),
            chats=ChatRepository(db, items),
            jobs=jobs,
            confirmations=ConfirmationRepository(db),
            feedback=FeedbackRepository(db),
            reembedding=ReembeddingRepository(db, items),
        )

    async def close(self) -> None:
        await self.db.close()
