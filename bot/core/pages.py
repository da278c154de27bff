"""Result lists of /similar and /search: near-duplicates grouped into one result, and later pages on demand.

Five results should be five different things: the original, its crop and its forward are one result ("and 2
copies"). A "More" press shows the next page of the same question without asking DashScope again: the query's
vector is kept in memory for a while, under a short token that the button carries. After a restart, or once
forgotten, the press is answered with "search again".
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from bot.bounded import ExpiringMap
from bot.core.feedback import at_least, unit
from bot.core.originals import SPARE_HITS
from bot.core.ports import FeedbackStore
from bot.core.results import Audience, Hit, Matches, NoMatches

PAGE_SIZE = 5
SAME_THING = 0.93
"""Two results at least this similar to each other are shown as one (a crop, a re-encode, a forward)."""
CANDIDATES_PER_RESULT = 4
QUERY_MEMORY_SECONDS = 3600.0
QUERY_MEMORY_MAX = 2000

KIND_PREFIXES: dict[str, frozenset[str]] = {
    "photo": frozenset({"photo", "image_document"}),
    "video": frozenset({"video", "video_document", "video_note"}),
    "gif": frozenset({"animation"}),
}
"""`/search video: cats` narrows the kinds searched."""

Finder = Callable[[np.ndarray, int], Awaitable[list[Hit]]]
"""The best `k` hits for a vector, best first (by picture, caption or both)."""


@dataclass(frozen=True)
class Question:
    """What was asked, enough to compute any page again: the vector, not the words, so no API call is needed."""

    chat_id: int
    vector: np.ndarray
    find: Finder
    kinds: frozenset[str] | None = None
    query: str | None = None


def split_kind_prefix(query: str) -> tuple[frozenset[str] | None, str]:
    """`video: cats` → (video kinds, "cats"); a query without a known prefix is searched across every kind."""
    head, colon, rest = query.partition(":")
    kinds = KIND_PREFIXES.get(head.strip().lower()) if colon else None
    return (kinds, rest.strip()) if kinds is not None and rest.strip() else (None, query)


class ResultPages:
    def __init__(self, feedback: FeedbackStore, *, page_size: int = PAGE_SIZE) -> None:
        self._feedback = feedback
        self._page_size = page_size
        self._questions: ExpiringMap[str, Question] = ExpiringMap(QUERY_MEMORY_SECONDS, QUERY_MEMORY_MAX)

    async def first(self, to: Audience, question: Question) -> Matches | NoMatches:
        token = secrets.token_urlsafe(9)
        self._questions.put(token, question)
        return await self._page(to, token, question, 0)

    async def more(self, to: Audience, token: str, page: int) -> Matches | NoMatches | None:
        """The next page; None when the question was forgotten (restart, or asked long ago)."""
        question = self._questions.get(token)
        if question is None or question.chat_id != to.chat.id:
            return None
        return await self._page(to, token, question, page)

    async def _page(self, to: Audience, token: str, question: Question, page: int) -> Matches | NoMatches:
        wanted = (page + 2) * self._page_size  # one page past this one tells whether "More" is worth offering
        hits = await question.find(question.vector, wanted * CANDIDATES_PER_RESULT)
        if question.kinds is not None:
            hits = [hit for hit in hits if hit.item.kind in question.kinds]
        groups, copies = await self._grouped(hits)
        shown = groups[page * self._page_size:(page + 1) * self._page_size]
        if not shown:
            return NoMatches(to, query=question.query)
        following = groups[(page + 1) * self._page_size:]
        # Stand-ins for originals Telegram no longer serves: the copies of the shown ones first, then the next.
        shown_files = {hit.item.file_unique_id for hit in shown}
        stand_ins = [hit for group_file, hit in copies if group_file in shown_files] + following
        return Matches(to, shown, query=question.query, spare=stand_ins[:SPARE_HITS],
                       more=(token, page + 1) if following else None)

    async def _grouped(self, hits: Sequence[Hit]) -> tuple[list[Hit], list[tuple[str, Hit]]]:
        """Best first; a hit that is the same thing as a better one counts as that one's copy. Returns the groups'
        best hits, and the copies (best first) with the file of the group they joined."""
        kept: list[tuple[Hit, str, np.ndarray | None]] = []
        copies: list[tuple[str, Hit]] = []
        for hit in hits:
            stored = await self._feedback.media_vector(hit.item.id)
            vector = None if stored is None else unit(stored)
            twin = next((n for n, (_, file, other) in enumerate(kept)
                         if file == hit.item.file_unique_id or _alike(vector, other)), None)
            if twin is None:
                kept.append((hit, hit.item.file_unique_id, vector))
            else:
                best, file, other = kept[twin]
                kept[twin] = (replace(best, copies=best.copies + 1), file, other)
                copies.append((file, hit))
        return [hit for hit, _, _ in kept], copies


def _alike(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    return at_least(a, b, SAME_THING)
