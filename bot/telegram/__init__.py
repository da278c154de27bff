"""The Telegram adapter: the only package where python-telegram-bot types appear (handlers, gateway, admin checks,
update ordering, the application itself)."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import CallbackQueryHandler, ChatMemberHandler, CommandHandler, MessageHandler, filters

from bot.replies.buttons import DELETE_TEXTS
from bot.telegram.chat_events import chat_migrated, my_chat_member
from bot.telegram.commands import (
    help_command,
    search_command,
    settings_command,
    similar_command,
    stats_command,
)
from bot.telegram.context import BotApp, Context
from bot.telegram.media import media_message, private_text, unsupported_message
from bot.telegram.presses import alert_pressed, more_pressed, settings_pressed
from bot.telegram.privacy import (
    confirmation_pressed,
    forget_command,
    mydata_command,
    privacy_command,
    purge_command,
)
from bot.telegram.texts import delete_texts_pressed, text_message

log = logging.getLogger(__name__)

MEDIA = (filters.PHOTO | filters.VIDEO | filters.ANIMATION | filters.VIDEO_NOTE | filters.Sticker.ALL
         | filters.Document.ALL)
# New and edited text messages of groups (not channel posts; private chats get a hint instead); commands are
# answered by their handlers.
TEXTS = (filters.TEXT & ~filters.COMMAND & filters.ChatType.GROUPS
         & (filters.UpdateType.MESSAGE | filters.UpdateType.EDITED_MESSAGE))
UNSUPPORTED_IN_PRIVATE = filters.ChatType.PRIVATE & (filters.AUDIO | filters.VOICE | filters.CONTACT
                                                     | filters.LOCATION | filters.POLL)
PLAIN_TEXT_IN_PRIVATE = (filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & filters.TEXT
                         & ~filters.COMMAND)


async def on_error(update: object, context: Context) -> None:
    """Last resort: log and carry on; a single bad update must never stop the bot."""
    log.error("update handler failed", exc_info=context.error,
              extra={"update_id": update.update_id if isinstance(update, Update) else None})


def register(application: BotApp) -> None:
    # Commands are answered directly and may wait on DashScope; block=False keeps them from holding back the
    # confirmation of later updates (bot.telegram.app.ConfirmWhenHandled). Media handlers block: their job must be
    # stored first.
    application.add_handler(CommandHandler(["start", "help"], help_command, block=False))
    application.add_handler(CommandHandler("similar", similar_command, block=False))
    application.add_handler(CommandHandler("search", search_command, block=False))
    application.add_handler(CommandHandler("stats", stats_command, block=False))
    application.add_handler(CommandHandler("settings", settings_command, block=False))
    application.add_handler(CommandHandler("forget", forget_command, block=False))
    application.add_handler(CommandHandler("mydata", mydata_command, block=False))
    application.add_handler(CommandHandler("purge", purge_command, block=False))
    application.add_handler(CommandHandler("privacy", privacy_command, block=False))
    application.add_handler(CallbackQueryHandler(confirmation_pressed, pattern=r"^p:", block=False))
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, chat_migrated))
    application.add_handler(MessageHandler(MEDIA, media_message))
    application.add_handler(MessageHandler(UNSUPPORTED_IN_PRIVATE, unsupported_message))
    application.add_handler(MessageHandler(PLAIN_TEXT_IN_PRIVATE, private_text))
    application.add_handler(MessageHandler(TEXTS, text_message))
    application.add_handler(CallbackQueryHandler(delete_texts_pressed, pattern=f"^{DELETE_TEXTS}$",
                                                 block=False))
    application.add_handler(ChatMemberHandler(my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
    application.add_handler(CallbackQueryHandler(alert_pressed, pattern=r"^a:", block=False))
    application.add_handler(CallbackQueryHandler(settings_pressed, pattern=r"^s:", block=False))
    application.add_handler(CallbackQueryHandler(more_pressed, pattern=r"^m:", block=False))
    application.add_error_handler(on_error)
