"""Which model serves each chat: the configured one, or the chat's old one until its re-embedding switches it.

Vectors of two models (or two dimensions of one) cannot be compared, so a chat is searched in exactly one space: the
tag most of its items carry (`storage.reembedding.ReembeddingRepository.chat_model`), the old one until its
re-embedding switches it, for repost checks, /similar, and the query embeddings of /search alike. Each space gets
its own embedding service and index, made once on first use.

Finding a chat's space counts its items by tag, which grows with the chat, so the answer is remembered: a chat
changes space only when its items are switched, moved or purged in bulk, and those commit a `ChatsReset` event that
drops the remembered answer (the expiry is only a safety net). With PostgreSQL another process's re-embedder may
switch a chat, and its event reaches only that process: there the answer is kept for a second only
(`CROSS_PROCESS_MEMORY_SECONDS`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Generic, TypeVar

import numpy.typing as npt

from bot.bounded import ExpiringMap
from bot.core.embedding import EmbeddingService
from bot.core.ports import SpaceStore
from bot.search.protocol import SearchHit, VectorIndex
from storage.items import ChatsReset, ItemEvent

SPACE_MEMORY_SECONDS = 300.0
CROSS_PROCESS_MEMORY_SECONDS = 1.0
SPACE_MEMORY_CHATS = 10_000

T = TypeVar("T")


class _PerSpace(Generic[T]):
    def __init__(self, make: Callable[[str], T]) -> None:
        self._make = make
        self._made: dict[str, T] = {}

    def __call__(self, space: str) -> T:
        if space not in self._made:
            self._made[space] = self._make(space)
        return self._made[space]


class ModelSpaces:
    """Also the core's `VectorIndex`: a search goes to the index of the chat's current space."""

    def __init__(self, active: str, store: SpaceStore, *, embedding_for: Callable[[str], EmbeddingService],
                 index_for: Callable[[str], VectorIndex], memory_seconds: float = SPACE_MEMORY_SECONDS) -> None:
        """`memory_seconds`: how long a chat's space is remembered; short where another process may switch it."""
        self.active = active
        self._store = store
        self._embedding_for = _PerSpace(embedding_for)
        self._index_for = _PerSpace(index_for)
        self._chat_spaces: ExpiringMap[int, str] = ExpiringMap(memory_seconds, SPACE_MEMORY_CHATS)

    async def of(self, chat_id: int) -> str:
        space = self._chat_spaces.get(chat_id)
        if space is None:
            space = await self._store.chat_model(chat_id, self.active)
            self._chat_spaces.put(chat_id, space)
        return space

    def on_item_event(self, event: ItemEvent) -> None:
        """A chat switched, moved or purged: its space is looked up again."""
        if isinstance(event, ChatsReset):
            for chat_id in event.chat_ids:
                self._chat_spaces.pop(chat_id)

    async def embedding(self, chat_id: int) -> EmbeddingService:
        return self._embedding_for(await self.of(chat_id))

    def embedding_in(self, space: str) -> EmbeddingService:
        """The embedding service of one space, e.g. an item's own, whose vectors must stay comparable to it."""
        return self._embedding_for(space)

    async def search(self, chat_id: int, query: npt.ArrayLike, k: int, *, facets: Collection[int] | None = None,
                     exclude_item_ids: Collection[int] = ()) -> list[SearchHit]:
        index = self._index_for(await self.of(chat_id))
        return await index.search(chat_id, query, k, facets=facets, exclude_item_ids=exclude_item_ids)

    async def count(self, chat_id: int) -> int:
        return await self._index_for(await self.of(chat_id)).count(chat_id)
