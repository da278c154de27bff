"""Who may use admin commands: asked of Telegram (getChatMember), cached briefly.

The cache is short on purpose: a demoted admin must lose access within ADMIN_CACHE_SECONDS, not at the next restart.
It is also bounded: at most ADMIN_CACHE_MAX_ENTRIES (chat, user) verdicts, expired ones dropped, so memory does not
grow with every member who ever tried an admin command; a verdict pushed out early only costs one more
getChatMember.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from telegram import Bot, Message
from telegram.constants import ChatMemberStatus

from bot.bounded import ExpiringMap
from bot.telegram.gateway import translated_errors

ANONYMOUS_ADMIN_ID = 1087968824  # @GroupAnonymousBot: an admin posting as the group
ADMIN_STATUSES = frozenset({ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR})
ADMIN_CACHE_MAX_ENTRIES = 10_000


class AdminChecker:
    def __init__(self, bot: Bot, ttl_seconds: float, clock: Callable[[], float] = time.monotonic,
                 max_entries: int = ADMIN_CACHE_MAX_ENTRIES) -> None:
        self._bot = bot
        self._cache: ExpiringMap[tuple[int, int], bool] = ExpiringMap(ttl_seconds, max_entries, clock)

    async def is_admin(self, message: Message) -> bool:
        chat = message.chat
        if chat.type == chat.PRIVATE:
            return True
        if message.sender_chat is not None and message.sender_chat.id == chat.id:
            return True  # anonymous admin: only admins can speak as the group
        user = message.from_user
        if user is None or user.id == ANONYMOUS_ADMIN_ID:
            return False
        return await self.is_chat_admin(chat.id, user.id)

    async def user_is_admin(self, chat_id: int, chat_type: str, user_id: int) -> bool:
        """For a button press: whoever pressed, by their own user id (presses are never anonymous)."""
        if chat_type == "private":
            return True
        return await self.is_chat_admin(chat_id, user_id)

    async def is_chat_admin(self, chat_id: int, user_id: int) -> bool:
        """An owner or administrator of the chat (the core's ChatAdmins, for button presses)."""
        cached = self._cache.get((chat_id, user_id))
        if cached is not None:
            return cached
        async with translated_errors():
            member = await self._bot.get_chat_member(chat_id, user_id)
        verdict = member.status in ADMIN_STATUSES
        self._cache.put((chat_id, user_id), verdict)
        return verdict
