"""Usage and outcome counters: what each chat and user costs in API calls, and what the bot did for them.

Usage is kept per chat, user and UTC day (`day_of`), which is what both the daily spend caps and /stats need.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar

from storage.db import Database
from storage.models import ChatStats, JobState

SECONDS_PER_DAY = 86400
DatabaseT = TypeVar("DatabaseT")
UNKNOWN_USER = 0
"""Stored in place of a missing sender (anonymous admins, channels): NULL would defeat the primary key."""


# Statements both backends run as they are (storage.postgres numbers the `?` placeholders).
ADD_USAGE = (
    "INSERT INTO usage (chat_id, user_id, day, requests, input_tokens, image_tokens) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (chat_id, user_id, day) DO UPDATE "
    "SET requests = usage.requests + excluded.requests, input_tokens = usage.input_tokens + "
    "excluded.input_tokens, image_tokens = usage.image_tokens + excluded.image_tokens"
)
BUMP_COUNTER = (
    "INSERT INTO chat_counters (chat_id, reposts_called, skipped_over_cap, replies_failed) "
    "VALUES (?, ?, ?, ?) ON CONFLICT (chat_id) DO UPDATE SET reposts_called = chat_counters.reposts_called + "
    "excluded.reposts_called, skipped_over_cap = chat_counters.skipped_over_cap + excluded.skipped_over_cap, "
    "replies_failed = chat_counters.replies_failed + excluded.replies_failed"
)
CHAT_USAGE = (
    "SELECT coalesce(sum(requests), 0), coalesce(sum(input_tokens), 0), coalesce(sum(image_tokens), 0) "
    "FROM usage WHERE chat_id = ?"
)
CHAT_COUNTERS = (
    "SELECT reposts_called, skipped_over_cap, replies_failed, alerts_dismissed FROM chat_counters WHERE chat_id = ?"
)
CHAT_SIZES = "SELECT (SELECT count(*) FROM ignored WHERE chat_id = ?), (SELECT count(*) FROM vectors WHERE chat_id = ?)"
CHATS_WITH_DATA = (
    "SELECT chat_id FROM items UNION SELECT chat_id FROM usage UNION SELECT chat_id "
    "FROM chat_counters UNION SELECT chat_id FROM jobs ORDER BY chat_id"
)


class ItemCounts(Protocol):
    """What a chat's statistics need of its items (either backend's item repository)."""

    async def counts_by_kind(self, chat_id: int) -> dict[str, int]: ...
    async def counts_by_route(self, chat_id: int) -> dict[str, int]: ...
    async def top_posters(self, chat_id: int, limit: int = 5) -> list[tuple[int | None, str | None, int]]: ...
    async def unavailable_count(self, chat_id: int) -> int: ...


class JobCounts(Protocol):
    async def counts(self, chat_id: int | None = None) -> dict[str, int]: ...


def usage_row(chat_id: int, user_id: int | None, requests: float, input_tokens: int, image_tokens: int,
              day: int | None) -> tuple[int, int, int, float, int, int]:
    """The parameters of ADD_USAGE: a missing sender is UNKNOWN_USER, a missing day today (UTC)."""
    return (chat_id, UNKNOWN_USER if user_id is None else user_id, day_of(time.time()) if day is None else day,
            requests, input_tokens, image_tokens)


async def assemble_chat_stats(chat_id: int, items: ItemCounts, jobs: JobCounts, *, usage: Sequence[Any],
                              counters: Sequence[Any] | None, sizes: Sequence[Any],
                              reposters: Sequence[Sequence[Any]]) -> ChatStats:
    """One chat's statistics from the rows of CHAT_USAGE, CHAT_COUNTERS (None: no row), CHAT_SIZES and the top
    reposters (sender id, name, count), and what the item and job repositories count."""
    reposts, skipped, replies_failed, dismissed = counters if counters is not None else (0, 0, 0, 0)
    job_counts = await jobs.counts(chat_id)
    return ChatStats(
        items_by_kind=await items.counts_by_kind(chat_id),
        items_by_route=await items.counts_by_route(chat_id),
        reposts_called=int(reposts),
        top_posters=await items.top_posters(chat_id),
        api_requests=float(usage[0]),
        input_tokens=int(usage[1]),
        image_tokens=int(usage[2]),
        jobs_failed=job_counts[JobState.FAILED],
        jobs_pending=job_counts[JobState.PENDING] + job_counts[JobState.RUNNING],
        skipped_over_cap=int(skipped),
        replies_failed=int(replies_failed),
        originals_gone=await items.unavailable_count(chat_id),
        alerts_dismissed=int(dismissed),
        ignored=int(sizes[0]),
        vectors=int(sizes[1]),
        top_reposters=[(row[0], row[1], int(row[2])) for row in reposters],
    )


def day_of(timestamp: float) -> int:
    """The UTC day number (days since 1970-01-01) of a unix time."""
    return int(timestamp // SECONDS_PER_DAY)


class StatsBase(ABC, Generic[DatabaseT]):
    """What both backends' statistics share: the repositories a chat's statistics draw on, and the outcome
    counters, each adding to the chat's row of `chat_counters` (BUMP_COUNTER)."""

    def __init__(self, db: DatabaseT, items: ItemCounts, jobs: JobCounts) -> None:
        self._db = db
        self._items = items
        self._jobs = jobs

    async def add_repost(self, chat_id: int) -> None:
        await self._bump_counter(chat_id, reposts=1)

    async def add_skipped_over_cap(self, chat_id: int) -> None:
        await self._bump_counter(chat_id, skipped=1)

    async def add_reply_failed(self, chat_id: int) -> None:
        await self._bump_counter(chat_id, replies_failed=1)

    @abstractmethod
    async def _bump_counter(self, chat_id: int, *, reposts: int = 0, skipped: int = 0,
                            replies_failed: int = 0) -> None: ...


