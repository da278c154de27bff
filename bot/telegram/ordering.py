"""Updates of different chats are handled concurrently; those of one chat one after another, in arrival order.

Handling a media update means enqueueing its durable job, and the queue serves each chat's jobs in enqueue order.
With plain concurrent handling, two photos of one chat fetched in the same batch could be enqueued swapped, and
their replies would come out of order. A slow command (a /search waiting on the API) now delays only its own chat.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.observability import metrics

UPDATE_TYPES = tuple(Update.ALL_TYPES)


def update_type(update: object) -> str:
    """The kind of update (message, callback_query, my_chat_member, …), for the updates counter."""
    if not isinstance(update, Update):
        return "other"
    return next((kind for kind in UPDATE_TYPES if getattr(update, kind, None) is not None), "unreadable")


class PerChatOrderedProcessor(BaseUpdateProcessor):
    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._holders: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        metrics.UPDATES.labels(type=update_type(update)).inc()
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        # Tasks reach this point in creation (= arrival) order without suspending first, and asyncio.Lock wakes
        # waiters first-in first-out, so one chat's updates run in the order Telegram sent them.
        lock = self._locks.setdefault(chat.id, asyncio.Lock())
        self._holders[chat.id] = self._holders.get(chat.id, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._release(chat.id)

    def _release(self, chat_id: int) -> None:
        """Forget idle chats' locks, so memory does not grow with every chat ever seen."""
        self._holders[chat_id] -= 1
        if self._holders[chat_id] == 0:
            del self._holders[chat_id]
            del self._locks[chat_id]

    async def initialize(self) -> None:
        """Nothing to allocate."""

    async def shutdown(self) -> None:
        """Nothing to free."""
