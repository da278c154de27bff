"""Text messages (new and edited): turned into IncomingText and offered to the text use case, which keeps them only
where the chat's admins turned text indexing on. Commands never arrive here (the filter), bots' messages stop here.
Also the press of "delete the stored messages", offered to admins when they turn text indexing off."""

from __future__ import annotations

import logging

from telegram import Message, Update

from bot.core.outage import once_stored
from bot.core.results import Audience
from bot.core.texts import IncomingText
from bot.replies.i18n import language_of, t
from bot.telegram.context import Context
from bot.telegram.convert import chat_ref, sender_of

log = logging.getLogger(__name__)


def incoming_text(message: Message) -> IncomingText | None:
    """None for messages written by bots, or sent through an inline bot: not the chat's own conversation."""
    if not message.text or (message.from_user is not None and message.from_user.is_bot) or message.via_bot:
        return None
    edit_date = int(message.edit_date.timestamp()) if message.edit_date else None
    return IncomingText(chat=chat_ref(message.chat), message_id=message.message_id, sender=sender_of(message),
                        date=int(message.date.timestamp()), text=message.text.strip(), edit_date=edit_date)


async def text_message(update: Update, context: Context) -> None:
    message = update.effective_message
    incoming = incoming_text(message) if message is not None else None
    if incoming is None:
        return
    texts = context.bot_data.services.texts
    job = await once_stored(lambda: texts.accept(incoming),
                            about={"chat_id": incoming.chat.id, "message_id": incoming.message_id})
    if job is not None:
        log.info("text queued", extra={"chat_id": incoming.chat.id, "message_id": incoming.message_id})


async def delete_texts_pressed(update: Update, context: Context) -> None:
    query = update.callback_query
    if query is None or query.message is None:
        return
    gateway = context.bot_data.gateway
    chat = query.message.chat
    language = query.from_user.language_code
    if not await context.bot_data.admins.user_is_admin(chat.id, chat.type, query.from_user.id):
        await gateway.answer_press(query.id, t("not_admin", language_of(language)))
        return
    await gateway.answer_press(query.id)
    to = Audience(chat_ref(chat), query.message.message_id, language)
    services = context.bot_data.services
    await services.delivery.send(await services.chat_settings.delete_texts(to))
    log.info("stored texts deleted on request", extra={"chat_id": chat.id, "user_id": query.from_user.id})
