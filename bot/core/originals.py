"""Originals Telegram no longer serves: marked unavailable once, and the answer shows the next best item instead.

Telegram does not tell bots that a message was deleted; the bot learns it when it shows the original (an alert,
/similar, /search) and Telegram answers that the message or file is gone. The answer's decision carries its spare
candidates, so the replacement needs no second search, and the gone item loses its vectors: it is never found, and
so never tried, again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from typing import Any

from bot.core.ports import ItemStore
from bot.core.results import Decision, Hit, Matches, NoMatches, RepostFound

log = logging.getLogger(__name__)

SPARE_HITS = 3
"""Candidates kept beyond those shown, to stand in for originals that turn out to be gone."""


def _kept(hits: Sequence[Hit], gone: Collection[str]) -> list[Hit]:
    return [hit for hit in hits if hit.item.file_id not in gone]


def _matches(decision: Matches, gone: Collection[str]) -> Decision | None:
    candidates = [*decision.hits, *decision.spare]
    remaining = _kept(candidates, gone)
    shown = len(decision.hits)
    if len(remaining) == len(candidates):
        return None  # not one of ours: sending the same again would fail the same way
    if not remaining:
        return NoMatches(decision.to, decision.query)
    return replace(decision, hits=remaining[:shown], spare=remaining[shown:])


def _repost(decision: RepostFound, gone: Collection[str]) -> Decision | None:
    candidates = [decision.hit, *decision.spare]
    remaining = _kept(candidates, gone)
    if not remaining or len(remaining) == len(candidates):
        return None
    return replace(decision, hit=remaining[0], spare=remaining[1:])


_REPLACEMENTS: dict[type[Any], Callable[[Any, Collection[str]], Decision | None]] = {
    Matches: _matches,
    RepostFound: _repost,
}


class Originals:
    def __init__(self, items: ItemStore) -> None:
        self._items = items

    async def gone(self, chat_id: int, decision: Decision, file_ids: Sequence[str]) -> Decision | None:
        """Mark the items of these files unavailable in the chat; the decision to send instead (None: nothing is
        left worth sending, e.g. an alert whose only original is gone)."""
        marked = await self._items.mark_unavailable(chat_id, file_ids)
        log.info("originals gone, marked unavailable", extra={"chat_id": chat_id, "items": [i.id for i in marked]})
        replacement = _REPLACEMENTS.get(type(decision))
        return replacement(decision, frozenset(file_ids)) if replacement is not None else None