class StatsRepository(StatsBase[Database]):
    async def add_usage(
        self, chat_id: int, user_id: int | None, *, requests: float, input_tokens: int, image_tokens: int,
        day: int | None = None,
    ) -> None:  # fmt: skip
        """Count API usage against the chat and the user for `day` (default: today, UTC)."""
        async with self._db.transaction() as conn:
            await conn.execute(ADD_USAGE, usage_row(chat_id, user_id, requests, input_tokens, image_tokens, day))

    async def requests_today(self, *, chat_id: int | None = None, user_id: int | None = None, day: int) -> float:
        """API requests on `day`, for a chat, a user (across chats), both, or the whole bot."""
        async with self._db.read() as conn:
            rows = await conn.execute_fetchall(
                "SELECT coalesce(sum(requests), 0) FROM usage WHERE day = :day "
                "AND (:chat IS NULL OR chat_id = :chat) AND (:user IS NULL OR user_id = :user)",
                {"day": day, "chat": chat_id, "user": user_id},
            )
        return float(next(iter(rows))[0])

    async def chat_stats(self, chat_id: int) -> ChatStats:
        async with self._db.read() as conn:
            (usage,) = await conn.execute_fetchall(CHAT_USAGE, (chat_id,))
            counters = list(await conn.execute_fetchall(CHAT_COUNTERS, (chat_id,)))
            (sizes,) = await conn.execute_fetchall(CHAT_SIZES, (chat_id, chat_id))
            # SQLite takes the bare sender_name from the row of max(items.id): the name of the latest repost.
            reposters = await conn.execute_fetchall(
                "SELECT items.sender_id, items.sender_name, count(*) AS reposts, max(items.id) AS latest "
                "FROM nearest JOIN items ON items.id = nearest.item_id WHERE nearest.chat_id = ? AND called = 1 "
                "GROUP BY items.sender_id ORDER BY reposts DESC, latest DESC LIMIT 5",
                (chat_id,),
            )
        return await assemble_chat_stats(chat_id, self._items, self._jobs, usage=usage,
                                         counters=counters[0] if counters else None, sizes=sizes,
                                         reposters=list(reposters))

    async def chats_overview(self) -> list[tuple[int, ChatStats]]:
        """Every chat with items, usage, counters or jobs, by chat id (for the bot's operators)."""
        async with self._db.read() as conn:
            rows = await conn.execute_fetchall(CHATS_WITH_DATA)
        return [(int(row[0]), await self.chat_stats(int(row[0]))) for row in rows]

    async def _bump_counter(self, chat_id: int, *, reposts: int = 0, skipped: int = 0,
                            replies_failed: int = 0) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(BUMP_COUNTER, (chat_id, reposts, skipped, replies_failed))
