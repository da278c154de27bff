"""The answers about people's data: confirmations with their buttons, what was deleted, and /mydata with its file.

The exported file lists what the bot holds about the person (chat, message id, date, kind, caption); vectors are
left out on purpose: they are numbers of no use to a person, and derived from the media.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.core.results import (
    Audience,
    ChatHoldings,
    ConfirmationAsked,
    ConfirmVerdict,
    Forgotten,
    PersonalData,
    PrivacyNotice,
    Purged,
)
from bot.core.types import ButtonOut, DocumentOut, Outgoing
from bot.replies.i18n import Lang, language_of, t
from storage.models import Item

CALLBACK_PREFIX = "p:"
"""Callback data of this module's buttons: `p:y:<id>` (confirm) or `p:n:<id>` (cancel); other features use other
prefixes."""
EXPORT_FILE_NAME = "mydata.json"


def confirm_data(confirmation_id: int, confirmed: bool) -> str:
    return f"{CALLBACK_PREFIX}{'y' if confirmed else 'n'}:{confirmation_id}"


def parse_confirm_data(data: str) -> tuple[int, bool] | None:
    """(confirmation id, confirmed) from a press, or None when the data is not one of ours."""
    verb, _, number = data.removeprefix(CALLBACK_PREFIX).partition(":")
    if verb not in ("y", "n") or not number.isascii() or not number.isdigit():
        return None
    return int(number), verb == "y"


def _lang(to: Audience) -> Lang:
    return language_of(to.language)


def _day(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def confirmation(decision: ConfirmationAsked) -> Outgoing:
    lang = _lang(decision.to)
    text = t(f"confirm_{decision.action}", lang, count=decision.count, chat=decision.chat_id)
    buttons = ((ButtonOut(t("button_delete", lang), confirm_data(decision.confirmation_id, True)),
                ButtonOut(t("button_cancel", lang), confirm_data(decision.confirmation_id, False))),)
    return Outgoing(chat_id=decision.to.chat.id, reply_to=decision.to.reply_to, text_html=text, buttons=buttons)


def forgotten(decision: Forgotten) -> Outgoing:
    lang = _lang(decision.to)
    total = sum(count for _chat, count in decision.counts)
    if decision.to.chat.type != "private":
        text = t("forgotten", lang, count=total)
    else:
        lines = [t("forgotten_chats", lang, count=total)]
        lines += [t("forgotten_chat_line", lang, chat=chat_id, count=count) for chat_id, count in decision.counts]
        text = "\n".join(lines)
    return Outgoing(chat_id=decision.to.chat.id, reply_to=decision.to.reply_to, text_html=text)


def purged(decision: Purged) -> Outgoing:
    return Outgoing(chat_id=decision.to.chat.id, reply_to=decision.to.reply_to,
                    text_html=t("purged", _lang(decision.to), chat=decision.chat_id))


def personal_data(decision: PersonalData) -> Outgoing:
    lang = _lang(decision.to)
    to = decision.to
    if not decision.items:
        return Outgoing(chat_id=to.chat.id, reply_to=to.reply_to, text_html=t("mydata_none", lang))
    lines = [t("mydata_header", lang, count=len(decision.items))]
    lines += [_holding_line(held, lang) for held in decision.chats]
    lines.append(t("mydata_footer", lang))
    return Outgoing(chat_id=to.chat.id, reply_to=to.reply_to, text_html="\n".join(lines),
                    document=DocumentOut(EXPORT_FILE_NAME, export_json(decision.items)))


def _holding_line(held: ChatHoldings, lang: Lang) -> str:
    kinds = ", ".join(f"{html.escape(kind)} {count}" for kind, count in sorted(held.by_kind.items()))
    return t("mydata_chat_line", lang, chat=held.chat_id, kinds=kinds, first=_day(held.first_date),
             last=_day(held.last_date), captions=held.captions)


def export_json(items: Sequence[Item]) -> bytes:
    """Every item as the person would recognise it; the chat is where it was posted (its Telegram address)."""
    rows = [{"chat_id": item.origin_chat_id or item.chat_id, "message_id": item.message_id,
             "date": datetime.fromtimestamp(item.date, UTC).isoformat(), "kind": item.kind, "caption": item.caption}
            for item in items]
    return json.dumps({"items": rows}, ensure_ascii=False, indent=2).encode()


def privacy_notice(decision: PrivacyNotice) -> Outgoing:
    text = t("privacy", _lang(decision.to), removed_days=decision.removed_chat_days, job_days=decision.job_days)
    return Outgoing(chat_id=decision.to.chat.id, reply_to=decision.to.reply_to, text_html=text)


def press_text(verdict: ConfirmVerdict, language: str | None) -> str:
    """The short answer shown on the pressed button (a toast: plain text, no HTML)."""
    return t(f"press_{verdict}", language_of(language))
