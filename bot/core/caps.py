"""The operator's daily caps: API requests per chat and per user, per UTC day. They read what `record` wrote."""

from __future__ import annotations

import time

from bot.core.ports import StatsStore
from bot.dashscope.types import Usage
from bot.errors import Disposition, Failure


class OverCap(Failure):
    """Today's request budget for this chat or user is spent; the item is skipped, noted in /stats."""

    disposition = Disposition.OVER_CAP
    message_key = "over_cap"


def utc_day(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // 86400)


class SpendCaps:
    def __init__(self, stats: StatsStore, *, per_chat: int, per_user: int) -> None:
        self._stats = stats
        self._per_chat = per_chat
        self._per_user = per_user

    async def check(self, chat_id: int, user_id: int | None) -> None:
        day = utc_day()
        if await self._stats.requests_today(chat_id=chat_id, day=day) >= self._per_chat:
            raise OverCap(f"chat {chat_id} reached {self._per_chat} requests today")
        if user_id is not None and await self._stats.requests_today(user_id=user_id, day=day) >= self._per_user:
            raise OverCap(f"user reached {self._per_user} requests today")

    async def record(self, chat_id: int, user_id: int | None, usage: Usage, requests: float) -> None:
        """Counts a share of requests (a batched text is 1/batch of a request) and tokens against chat and user."""
        if requests == 0:
            return
        await self._stats.add_usage(chat_id, user_id, requests=requests, input_tokens=usage.input_tokens,
                                    image_tokens=usage.image_tokens)
