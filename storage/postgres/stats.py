"""Usage and outcome counters on PostgreSQL (see storage.stats): the same statements, numbered for asyncpg.

Every counter is bumped by one `INSERT … ON CONFLICT … DO UPDATE` adding to the stored row, so processes counting
the same chat, user and day at once all count: the row lock serialises the additions, none is lost.
"""

from __future__ import annotations

from storage.models import ChatStats
from storage.postgres.db import PgDatabase
from storage.postgres.sql import numbered
from storage.stats import (
    ADD_USAGE,
    BUMP_COUNTER,
    CHAT_COUNTERS,
    CHAT_SIZES,
    CHAT_USAGE,
    CHATS_WITH_DATA,
    StatsBase,
    assemble_chat_stats,
    usage_row,
)

_TOP_REPOSTERS = """
    SELECT items.sender_id, (array_agg(items.sender_name ORDER BY items.id DESC))[1], count(*) AS reposts
    FROM nearest JOIN items ON items.id = nearest.item_id WHERE nearest.chat_id = $1 AND nearest.called
    GROUP BY items.sender_id ORDER BY reposts DESC, max(items.id) DESC LIMIT 5
"""
"""Each sender under the name of their latest repost, as SQLite's bare column next to max(items.id) gives it."""


class PgStatsRepository(StatsBase[PgDatabase]):
    async def add_usage(
        self, chat_id: int, user_id: int | None, *, requests: float, input_tokens: int, image_tokens: int,
        day: int | None = None,
    ) -> None:  # fmt: skip
        """Count API usage against the chat and the user for `day` (default: today, UTC)."""
        await self._db.execute(numbered(ADD_USAGE),
                               *usage_row(chat_id, user_id, float(requests), input_tokens, image_tokens, day))

    async def requests_today(self, *, chat_id: int | None = None, user_id: int | None = None, day: int) -> float:
        """API requests on `day`, for a chat, a user (across chats), both, or the whole bot."""
        return float(await self._db.fetchval(
            "SELECT coalesce(sum(requests), 0) FROM usage WHERE day = $1 "
            "AND ($2::bigint IS NULL OR chat_id = $2) AND ($3::bigint IS NULL OR user_id = $3)",
            day, chat_id, user_id,
        ))

    async def chat_stats(self, chat_id: int) -> ChatStats:
        async with self._db.read() as conn:
            usage = await conn.fetchrow(numbered(CHAT_USAGE), chat_id)
            counters = await conn.fetchrow(numbered(CHAT_COUNTERS), chat_id)
            sizes = await conn.fetchrow(numbered(CHAT_SIZES), chat_id, chat_id)
            reposters = await conn.fetch(_TOP_REPOSTERS, chat_id)
        return await assemble_chat_stats(chat_id, self._items, self._jobs, usage=usage, counters=counters,
                                         sizes=sizes, reposters=reposters)

    async def chats_overview(self) -> list[tuple[int, ChatStats]]:
        """Every chat with items, usage, counters or jobs, by chat id (for the bot's operators)."""
        rows = await self._db.fetch(CHATS_WITH_DATA)
        return [(int(row[0]), await self.chat_stats(int(row[0]))) for row in rows]

    async def _bump_counter(self, chat_id: int, *, reposts: int = 0, skipped: int = 0,
                            replies_failed: int = 0) -> None:
        await self._db.execute(numbered(BUMP_COUNTER), chat_id, reposts, skipped, replies_failed)
