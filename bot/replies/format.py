"""Turning search results into messages: similarity as %, who posted and when, links to the original message.

All user-provided text (names, captions, queries) is HTML-escaped here, at the one place where it meets markup.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.core.importer import IMPORTED_FILE_ID
from bot.core.results import Hit
from bot.core.types import ButtonOut, ChatRef, MediaOut, Outgoing
from bot.replies.i18n import Lang, t
from storage.models import TEXT_KIND, Item

__all__ = ["Hit", "album_repost_alert", "matches_reply", "message_link", "percent", "repost_alert", "text_reply",
           "threshold_percent"]

MAX_QUERY_ECHO = 80
MAX_EXCERPT = 200


CAPTIONED_KINDS = frozenset({"photo", "video", "animation", "image_document", "video_document", "document"})
ALMOST_SAME = 99.9


def percent(score: float) -> str:
    """Cosine similarity as a percentage with one decimal, rounded down and below 100: only the very same file is
    'identical', and a re-encode at 0.9996 must not read as 100 %. Clamped at 0: users read 'how alike', not a
    signed dot product."""
    value = min(ALMOST_SAME, math.floor(max(0.0, score) * 1000) / 10)
    return f"{value:g}"


def threshold_percent(threshold: float) -> str:
    """A threshold as the percentage an admin typed (0.93 → 93), in the unit REPOST_THRESHOLD's docs use."""
    return f"{round(threshold * 100, 1):g}"


def message_link(chat: ChatRef, message_id: int) -> str | None:
    """Public chats link by username; private supergroups and channels by t.me/c/<id without -100>; others have none."""
    if chat.username and chat.type in ("supergroup", "channel"):
        return f"https://t.me/{chat.username}/{message_id}"
    text_id = str(chat.id)
    if chat.type in ("supergroup", "channel") and text_id.startswith("-100"):
        return f"https://t.me/c/{text_id[4:]}/{message_id}"
    return None


def when(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def who(item: Item, lang: Lang) -> str:
    return html.escape(item.sender_name) if item.sender_name else t("unknown_sender", lang)


def escape_query(query: str) -> str:
    return html.escape(_shortened(query, MAX_QUERY_ECHO))


def _shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def excerpt(item: Item) -> str:
    """A stored message as a quote: the start of its text, escaped."""
    return f"<blockquote>{html.escape(_shortened(item.caption or '', MAX_EXCERPT))}</blockquote>"


def link_html(chat: ChatRef, item: Item, lang: Lang) -> str:
    """Items moved from a basic group keep that group's message ids, which no link can reach."""
    url = message_link(chat, item.message_id) if item.origin_chat_id is None else None
    return t("link", lang, url=html.escape(url, quote=True)) if url else ""


def score_text(hit: Hit, lang: Lang) -> str:
    return t("identical", lang) if hit.identical else f"{percent(hit.score)}%"


def has_link(chat: ChatRef, item: Item) -> bool:
    return item.origin_chat_id is None and message_link(chat, item.message_id) is not None


def copies_text(hit: Hit, lang: Lang) -> str:
    if not hit.copies:
        return ""
    return t("one_copy", lang) if hit.copies == 1 else t("copies", lang, n=hit.copies)


def hit_caption(chat: ChatRef, hit: Hit, lang: Lang) -> str:
    return t("match_caption", lang, score=score_text(hit, lang), who=who(hit.item, lang), when=when(hit.item.date),
             link=link_html(chat, hit.item, lang)) + copies_text(hit, lang)


def repost_text(chat: ChatRef, hit: Hit, lang: Lang) -> str:
    values = {"who": who(hit.item, lang), "when": when(hit.item.date), "link": link_html(chat, hit.item, lang)}
    if hit.item.kind == TEXT_KIND:
        return t("copypasta", lang, score=percent(hit.score), **values)
    if hit.identical:
        return t("repost_identical", lang, **values)
    return t("repost_similar", lang, score=percent(hit.score), **values)


def alert_media(chat: ChatRef, hit: Hit) -> tuple[MediaOut, ...]:
    """The original's media rides along only where no link can show it (basic groups, items moved from one), and
    only as one captioned message: kinds without a caption (stickers, video notes) would need two."""
    if has_link(chat, hit.item) or hit.item.kind not in CAPTIONED_KINDS or not sendable(hit.item):
        return ()
    return (MediaOut(kind=hit.item.kind, file_id=hit.item.file_id),)


def repost_alert(chat: ChatRef, reply_to: int, hit: Hit, lang: Lang,
                 buttons: tuple[tuple[ButtonOut, ...], ...] = ()) -> Outgoing:
    """One message replying to the new post: the evidence and a link to the original."""
    return Outgoing(chat_id=chat.id, reply_to=reply_to, text_html=repost_text(chat, hit, lang),
                    media=alert_media(chat, hit), buttons=buttons)


def album_repost_alert(chat: ChatRef, reply_to: int, hits: Sequence[tuple[int, Hit]], lang: Lang) -> Outgoing:
    """One text for an album: each reposted position with its evidence (an album is one post to its readers)."""
    lines = [t("album_repost_header", lang)]
    for position, hit in hits:
        lines.append(t("album_repost_line", lang, n=position, score=score_text(hit, lang), who=who(hit.item, lang),
                       when=when(hit.item.date), link=link_html(chat, hit.item, lang)))
    return Outgoing(chat_id=chat.id, reply_to=reply_to, text_html="\n".join(lines))


def matches_reply(chat: ChatRef, reply_to: int | None, hits: Sequence[Hit], header_html: str, lang: Lang,
                  buttons: tuple[tuple[ButtonOut, ...], ...] = ()) -> Outgoing:
    """The matched media themselves (an album when several), each captioned with %, poster, date, link and how
    many copies of it were folded in; items imported from an export have no file to send and are listed under the
    header, each by its link, and messages as a quoted excerpt above theirs."""
    media = tuple(MediaOut(kind=h.item.kind, file_id=h.item.file_id, caption_html=hit_caption(chat, h, lang))
                  for h in hits if sendable(h.item))
    listed = [_listed(chat, h, lang) for h in hits if not sendable(h.item)]
    return Outgoing(chat_id=chat.id, reply_to=reply_to, text_html="\n".join([header_html, *listed]), media=media,
                    buttons=buttons)


def _listed(chat: ChatRef, hit: Hit, lang: Lang) -> str:
    line = f"• {hit_caption(chat, hit, lang)}"
    return f"{excerpt(hit.item)}{line}" if hit.item.kind == TEXT_KIND else line


def sendable(item: Item) -> bool:
    """Items imported from a chat export, and messages, carry no Telegram file id: they can be linked to, not
    sent."""
    return item.file_id != IMPORTED_FILE_ID


def text_reply(chat_id: int, reply_to: int | None, text_html: str) -> Outgoing:
    return Outgoing(chat_id=chat_id, reply_to=reply_to, text_html=text_html)
