"""Telegram's own changes to a chat: the bot added or removed, a group becoming a supergroup."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatMemberStatus

from bot.telegram.context import Context

GONE = frozenset({ChatMemberStatus.LEFT, ChatMemberStatus.BANNED})


async def my_chat_member(update: Update, context: Context) -> None:
    """Removed: stop serving the chat, keep its data for the retention period. Re-added: everything is back."""
    change = update.my_chat_member
    if change is None:
        return
    lifecycle = context.bot_data.services.lifecycle
    if change.new_chat_member.status in GONE:
        await lifecycle.removed(change.chat.id)
    else:
        await lifecycle.added(change.chat.id)


async def chat_migrated(update: Update, context: Context) -> None:
    """Both service messages (in the old and in the new chat) trigger the move; the second is a no-op."""
    message = update.effective_message
    if message is None:
        return
    if message.migrate_to_chat_id:
        old, new = message.chat.id, message.migrate_to_chat_id
    elif message.migrate_from_chat_id:
        old, new = message.migrate_from_chat_id, message.chat.id
    else:
        return
    await context.bot_data.services.lifecycle.migrated(old, new)
