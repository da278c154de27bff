"""Telegram's own changes to a chat: the bot added or removed, a group becoming a supergroup."""

from __future__ import annotations

from telegram import ChatMemberUpdated, Update
from telegram.constants import ChatMemberStatus

from bot.core.results import Audience, Greeting
from bot.telegram.context import Context
from bot.telegram.convert import chat_ref

GONE = frozenset({ChatMemberStatus.LEFT, ChatMemberStatus.BANNED})
GROUP_TYPES = frozenset({"group", "supergroup"})


async def my_chat_member(update: Update, context: Context) -> None:
    """Removed: stop serving the chat, keep its data for the retention period. Re-added: everything is back."""
    change = update.my_chat_member
    if change is None:
        return
    lifecycle = context.bot_data.services.lifecycle
    if change.new_chat_member.status in GONE:
        await lifecycle.removed(change.chat.id)
        return
    await lifecycle.added(change.chat.id)
    if change.old_chat_member.status in GONE and change.chat.type in GROUP_TYPES:
        await context.bot_data.services.delivery.send_quietly(_greeting(change, context))


def _greeting(change: ChatMemberUpdated, context: Context) -> Greeting:
    """Once, when added: an admin sees everything; otherwise only with privacy mode off (getMe says which)."""
    is_admin = change.new_chat_member.status == ChatMemberStatus.ADMINISTRATOR
    sees_media = is_admin or bool(context.bot.can_read_all_group_messages)
    return Greeting(Audience(chat_ref(change.chat), None, change.from_user.language_code), sees_media)


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
