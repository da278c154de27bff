"""One repost alert per album.

Telegram delivers an album as separate messages sharing a `media_group_id` and never says it is complete. Quiet
alone is not a sign of completeness: embedding an item can take longer than any short debounce (a video, a slow
API; and a chat's jobs run one after another). So the handler announces each item when it is queued (`expect`), each
job reports its verdict (`add`), and the alert goes out once every announced item has reported and nothing new
arrived for the debounce. An item that never reports (it failed, or a restart forgot the announcements) delays the
alert by at most `max_wait_seconds`; it never loses it.

The announcements and verdicts are kept in a ledger: this process's memory in SQLite mode (one process), the
database with PostgreSQL, where an album's items may be received and embedded by different processes. Each process
that reported a verdict debounces on its own; when its album is quiet it reads the whole album from the ledger (every
process's verdicts), and the one process that claims the album sends the alert, with every reposted item of it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace

from bot.core.delivery import Delivery
from bot.core.ports import AlbumLedger, ItemStore
from bot.core.repost import AlertPacer
from bot.core.results import AlbumReposts, Audience, Hit
from bot.core.types import IncomingMedia
from storage.models import AlbumEntry

log = logging.getLogger(__name__)

MAX_WAIT_SECONDS = 30.0

AlbumKey = tuple[int, str]


@dataclass
class _Album:
    started: float
    to: Audience | None = None
    """The chat and language of this process's last report; the alert replies to the album's first message."""
    timer: asyncio.TimerHandle | None = None


def _alerted_in_place(incoming: IncomingMedia) -> bool:
    """Whether a new item's job ends with a verdict for its chat (`AlbumCollector.add`): in groups only; channels
    get no replies, private chats an answer per item, edits no alert at all."""
    return incoming.chat.is_group and not incoming.is_channel_post and incoming.edit_date is None


def _entry(message_id: int, hit: Hit | None) -> AlbumEntry:
    if hit is None:
        return AlbumEntry(message_id, reported=True)
    return AlbumEntry(message_id, reported=True, hit_item_id=hit.item.id, score=hit.score, identical=hit.identical,
                      copies=hit.copies)


class MemoryAlbumLedger:
    """The ledger of one process: the truth in SQLite mode, where one process receives and embeds everything."""

    def __init__(self) -> None:
        self._albums: dict[AlbumKey, dict[int, AlbumEntry]] = {}

    async def expect(self, chat_id: int, media_group_id: str, message_id: int) -> None:
        self._albums.setdefault((chat_id, media_group_id), {}).setdefault(message_id, AlbumEntry(message_id))

    async def report(self, chat_id: int, media_group_id: str, entry: AlbumEntry) -> None:
        self._albums.setdefault((chat_id, media_group_id), {})[entry.message_id] = entry

    async def entries(self, chat_id: int, media_group_id: str) -> list[AlbumEntry]:
        return list(self._albums.get((chat_id, media_group_id), {}).values())

    async def claim(self, chat_id: int, media_group_id: str) -> bool:
        return self._albums.pop((chat_id, media_group_id), None) is not None


class AlbumCollector:
    def __init__(self, debounce_seconds: float, delivery: Delivery, pacer: AlertPacer, items: ItemStore,
                 ledger: AlbumLedger | None = None, max_wait_seconds: float = MAX_WAIT_SECONDS) -> None:
        self._debounce = debounce_seconds
        self._max_wait = max_wait_seconds
        self._delivery = delivery
        self._pacer = pacer
        self._items = items
        self._ledger: AlbumLedger = ledger if ledger is not None else MemoryAlbumLedger()
        self._albums: dict[AlbumKey, _Album] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def expect(self, incoming: IncomingMedia) -> None:
        """An item was queued: if its job will report to an album, that album's alert waits for it."""
        group = incoming.media_group_id
        if group is None or not _alerted_in_place(incoming):
            return
        await self._ledger.expect(incoming.chat.id, group, incoming.message_id)
        self._arm((incoming.chat.id, group), self._debounce)

    async def add(self, to: Audience, media_group_id: str, hit: Hit | None) -> None:
        """An item's verdict (`to.reply_to` is the item's message)."""
        if to.reply_to is None:
            return
        key = (to.chat.id, media_group_id)
        await self._ledger.report(to.chat.id, media_group_id, _entry(to.reply_to, hit))
        self._arm(key, self._debounce)
        self._albums[key].to = to

    def _arm(self, key: AlbumKey, delay: float) -> None:
        album = self._albums.get(key)
        if album is None:
            album = self._albums[key] = _Album(started=asyncio.get_running_loop().time())
        if album.timer is not None:
            album.timer.cancel()
        album.timer = asyncio.get_running_loop().call_later(delay, self._on_quiet, key)

    def _on_quiet(self, key: AlbumKey) -> None:
        task = asyncio.get_running_loop().create_task(self._settle(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _settle(self, key: AlbumKey) -> None:
        """Quiet here: alert unless an announced item (of any process) is still to report and there is time left;
        then look again after a debounce (another process's report does not re-arm this process's timer)."""
        album = self._albums.get(key)
        if album is None:
            return
        try:
            entries = await self._ledger.entries(*key)
        except Exception:
            log.exception("album ledger unreadable", extra={"chat_id": key[0]})
            entries = []
        left = album.started + self._max_wait - asyncio.get_running_loop().time()
        if any(not entry.reported for entry in entries) and left > 0:
            self._arm(key, min(left, self._debounce))
            return
        await self._flush_album(key, entries)

    async def _flush_album(self, key: AlbumKey, entries: list[AlbumEntry]) -> None:
        album = self._albums.pop(key, None)
        if album is None or not entries:
            return
        try:
            await self._alert(key, album.to, entries)
        except Exception:
            log.exception("album alert failed", extra={"chat_id": key[0]})

    async def _alert(self, key: AlbumKey, to: Audience | None, entries: list[AlbumEntry]) -> None:
        if to is None:  # this process only announced items: the alert is for those that reported verdicts
            if not any(entry.reported for entry in entries):
                await self._ledger.claim(*key)  # none did, in time: nothing to alert, nothing to keep
            return
        if not await self._ledger.claim(*key):
            return  # another process sends this album's alert
        if any(not entry.reported for entry in entries):
            log.info("album alert sent before every item reported", extra={"chat_id": key[0]})
        reposts = await self._reposts(entries)
        if reposts and await self._pacer.try_acquire(key[0]):
            first_message_id = min(entry.message_id for entry in entries)
            await self._delivery.send_quietly(AlbumReposts(replace(to, reply_to=first_message_id), reposts))

    async def _reposts(self, entries: list[AlbumEntry]) -> list[tuple[int, Hit]]:
        """(position in the album, evidence) of each reposted item; positions count every item, reported or not.
        An earlier item deleted meanwhile is no evidence any more."""
        originals = await self._items.get_many([e.hit_item_id for e in entries if e.hit_item_id is not None])
        reposts = []
        for position, entry in enumerate(sorted(entries, key=lambda e: e.message_id), 1):
            original = originals.get(entry.hit_item_id) if entry.hit_item_id is not None else None
            if original is not None:
                reposts.append((position, Hit(original, entry.score, entry.identical, entry.copies)))
        return reposts

    async def drain(self) -> None:
        """Send what is waiting now (shutdown): an album alert is better early than lost."""
        for key, album in list(self._albums.items()):
            if album.timer is not None:
                album.timer.cancel()
            try:
                entries = await self._ledger.entries(*key)
            except Exception:
                log.exception("album ledger unreadable", extra={"chat_id": key[0]})
                continue
            await self._flush_album(key, entries)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
