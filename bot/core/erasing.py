"""The one way the core deletes people's data: the rows go (storage), then their space is reclaimed.

Every deletion (a /forget, /forget me, /purge, a chat's retention, a removed chat's expiry) ends here, so none of
them can leave the deleted bytes in the database file's free pages or in its write-ahead log.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from bot.core.ports import ChatStore, ItemStore, SpaceReclaimer
from storage.models import Item


class Eraser:
    def __init__(self, items: ItemStore, chats: ChatStore, reclaimer: SpaceReclaimer) -> None:
        self._items = items
        self._chats = chats
        self._reclaimer = reclaimer

    async def forget(self, items: Sequence[Item]) -> int:
        """Delete these items for good (never re-created from the same message); returns how many."""
        count = await self._items.forget(items, now=int(time.time()))
        if count:
            await self._reclaimer.reclaim()
        return count

    async def forget_unstored(self, chat_id: int, message_id: int) -> bool:
        """A message without a stored item: it is never stored; True when its queued job was deleted."""
        had_job = await self._items.forget_unstored(chat_id, message_id, now=int(time.time()))
        if had_job:
            await self._reclaimer.reclaim()
        return had_job

    async def expire(self, chat_id: int, before: int) -> int:
        """Delete the chat's items posted before `before` (unix seconds)."""
        return await self.forget(await self._items.older_than(chat_id, before))

    async def purge(self, chat_ids: Sequence[int]) -> None:
        """Delete everything stored about these chats."""
        for chat_id in chat_ids:
            await self._chats.purge(chat_id)
        if chat_ids:
            await self._reclaimer.reclaim()
