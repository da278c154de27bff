"""One repost alert per album.

Telegram delivers an album as separate messages sharing a `media_group_id` and never says it is complete. Quiet
alone is not a sign of completeness: embedding an item can take longer than any short debounce (a video, a slow
API; and a chat's jobs run one after another). So the handler announces each item when it is queued (`expect`), each
job reports its verdict (`add`), and the alert goes out once every announced item has reported and nothing new
arrived for the debounce. An item that never reports (it failed, or a restart forgot the announcements) delays the
alert by at most `max_wait_seconds`; it never loses it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace

from bot.core.delivery import Delivery
from bot.core.repost import AlertPacer
from bot.core.results import AlbumReposts, Audience, Hit
from bot.core.types import IncomingMedia

log = logging.getLogger(__name__)

MAX_WAIT_SECONDS = 30.0

AlbumKey = tuple[int, str]


@dataclass
class _Album:
    started: float
    expected: set[int] = field(default_factory=set)
    hits: dict[int, Hit | None] = field(default_factory=dict)
    to: Audience | None = None
    """The chat and language of the last report; the alert replies to the album's first message."""
    timer: asyncio.TimerHandle | None = None

    @property
    def waiting(self) -> bool:
        """Some announced item has not reported its verdict yet."""
        return not self.expected <= self.hits.keys()

    def reposts(self) -> list[tuple[int, Hit]]:
        """(position in the album, evidence) of each reposted item; positions count every item, reported or not."""
        positions = {message_id: n for n, message_id in enumerate(sorted(self.expected | self.hits.keys()), 1)}
        return [(positions[message_id], hit) for message_id, hit in sorted(self.hits.items()) if hit is not None]


def _alerted_in_place(incoming: IncomingMedia) -> bool:
    """Whether a new item's job ends with a verdict for its chat (`AlbumCollector.add`): in groups only; channels
    get no replies, private chats an answer per item, edits no alert at all."""
    return incoming.chat.is_group and not incoming.is_channel_post and incoming.edit_date is None


class AlbumCollector:
    def __init__(self, debounce_seconds: float, delivery: Delivery, pacer: AlertPacer,
                 max_wait_seconds: float = MAX_WAIT_SECONDS) -> None:
        self._debounce = debounce_seconds
        self._max_wait = max_wait_seconds
        self._delivery = delivery
        self._pacer = pacer
        self._albums: dict[AlbumKey, _Album] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def expect(self, incoming: IncomingMedia) -> None:
        """An item was queued: if its job will report to an album, that album's alert waits for it."""
        group = incoming.media_group_id
        if group is None or not _alerted_in_place(incoming):
            return
        key = (incoming.chat.id, group)
        self._album(key).expected.add(incoming.message_id)
        self._arm(key, self._debounce)

    def add(self, to: Audience, media_group_id: str, hit: Hit | None) -> None:
        """An item's verdict (`to.reply_to` is the item's message)."""
        if to.reply_to is None:
            return
        key = (to.chat.id, media_group_id)
        album = self._album(key)
        album.to = to
        album.hits[to.reply_to] = hit
        self._arm(key, self._debounce)

    def _album(self, key: AlbumKey) -> _Album:
        album = self._albums.get(key)
        if album is None:
            album = self._albums[key] = _Album(started=asyncio.get_running_loop().time())
        return album

    def _arm(self, key: AlbumKey, delay: float) -> None:
        album = self._albums[key]
        if album.timer is not None:
            album.timer.cancel()
        album.timer = asyncio.get_running_loop().call_later(delay, self._on_quiet, key)

    def _on_quiet(self, key: AlbumKey) -> None:
        album = self._albums.get(key)
        if album is None:
            return
        left = album.started + self._max_wait - asyncio.get_running_loop().time()
        if album.waiting and left > 0:
            self._arm(key, left)  # a report re-arms the debounce sooner
            return
        task = asyncio.get_running_loop().create_task(self._flush_album(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush_album(self, key: AlbumKey) -> None:
        album = self._albums.pop(key, None)
        if album is None or album.to is None:
            return
        chat_id = album.to.chat.id
        if album.waiting:
            log.info("album alert sent before every item reported", extra={"chat_id": chat_id})
        reposts = album.reposts()
        if not reposts or not self._pacer.try_acquire(chat_id):
            return
        first_message_id = min(album.expected | album.hits.keys())
        try:
            await self._delivery.send_quietly(AlbumReposts(replace(album.to, reply_to=first_message_id), reposts))
        except Exception:
            log.exception("album alert failed", extra={"chat_id": chat_id})

    async def drain(self) -> None:
        """Send what is waiting now (shutdown): an album alert is better early than lost."""
        for key, album in list(self._albums.items()):
            if album.timer is not None:
                album.timer.cancel()
            await self._flush_album(key)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
