"""One repost alert per album.

Telegram delivers an album as separate messages sharing a `media_group_id` and never says it is complete, so the
verdicts of its items are collected until no new item has arrived for a short debounce, then sent as one message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.pipeline.repost import AlertPacer
from bot.pipeline.types import ChatRef, Outgoing
from bot.replies.format import Hit, album_repost_alert
from bot.replies.i18n import Lang

log = logging.getLogger(__name__)


@dataclass
class _Album:
    chat: ChatRef
    lang: Lang
    first_message_id: int
    hits: dict[int, Hit | None] = field(default_factory=dict)
    timer: asyncio.TimerHandle | None = None


class AlbumCollector:
    def __init__(self, debounce_seconds: float, send: Callable[[Outgoing], Awaitable[None]],
                 pacer: AlertPacer) -> None:
        self._debounce = debounce_seconds
        self._send = send
        self._pacer = pacer
        self._albums: dict[tuple[int, str], _Album] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def add(self, chat: ChatRef, media_group_id: str, message_id: int, hit: Hit | None, lang: Lang) -> None:
        key = (chat.id, media_group_id)
        album = self._albums.setdefault(key, _Album(chat, lang, message_id))
        album.first_message_id = min(album.first_message_id, message_id)
        album.hits[message_id] = hit
        if album.timer is not None:
            album.timer.cancel()
        album.timer = asyncio.get_running_loop().call_later(self._debounce, self._start_flush, key)

    def _start_flush(self, key: tuple[int, str]) -> None:
        task = asyncio.get_running_loop().create_task(self._flush_album(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush_album(self, key: tuple[int, str]) -> None:
        album = self._albums.pop(key, None)
        if album is None:
            return
        ordered = sorted(album.hits.items())
        reposts = [(position, hit) for position, (_mid, hit) in enumerate(ordered, start=1) if hit is not None]
        if not reposts or not self._pacer.try_acquire(album.chat.id):
            return
        try:
            await self._send(album_repost_alert(album.chat, album.first_message_id, reposts, album.lang))
        except Exception:
            log.exception("album alert failed", extra={"chat_id": album.chat.id})

    async def drain(self) -> None:
        """Send what is waiting now (shutdown): an album alert is better early than lost."""
        for key, album in list(self._albums.items()):
            if album.timer is not None:
                album.timer.cancel()
            await self._flush_album(key)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
