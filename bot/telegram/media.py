"""Media messages (new, edited, channel posts): turned into IncomingMedia and accepted as durable jobs, nothing more.

The heavy work happens in the queue's workers, so a burst of photos never blocks getUpdates and a restart loses
nothing that was already acknowledged to Telegram. While the database is away the handler waits for it
(bot.core.outage), so Telegram is not told the update was handled before its job is stored.
"""

from __future__ import annotations

import logging

from telegram import Update

from bot.core.outage import once_stored
from bot.telegram.commands import say
from bot.telegram.context import Context
from bot.telegram.convert import incoming_from, is_plausible_media_document

log = logging.getLogger(__name__)


async def media_message(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None:
        return
    services = context.bot_data.services
    is_channel = update.channel_post is not None or update.edited_channel_post is not None
    incoming = incoming_from(message, services.settings.download_limit_bytes, is_channel_post=is_channel)
    if incoming is None:
        return
    if not is_plausible_media_document(incoming.media):
        # A PDF or a ZIP is never downloaded: ignored in groups (files are chat, not reposts), explained in private.
        log.debug("non-media document not processed", extra={"chat_id": message.chat.id})
        if incoming.chat.type == "private":
            await say(context, message, "unsupported")
        return

    async def store() -> bool:
        """True: queued; False: this update was seen before."""
        await services.lifecycle.seen(incoming.chat)
        return await services.ingest.accept(incoming) is not None

    queued = await once_stored(store, about={"chat_id": incoming.chat.id, "message_id": incoming.message_id})
    log.info("media queued" if queued else "duplicate update ignored",
             extra={"chat_id": incoming.chat.id, "message_id": incoming.message_id, "kind": incoming.media.kind})


async def unsupported_message(update: Update, context: Context) -> None:
    """Private chats only: audio, voice, contacts… get a clear answer instead of silence."""
    if update.effective_message is not None:
        await say(context, update.effective_message, "unsupported")


async def private_text(update: Update, context: Context) -> None:
    """A plain text in a private chat: one line pointing at /help, rather than silence."""
    if update.effective_message is not None:
        await say(context, update.effective_message, "private_hint")
