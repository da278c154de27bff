"""People's data commands (/forget, /forget me, /mydata, /purge, /privacy) and the presses of their confirmation
buttons. Rights are checked here against Telegram (who is an admin, who is an operator); the use cases are in
bot.core.privacy.
"""

from __future__ import annotations

from telegram import Message, Update

from bot.core.results import Audience, NotAllowed, PrivacyNotice
from bot.core.types import MessageRef
from bot.replies.privacy import parse_confirm_data, press_text
from bot.telegram.commands import answer, audience_of, say
from bot.telegram.context import Context
from bot.telegram.convert import chat_ref, sender_of


async def privacy_command(update: Update, context: Context) -> None:
    if update.effective_message is not None:
        settings = context.bot_data.services.settings
        await answer(context, PrivacyNotice(audience_of(update.effective_message), settings.retention_days,
                                            settings.job_retention_days))


async def forget_command(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None:
        return
    services = context.bot_data.services
    asker = message.from_user.id if message.from_user else None
    args = [arg.lower() for arg in context.args or []]
    if args == ["me"] and asker is not None:
        await answer(context, await services.privacy.ask_forget_me(audience_of(message), asker))
    elif not args and message.reply_to_message is not None:
        await _forget_replied(context, message, message.reply_to_message, asker)
    else:
        await say(context, message, "forget_usage")


async def _forget_replied(context: Context, message: Message, replied: Message, asker: int | None) -> None:
    """Any stored message (media today, text later): the use case decides by what it holds."""
    target = MessageRef(replied.chat.id, replied.message_id, sender_of(replied).id)

    async def asker_is_admin() -> bool:
        return await context.bot_data.admins.is_admin(message)

    await answer(context, await context.bot_data.services.privacy.forget_message(audience_of(message), asker, target,
                                                                               asker_is_admin))


async def mydata_command(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None or message.from_user is None:
        return
    if message.chat.type != message.chat.PRIVATE:
        await say(context, message, "mydata_private_only")
        return
    await answer(context, await context.bot_data.services.privacy.my_data(audience_of(message),
                                                                        message.from_user.id))


async def purge_command(update: Update, context: Context) -> None:
    """In a group: its admins. In a private chat: the bot's operators, naming the chat by id."""
    message = update.effective_message
    if message is None or message.from_user is None:
        return
    services = context.bot_data.services
    to = audience_of(message)
    if message.chat.type == message.chat.PRIVATE:
        await _purge_by_id(context, message, message.from_user.id, list(context.args or []))
    elif not await context.bot_data.admins.is_admin(message):
        await answer(context, NotAllowed(to))
    else:
        await answer(context, await services.privacy.ask_purge(to, message.from_user.id))


async def _purge_by_id(context: Context, message: Message, asker_id: int, args: list[str]) -> None:
    services = context.bot_data.services
    to = audience_of(message)
    if asker_id not in services.settings.bot_admin_ids:
        await answer(context, NotAllowed(to))
        return
    target = _chat_id(args)
    if target is None:
        await say(context, message, "purge_usage")
        return
    await answer(context, await services.privacy.ask_purge(to, asker_id, target))


def _chat_id(args: list[str]) -> int | None:
    if len(args) != 1:
        return None
    try:
        return int(args[0])
    except ValueError:
        return None


async def confirmation_pressed(update: Update, context: Context) -> None:
    """Every press is answered (a short toast), whoever pressed; the deletion's result goes to the chat."""
    query = update.callback_query
    if query is None or query.data is None:
        return
    parsed = parse_confirm_data(query.data)
    message = query.message
    if parsed is None or message is None:
        await context.bot_data.gateway.answer_press(query.id, press_text("expired", query.from_user.language_code))
        return
    confirmation_id, confirmed = parsed
    to = Audience(chat_ref(message.chat), None, query.from_user.language_code)
    outcome = await context.bot_data.services.privacy.press(to, query.from_user.id, confirmation_id, confirmed,
                                                           context.bot_data.admins)
    await context.bot_data.gateway.answer_press(query.id, press_text(outcome.verdict, outcome.language))
    if outcome.then is not None:
        await answer(context, outcome.then)
