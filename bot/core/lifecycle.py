"""A chat's life as the bot sees it: added, removed (data kept for the retention period), moved, purged.

Telegram tells of these in several ways (a my_chat_member update, a service message, an error on send); every one of
them ends here. The sweep (hourly, so a day's limit is never overrun by more than an hour) also deletes items older
than their chat's retention (`/settings retention`), prunes finished jobs, whose payloads are of no use once done,
and drops confirmation buttons nobody pressed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from bot.bounded import ExpiringMap
from bot.core.erasing import Eraser
from bot.core.ports import ChatStore, ConfirmationStore, JobQueue
from bot.core.privacy import CONFIRMATION_SECONDS
from bot.core.types import ChatRef

log = logging.getLogger(__name__)

SWEEP_SECONDS = 3600.0
SECONDS_PER_DAY = 86400
TITLE_MEMORY_SECONDS = 3600.0
TITLE_MEMORY_CHATS = 10_000


class ChatLifecycle:
    def __init__(self, chats: ChatStore, jobs: JobQueue, confirmations: ConfirmationStore, eraser: Eraser, *,
                 retention_days: int, job_retention_days: int, clock: Callable[[], float] = time.time) -> None:
        self._chats = chats
        self._jobs = jobs
        self._confirmations = confirmations
        self._eraser = eraser
        self._retention_days = retention_days
        self._job_retention_days = job_retention_days
        self._clock = clock
        self._titles: ExpiringMap[int, str] = ExpiringMap(TITLE_MEMORY_SECONDS, TITLE_MEMORY_CHATS)

    async def added(self, chat_id: int) -> None:
        """Added, or re-added within the retention period: everything stored is served again."""
        await self._chats.mark_active(chat_id)
        log.info("bot active in chat", extra={"chat_id": chat_id})

    async def seen(self, chat: ChatRef) -> None:
        """A group's title, kept for the operators' overview; written only when it is new to this process."""
        if chat.title and self._titles.get(chat.id) != chat.title:
            await self._chats.remember_title(chat.id, chat.title)
            self._titles.put(chat.id, chat.title)

    async def removed(self, chat_id: int) -> None:
        """Stop serving the chat; its data stays for the retention period (a re-add restores it)."""
        await self._chats.mark_removed(chat_id, int(self._clock()))
        log.info("bot removed from chat", extra={"chat_id": chat_id})

    async def migrated(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup: everything follows; told twice (both service messages), moved once."""
        await self._chats.move(old_chat_id, new_chat_id)

    async def purge_expired(self) -> list[int]:
        """Chats removed longer ago than the retention period lose their data; returns their ids."""
        cutoff = int(self._clock()) - self._retention_days * SECONDS_PER_DAY
        expired = await self._chats.expired(cutoff)
        await self._eraser.purge(expired)
        for chat_id in expired:
            log.info("chat data purged after retention period", extra={"chat_id": chat_id})
        return expired

    async def expire_items(self) -> int:
        """Items older than their chat's retention (`/settings retention N`) are deleted; returns how many."""
        now = int(self._clock())
        deleted = 0
        for chat_id, days in await self._chats.with_retention():
            count = await self._eraser.expire(chat_id, now - days * SECONDS_PER_DAY)
            if count:
                log.info("items deleted after the chat's retention", extra={"chat_id": chat_id, "count": count})
            deleted += count
        return deleted

    async def prune_jobs(self) -> int:
        cutoff = int(self._clock()) - self._job_retention_days * SECONDS_PER_DAY
        pruned = await self._jobs.prune_finished(older_than=cutoff)
        if pruned:
            log.info("finished jobs pruned", extra={"count": pruned})
        return pruned

    async def sweep_forever(self) -> None:
        while True:
            try:
                await self.purge_expired()
                await self.expire_items()
                await self.prune_jobs()
                await self._confirmations.expire(int(self._clock()) - CONFIRMATION_SECONDS)
            except Exception:
                log.exception("retention sweep failed")
            await asyncio.sleep(SWEEP_SECONDS)
