"""Button presses (callback queries): read who pressed what where, call the use case, answer with a toast, and edit
the message the button hangs under.

Every press is answered, also one that makes no sense, or the presser's client keeps spinning. Rights are checked
on every press: anyone in a chat can press any button.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from telegram import CallbackQuery, Message, Update

from bot.core.feedback import Press
from bot.core.ports import GatewayError
from bot.core.results import Audience, ResultsExpired
from bot.core.types import Outgoing
from bot.replies.buttons import NOT_A_REPOST, parse_alert_press, parse_more_press, parse_settings_press
from bot.replies.i18n import language_of, t
from bot.replies.render import press_edit, press_toast, render, settings_toast
from bot.telegram.context import Context
from bot.telegram.convert import chat_ref

log = logging.getLogger(__name__)

P = TypeVar("P")


def _press(query: CallbackQuery, message: Message) -> Press:
    user = query.from_user
    return Press(chat=chat_ref(message.chat), message_id=message.message_id, user_id=user.id,
                 user_name=user.full_name, language=user.language_code)


async def _is_admin(context: Context, press: Press) -> bool:
    return await context.bot_data.admins.user_is_admin(press.chat.id, press.chat.type, press.user_id)


async def _edit(context: Context, edit: Outgoing) -> None:
    """The toast already told the presser; a message that cannot be edited (deleted meanwhile) is only logged."""
    try:
        await context.bot_data.gateway.send(edit)
    except GatewayError as exc:
        log.info("message not edited", extra={"chat_id": edit.chat_id, "error": type(exc).__name__,
                                              "reason": str(exc)})


async def _pressed(update: Update, context: Context,
                   parse: Callable[[str], P | None]) -> tuple[CallbackQuery, Message, P] | None:
    """The press, the message its button hangs under, and its parsed data; a press that makes no sense (stale
    data, an inline message) is answered here, and None returned."""
    query = update.callback_query
    if query is None:
        return None
    message = query.message
    parsed = parse(query.data or "")
    if parsed is None or not isinstance(message, Message):
        lang = language_of(query.from_user.language_code)
        await context.bot_data.gateway.answer_press(query.id, t("toast_unknown", lang))
        return None
    return query, message, parsed


async def alert_pressed(update: Update, context: Context) -> None:
    """ "Not a repost" and "Ignore this picture" under a repost alert."""
    pressed = await _pressed(update, context, parse_alert_press)
    if pressed is None:
        return
    query, message, parsed = pressed
    press = _press(query, message)
    presses = context.bot_data.services.presses
    pair = (parsed.new_item_id, parsed.earlier_item_id)

    async def is_admin() -> bool:
        return await _is_admin(context, press)

    answer = await (presses.not_a_repost(press, pair, is_admin) if parsed.verb == NOT_A_REPOST
                    else presses.ignore(press, pair, is_admin))
    await context.bot_data.gateway.answer_press(query.id, press_toast(answer))
    edit = press_edit(answer)
    if edit is not None:
        await _edit(context, edit)


async def settings_pressed(update: Update, context: Context) -> None:
    """A button under /settings (admins only): the change is applied, the toast says what changed, and the
    settings message shows the new state."""
    pressed = await _pressed(update, context, parse_settings_press)
    if pressed is None:
        return
    query, message, parsed = pressed
    press = _press(query, message)
    if not await _is_admin(context, press):
        await context.bot_data.gateway.answer_press(query.id, t("toast_not_admin", language_of(press.language)))
        return
    to = Audience(press.chat, None, press.language)
    decision = await context.bot_data.services.chat_settings.press(to, message.message_id, parsed.verb, parsed.value)
    await context.bot_data.gateway.answer_press(query.id, settings_toast(decision))
    await _edit(context, render(decision))


async def more_pressed(update: Update, context: Context) -> None:
    """ "More" under /similar or /search results (anyone may press it): the next page, as a new answer to the
    results it continues; the query's vector is reused, so no API call is made."""
    pressed = await _pressed(update, context, parse_more_press)
    if pressed is None:
        return
    query, message, (token, page) = pressed
    await context.bot_data.gateway.answer_press(query.id)
    to = Audience(chat_ref(message.chat), message.message_id, query.from_user.language_code)
    answer = await context.bot_data.services.pages.more(to, token, page)
    await context.bot_data.services.delivery.send(answer if answer is not None else ResultsExpired(to))
