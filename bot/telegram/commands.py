"""Commands: read the update, decide what was asked, call a service, send what it returns.

/similar and /search answer the person directly (no queue): they are questions, not items to remember, and a person
is waiting. Failures become a clear sentence in the asker's language.
"""

from __future__ import annotations

import logging
from typing import cast

import numpy as np
from telegram import Message, Update
from telegram.ext import ContextTypes

from bot.core.types import IncomingMedia, Outgoing
from bot.replies import format as fmt
from bot.replies.failures import USER_FACING_ERRORS, failure_text
from bot.replies.i18n import Lang, language_of, t
from bot.replies.stats import chat_stats_text, settings_text
from bot.telegram.admin import AdminChecker
from bot.telegram.convert import chat_ref, incoming_from
from bot.wiring import Services

log = logging.getLogger(__name__)

SIMILAR_RESULTS = 5
SEARCH_RESULTS = 5
MAX_QUERY_CHARS = 1000


def services_of(context: ContextTypes.DEFAULT_TYPE) -> Services:
    return cast(Services, context.bot_data["services"])


def admins_of(context: ContextTypes.DEFAULT_TYPE) -> AdminChecker:
    return cast(AdminChecker, context.bot_data["admins"])


def lang_of(message: Message) -> Lang:
    return language_of(message.from_user.language_code if message.from_user else None)


async def send(context: ContextTypes.DEFAULT_TYPE, out: Outgoing) -> None:
    await services_of(context).gateway.send(out)


async def reply_text(context: ContextTypes.DEFAULT_TYPE, message: Message, text_html: str) -> None:
    await send(context, fmt.text_reply(message.chat.id, message.message_id, text_html))


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is not None:
        await reply_text(context, message, t("help", lang_of(message)))


async def similar_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None:
        return
    lang = lang_of(message)
    services = services_of(context)
    target = message.reply_to_message
    incoming = incoming_from(target, services.settings.download_limit_bytes) if target else None
    if incoming is None:
        await reply_text(context, message, t("similar_usage", lang))
        return
    try:
        vector, own_id = await _vector_of(services, incoming)
        hits = await services.search.nearest(
            incoming.chat.id, vector, k=SIMILAR_RESULTS, min_score=services.settings.similar_min_score,
            exclude_item_ids=(own_id,) if own_id is not None else (),
        )
    except USER_FACING_ERRORS as exc:
        await reply_text(context, message, failure_text(exc, lang))
        return
    if not hits:
        await reply_text(context, message, t("similar_none", lang))
        return
    await send(context, fmt.matches_reply(chat_ref(message.chat), message.message_id, hits,
                                          t("matches_header", lang), lang))


async def _vector_of(services: Services, incoming: IncomingMedia) -> tuple[np.ndarray, int | None]:
    """An indexed item's vector comes from the cache (no API call); media the bot never saw is embedded now."""
    item = await services.store.items.by_message(incoming.chat.id, incoming.message_id)
    cached = await services.store.cache.get(incoming.media.file.file_unique_id, services.embedder.model)
    if cached is not None:
        return cached.vector, item.id if item else None
    await services.caps.check(incoming.chat.id, incoming.sender.id)
    embedded = await services.embedder.embed(incoming.media, None)
    await services.caps.record(incoming.chat.id, incoming.sender.id, embedded.usage, embedded.requests)
    return embedded.media_vector, item.id if item else None


async def search_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None:
        return
    lang = lang_of(message)
    query = " ".join(context.args or []).strip()
    if not query:
        await reply_text(context, message, t("search_usage", lang))
        return
    services = services_of(context)
    user_id = message.from_user.id if message.from_user else None
    try:
        await services.caps.check(message.chat.id, user_id)
        vector, usage, requests = await services.embedder.embed_caption(query[:MAX_QUERY_CHARS])
        await services.caps.record(message.chat.id, user_id, usage, requests)
        hits = await services.search.by_text(message.chat.id, vector, k=SEARCH_RESULTS,
                                             image_floor=services.settings.search_min_score,
                                             caption_floor=services.settings.search_caption_min_score)
    except USER_FACING_ERRORS as exc:
        await reply_text(context, message, failure_text(exc, lang))
        return
    echo = fmt.escape_query(query)
    if not hits:
        await reply_text(context, message, t("search_none", lang, query=echo))
        return
    await send(context, fmt.matches_reply(chat_ref(message.chat), message.message_id, hits,
                                          t("search_header", lang, query=echo), lang))


async def stats_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None:
        return
    lang = lang_of(message)
    services = services_of(context)
    user_id = message.from_user.id if message.from_user else None
    if message.chat.type == message.chat.PRIVATE and user_id in services.settings.bot_admin_ids:
        await reply_text(context, message, await _overview_text(services, lang))
        return
    if not await admins_of(context).is_admin(message):
        await reply_text(context, message, t("not_admin", lang))
        return
    await reply_text(context, message, await _chat_text(services, message.chat.id,
                                                        message.chat.title or message.chat.full_name or "", lang))


async def _chat_text(services: Services, chat_id: int, title: str, lang: Lang) -> str:
    stats = await services.store.stats.chat_stats(chat_id)
    failures = await services.store.jobs.recent_failures(chat_id)
    return chat_stats_text(title or str(chat_id), stats, await services.search.index_size(chat_id), failures, lang)


async def _overview_text(services: Services, lang: Lang) -> str:
    overview = await services.store.stats.chats_overview()
    parts = [t("stats_overview_title", lang, count=len(overview))]
    for chat_id, _stats in overview:
        parts.append(await _chat_text(services, chat_id, str(chat_id), lang))
    return "\n\n".join(parts)


async def settings_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None:
        return
    lang = lang_of(message)
    if not await admins_of(context).is_admin(message):
        await reply_text(context, message, t("not_admin", lang))
        return
    services = services_of(context)
    changes = parse_settings_args(context.args or [])
    if changes is None:
        await reply_text(context, message, t("settings_usage", lang))
        return
    chats = services.store.chats
    current = await (chats.update_settings(message.chat.id, **changes) if changes
                     else chats.settings(message.chat.id))
    await reply_text(context, message, settings_text(current, services.settings.repost_threshold, lang))


_SWITCHES = {"on": True, "off": False, "开": True, "关": False}
_SWITCH_FIELDS = {"stickers": "alert_stickers", "gifs": "alert_animations"}


def parse_settings_args(args: list[str]) -> dict[str, object] | None:
    """`[]` shows; `threshold 93|0.93|default`, `stickers on|off`, `gifs on|off` change; anything else is None."""
    if not args:
        return {}
    if len(args) != 2:
        return None
    name, value = args[0].lower(), args[1].lower()
    if name == "threshold":
        if value == "default":
            return {"repost_threshold": None}
        try:
            number = float(value.rstrip("%"))
        except ValueError:
            return None
        fraction = number / 100 if number > 1 else number
        return {"repost_threshold": fraction} if 0.5 <= fraction <= 1.0 else None
    if name in _SWITCH_FIELDS and value in _SWITCHES:
        return {_SWITCH_FIELDS[name]: _SWITCHES[value]}
    return None
