"""Commands: read the update, call one use case, send what it decided (worded by bot.replies).

/similar and /search answer the person directly (no queue): they are questions, not items to remember, and a person
is waiting (the use case shows "typing…" and answers within a deadline).
"""

from __future__ import annotations

from telegram import Message, Update

from bot.core.results import Audience, Decision, NotAllowed
from bot.replies.render import plain
from bot.telegram.context import Context
from bot.telegram.convert import chat_ref, incoming_from


def audience_of(message: Message) -> Audience:
    return Audience(chat_ref(message.chat), message.message_id,
                    message.from_user.language_code if message.from_user else None)


async def answer(context: Context, decision: Decision) -> None:
    await context.bot_data.services.delivery.send(decision)


async def say(context: Context, message: Message, key: str) -> None:
    """A fixed sentence in the asker's language."""
    await context.bot_data.gateway.send(plain(audience_of(message), key))


async def help_command(update: Update, context: Context) -> None:
    if update.effective_message is not None:
        await say(context, update.effective_message, "help")


async def similar_command(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None:
        return
    services = context.bot_data.services
    target = message.reply_to_message
    incoming = incoming_from(target, services.settings.download_limit_bytes) if target else None
    if incoming is None:
        await say(context, message, "similar_usage")
        return
    await answer(context, await services.similar.answer(audience_of(message), incoming))


async def search_command(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None:
        return
    query = " ".join(context.args or []).strip()
    if not query:
        await say(context, message, "search_usage")
        return
    asker = message.from_user.id if message.from_user else None
    await answer(context, await context.bot_data.services.search.answer(audience_of(message), query, asker))


async def stats_command(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None:
        return
    services = context.bot_data.services
    to = audience_of(message)
    user_id = message.from_user.id if message.from_user else None
    if message.chat.type == message.chat.PRIVATE and user_id in services.settings.bot_admin_ids:
        await answer(context, await services.report.overview(to))
    elif not await context.bot_data.admins.is_admin(message):
        await answer(context, NotAllowed(to))
    else:
        await answer(context, await services.report.chat(to, message.chat.title or message.chat.full_name or ""))


async def settings_command(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None:
        return
    to = audience_of(message)
    if not await context.bot_data.admins.is_admin(message):
        await answer(context, NotAllowed(to))
        return
    await answer(context, await context.bot_data.services.chat_settings.apply(to, list(context.args or [])))
