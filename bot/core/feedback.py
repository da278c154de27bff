"""People correcting the bot: "not a repost" and "ignore this picture" on an alert, and what they mean later.

Both are about media in general (a file id and a vector), not about pictures: text alerts can reuse them. A press
names the pair by item ids (an alert's button data), so it works after a restart and on alerts of any age; what it
needs is read from storage, and a pair whose items were purged gets a polite "gone".
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np

from bot.core.ports import ChatStore, FeedbackStore, ItemStore
from bot.core.results import Audience, Hit, PressAnswer, PressVerdict
from bot.core.types import ChatRef
from storage.models import ChatSettings, Dismissal, Item

log = logging.getLogger(__name__)

NEAR_COPY = 0.99
"""From this similarity on, a file counts as the same media as a dismissed one (a re-encode, a crop of a pixel)."""
SECONDS_PER_HOUR = 3600

AdminCheck = Callable[[], Awaitable[bool]]


@dataclass(frozen=True)
class Media:
    """One side of a pair: the file and its (unit) media vector."""

    file_unique_id: str
    vector: np.ndarray | None


@dataclass(frozen=True)
class Press:
    """Who pressed a button on which of the bot's messages, in which chat."""

    chat: ChatRef
    message_id: int
    user_id: int
    user_name: str | None
    language: str | None


def unit(vector: np.ndarray) -> np.ndarray:
    return np.asarray(vector, dtype=np.float32) / max(float(np.linalg.norm(vector)), 1e-12)


def at_least(a: np.ndarray | None, b: np.ndarray | None, score: float) -> bool:
    """Cosine of two unit vectors at or above `score`. Vectors of different models or dimensions (kept from before
    a model change) are never alike: nothing can be said of their angle."""
    return a is not None and b is not None and a.shape == b.shape and float(np.dot(a, b)) >= score


def same_media(a: Media, b: Media) -> bool:
    return a.file_unique_id == b.file_unique_id or at_least(a.vector, b.vector, NEAR_COPY)


def dismissed_pair(dismissal: Dismissal, new: Media, earlier: Media) -> bool:
    a = Media(dismissal.file_a, dismissal.vector_a)
    b = Media(dismissal.file_b, dismissal.vector_b)
    return (same_media(new, a) and same_media(earlier, b)) or (same_media(new, b) and same_media(earlier, a))


def own_repost(item: Item, earlier: Item, leeway_hours: int) -> bool:
    """The same person posting their own media again within the chat's leeway (a correction, a crosspost). Only
    people: a channel or the group itself (anonymous admins) speaks for many, and has negative ids."""
    return (item.sender_id is not None and item.sender_id > 0 and item.sender_id == earlier.sender_id
            and item.date - earlier.date < leeway_hours * SECONDS_PER_HOUR)


class AlertFilter:
    """Whether a repost the threshold found is one the chat asked not to hear about."""

    def __init__(self, feedback: FeedbackStore) -> None:
        self._feedback = feedback

    async def silenced(self, item: Item, vector: np.ndarray, hit: Hit, settings: ChatSettings,
                       threshold: float) -> str | None:
        """The reason it is silenced (`own`, `ignored`, `dismissed`), or None when it should be called out."""
        if own_repost(item, hit.item, settings.own_repost_hours):
            return "own"
        new_vector = unit(vector)
        new = Media(item.file_unique_id, new_vector)
        for entry in await self._feedback.ignored(item.chat_id):
            if entry.file_unique_id in (item.file_unique_id, hit.item.file_unique_id) or at_least(
                    unit(entry.vector), new_vector, threshold):
                return "ignored"
        dismissals = await self._feedback.dismissals(item.chat_id)
        if dismissals:
            stored = await self._feedback.media_vector(hit.item.id)
            earlier = Media(hit.item.file_unique_id, None if stored is None else unit(stored))
            if any(dismissed_pair(d, new, earlier) for d in dismissals):
                return "dismissed"
        return None


class AlertPresses:
    """The buttons under a repost alert."""

    def __init__(self, items: ItemStore, feedback: FeedbackStore, chats: ChatStore) -> None:
        self._items = items
        self._feedback = feedback
        self._chats = chats

    async def not_a_repost(self, press: Press, pair: tuple[int, int], is_admin: AdminCheck) -> PressAnswer:
        """The new post's poster, the original poster and admins may say so; the pair is never called out again."""
        found = await self._pair(pair)
        if found is None:
            return PressAnswer("gone", press.language)
        new, earlier, vectors = found
        if press.user_id not in (new.sender_id, earlier.sender_id) and not await is_admin():
            return PressAnswer("refused", press.language)
        await self._feedback.dismiss(press.chat.id, ((new.file_unique_id, vectors[0]),
                                                     (earlier.file_unique_id, vectors[1])), press.user_name)
        log.info("alert dismissed", extra={"chat_id": press.chat.id, "item_id": new.id, "earlier_id": earlier.id})
        return await self._answer("dismissed", press, new, earlier, vectors)

    async def ignore(self, press: Press, pair: tuple[int, int], is_admin: AdminCheck) -> PressAnswer:
        """Admins only: the original goes on the chat's ignore list."""
        found = await self._pair(pair)
        if found is None:
            return PressAnswer("gone", press.language)
        if not await is_admin():
            return PressAnswer("not_admin", press.language)
        new, earlier, vectors = found
        added = await self._feedback.ignore(press.chat.id, earlier.file_unique_id, vectors[1], earlier.kind,
                                            press.user_name)
        log.info("media ignored", extra={"chat_id": press.chat.id, "item_id": earlier.id, "added": added})
        return await self._answer("ignored" if added else "already_ignored", press, new, earlier, vectors)

    async def _pair(self, pair: tuple[int, int]) -> tuple[Item, Item, tuple[np.ndarray, np.ndarray]] | None:
        items = await self._items.get_many(list(pair))
        vectors = [await self._feedback.media_vector(item_id) for item_id in pair]
        if len(items) < 2 or vectors[0] is None or vectors[1] is None:
            return None  # purged with the chat, or never stored
        return items[pair[0]], items[pair[1]], (unit(vectors[0]), unit(vectors[1]))

    async def _answer(self, verdict: PressVerdict, press: Press, new: Item, earlier: Item,
                      vectors: tuple[np.ndarray, np.ndarray]) -> PressAnswer:
        settings = await self._chats.settings(press.chat.id)
        language = press.language if settings.language == "auto" else settings.language
        identical = new.file_unique_id == earlier.file_unique_id
        hit = Hit(earlier, 1.0 if identical else float(np.dot(vectors[0], vectors[1])), identical=identical)
        return PressAnswer(verdict, press.language, alert=Audience(press.chat, press.message_id, language),
                           by=press.user_name, hit=hit)
