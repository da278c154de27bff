"""Media messages (new, edited, channel posts): turned into IncomingMedia and queued durably, nothing more.

The heavy work happens in the queue's workers, so a burst of photos never blocks getUpdates and a restart loses
nothing that was already acknowledged to Telegram.
"""

from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.ext import ContextTypes

from bot.replies.i18n import t
from bot.telegram.commands import lang_of, reply_text, services_of
from bot.telegram.convert import incoming_from, is_plausible_media_document

log = logging.getLogger(__name__)


async def media_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None:
        return
    services = services_of(context)
    is_channel = update.channel_post is not None or update.edited_channel_post is not None
    incoming = incoming_from(message, services.settings.download_limit_bytes, is_channel_post=is_channel)
    if incoming is None:
        return
    if not is_plausible_media_document(incoming.media):
        await _refuse_document(context, message, private=incoming.chat.type == "private")
        return
    job = await services.enqueue(incoming)
    if job is not None:
        services.albums.expect(incoming)
    log.info("media queued" if job else "duplicate update ignored",
             extra={"chat_id": incoming.chat.id, "message_id": incoming.message_id, "kind": incoming.media.kind})


async def _refuse_document(context: ContextTypes.DEFAULT_TYPE, message: Message, *, private: bool) -> None:
    """A PDF or a ZIP is never downloaded: ignored in groups (files are chat, not reposts), explained in private."""
    log.debug("non-media document not processed", extra={"chat_id": message.chat.id, "private": private})
    if private:
        await reply_text(context, message, t("unsupported", lang_of(message)))


async def unsupported_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Private chats only: audio, voice, contacts… get a clear answer instead of silence."""
    message = update.effective_message
    if message is not None:
        await reply_text(context, message, t("unsupported", lang_of(message)))
