"""Telegram's own changes to a chat: the bot added or removed, a group becoming a supergroup."""

from __future__ import annotations

import logging
import time

from telegram import Update
from telegram.constants import ChatMemberStatus
from telegram.ext import ContextTypes

from bot.telegram.commands import services_of

log = logging.getLogger(__name__)

GONE = frozenset({ChatMemberStatus.LEFT, ChatMemberStatus.BANNED})


async def my_chat_member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Removed: stop serving the chat, keep its data for the retention period. Re-added: everything is back."""
    change = update.my_chat_member
    if change is None:
        return
    chats = services_of(context).store.chats
    chat_id = change.chat.id
    if change.new_chat_member.status in GONE:
        await chats.mark_removed(chat_id, int(time.time()))
        log.info("bot removed from chat", extra={"chat_id": chat_id})
    else:
        await chats.mark_active(chat_id)
        log.info("bot active in chat", extra={"chat_id": chat_id, "status": change.new_chat_member.status})


async def chat_migrated(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
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
    await services_of(context).store.items.move_chat(old, new)
    log.info("chat migrated", extra={"old_chat_id": old, "new_chat_id": new})
