"""The core's ChatGateway implemented with python-telegram-bot: downloads, sends, chat actions.

Telegram's errors are translated here into the core's failures (bot.core.ports), so no PTB exception escapes this
layer. Flood control is first handled by PTB's AIORateLimiter (which retries); what still fails is reported as
transient and retried later by the queue.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    InputMediaPhoto,
    InputMediaVideo,
    LinkPreviewOptions,
    ReplyParameters,
)
from telegram.constants import ChatAction, MessageLimit, ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.core.ports import (
    ChatGone,
    ChatMoved,
    FileTooBig,
    FileUnavailable,
    GatewayError,
    OriginalGone,
    TransientTelegramError,
    Undeliverable,
)
from bot.core.types import ButtonOut, DocumentOut, FileRef, MediaOut, Outgoing

log = logging.getLogger(__name__)

ALBUM_KINDS = frozenset({"photo", "video"})
CAPTIONLESS_KINDS = frozenset({"sticker", "video_note"})
TEXT_CHUNK = 4000
GONE_ANSWERS = ("wrong file identifier", "wrong remote file identifier", "invalid file_id", "file reference expired",
                "message to copy not found", "message to forward not found")
"""Telegram's answers (lower-cased fragments) when an original the bot shows no longer exists."""


def _is_gone(exc: BadRequest) -> bool:
    message = exc.message.lower()
    return any(answer in message for answer in GONE_ANSWERS)


def _seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


@contextlib.asynccontextmanager
async def translated_errors() -> AsyncIterator[None]:
    try:
        yield
    except RetryAfter as exc:
        raise TransientTelegramError("flood control", retry_after=_seconds(exc.retry_after)) from exc
    except ChatMigrated as exc:
        raise ChatMoved(exc.new_chat_id) from exc
    except Forbidden as exc:
        raise ChatGone(exc.message) from exc
    except BadRequest as exc:
        raise Undeliverable(exc.message) from exc
    except NetworkError as exc:  # includes TimedOut
        raise TransientTelegramError(exc.message) from exc
    except TelegramError as exc:  # anything else (an endpoint gone, a revoked token…): the queue retries, then gives up
        raise GatewayError(exc.message) from exc


def split_text(text: str, limit: int = TEXT_CHUNK) -> list[str]:
    """Telegram caps a message at 4096 characters; long reports are split on line boundaries."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit and current:
            chunks.append(current)
            candidate = line
        current = candidate[:limit]
    if current:
        chunks.append(current)
    return chunks


class TelegramGateway:
    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def download(self, file: FileRef) -> bytes | Path:
        async with translated_errors():
            try:
                tg_file = await self._bot.get_file(file.file_id)
            except BadRequest as exc:
                if "too big" in exc.message.lower():
                    raise FileTooBig(exc.message) from exc
                raise FileUnavailable(exc.message) from exc
            local = Path(tg_file.file_path) if tg_file.file_path else None
            if local is not None and local.is_absolute() and local.exists():
                return local  # a `telegram-bot-api --local` server hands out paths on this machine
            return bytes(await tg_file.download_as_bytearray())

    async def send(self, message: Outgoing) -> None:
        async with translated_errors():
            reply = self._reply(message.reply_to)
            markup = _markup(message.buttons)
            if message.reaction is not None and message.reply_to is not None:
                await self._bot.set_message_reaction(message.chat_id, message.reply_to, message.reaction)
            elif message.edit is not None:
                await self._edit(message, markup)
            elif not message.media:
                await self._send_text(message.chat_id, message.text_html or "", reply, markup)
            elif len(message.media) == 1:
                await self._send_single(message.chat_id, message.media[0], message.text_html, reply, markup)
            else:
                await self._send_many(message.chat_id, message.media, message.text_html, reply, markup)
            if message.document is not None:
                await self._send_file(message.chat_id, message.document)

    async def _edit(self, message: Outgoing, markup: InlineKeyboardMarkup | None) -> None:
        """Re-word one of the bot's messages in place; one that carries media has a caption instead of a text.
        Without buttons in `message`, the message's buttons are removed. Pressing twice asks for the same text:
        Telegram's "message is not modified" is then no failure."""
        assert message.edit is not None
        text = message.text_html or ""
        try:
            if message.media:
                await self._bot.edit_message_caption(message.chat_id, message.edit, caption=text,
                                                     parse_mode=ParseMode.HTML, reply_markup=markup)
            else:
                await self._bot.edit_message_text(text, message.chat_id, message.edit, parse_mode=ParseMode.HTML,
                                                  link_preview_options=LinkPreviewOptions(is_disabled=True),
                                                  reply_markup=markup)
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                raise

    async def answer_press(self, query_id: str, text: str | None = None) -> None:
        """Every button press is answered (a toast when `text` is given), or the user's client keeps spinning."""
        async with translated_errors():
            await self._bot.answer_callback_query(query_id, text=text)

    async def _send_file(self, chat_id: int, document: DocumentOut) -> None:
        await self._bot.send_document(chat_id, InputFile(document.data, filename=document.file_name))

    async def show_typing(self, chat_id: int) -> None:
        async with translated_errors():
            await self._bot.send_chat_action(chat_id, ChatAction.TYPING)

    @staticmethod
    def _reply(message_id: int | None) -> ReplyParameters | None:
        # The original may have been deleted meanwhile; the answer is still worth sending.
        return ReplyParameters(message_id, allow_sending_without_reply=True) if message_id else None

    async def _send_text(self, chat_id: int, text: str, reply: ReplyParameters | None,
                         markup: InlineKeyboardMarkup | None = None) -> None:
        """Long texts go in chunks; the buttons hang under the last one."""
        chunks = split_text(text)
        for number, chunk in enumerate(chunks, 1):
            await self._bot.send_message(chat_id, chunk, parse_mode=ParseMode.HTML, reply_parameters=reply,
                                         link_preview_options=LinkPreviewOptions(is_disabled=True),
                                         reply_markup=markup if number == len(chunks) else None)
            reply = None

    async def _send_single(self, chat_id: int, media: MediaOut, text: str | None,
                           reply: ReplyParameters | None, markup: InlineKeyboardMarkup | None = None) -> None:
        caption = "\n".join(part for part in (text, media.caption_html) if part) or None
        fits = caption is None or len(caption) <= MessageLimit.CAPTION_LENGTH
        if media.kind in CAPTIONLESS_KINDS or not fits:
            await self._send_media(chat_id, media, None, reply, None if caption else markup)
            if caption:
                await self._send_text(chat_id, caption, reply, markup)
            return
        await self._send_media(chat_id, media, caption, reply, markup)

    async def _send_many(self, chat_id: int, media: Sequence[MediaOut], text: str | None,
                         reply: ReplyParameters | None, markup: InlineKeyboardMarkup | None = None) -> None:
        if text:
            await self._send_text(chat_id, text, reply, markup)
        albumable = [m for m in media if m.kind in ALBUM_KINDS]
        others = [m for m in media if m.kind not in ALBUM_KINDS]
        if len(albumable) >= 2:
            try:
                await self._bot.send_media_group(chat_id, [self._input_media(m) for m in albumable],
                                                 reply_parameters=reply)
            except BadRequest as exc:
                gone = await self._gone_among(albumable) if _is_gone(exc) else []
                if gone:
                    raise OriginalGone(exc.message, gone) from exc
                raise
        else:
            others = albumable + others
        for item in others:
            await self._send_single(chat_id, item, None, reply)

    async def _gone_among(self, media: Sequence[MediaOut]) -> list[str]:
        """An album is refused as a whole; getFile tells which of its files Telegram no longer has."""
        gone = []
        for item in media:
            try:
                await self._bot.get_file(item.file_id)
            except BadRequest as exc:
                if _is_gone(exc):
                    gone.append(item.file_id)
        return gone

    @staticmethod
    def _input_media(media: MediaOut) -> InputMediaPhoto | InputMediaVideo:
        if media.kind == "photo":
            return InputMediaPhoto(media.file_id, caption=media.caption_html, parse_mode=ParseMode.HTML)
        return InputMediaVideo(media.file_id, caption=media.caption_html, parse_mode=ParseMode.HTML)

    async def _send_media(self, chat_id: int, media: MediaOut, caption: str | None,
                          reply: ReplyParameters | None, markup: InlineKeyboardMarkup | None = None) -> None:
        """By the kind it was posted as; a file Telegram no longer has is reported (the core shows another), any
        other refusal falls back to the caption alone rather than to nothing."""
        try:
            await self._send_by_kind(chat_id, media, caption, reply, markup)
        except BadRequest as exc:
            if _is_gone(exc):
                raise OriginalGone(exc.message, (media.file_id,)) from exc
            log.info("resending media by file id failed", extra={"chat_id": chat_id, "error": exc.message})
            if caption:
                await self._send_text(chat_id, caption, reply, markup)

    async def _send_by_kind(self, chat_id: int, media: MediaOut, caption: str | None,
                            reply: ReplyParameters | None, markup: InlineKeyboardMarkup | None) -> None:
        bot, fid, html = self._bot, media.file_id, ParseMode.HTML
        if media.kind == "photo":
            await bot.send_photo(chat_id, fid, caption=caption, parse_mode=html, reply_parameters=reply,
                                 reply_markup=markup)
        elif media.kind == "video":
            await bot.send_video(chat_id, fid, caption=caption, parse_mode=html, reply_parameters=reply,
                                 reply_markup=markup)
        elif media.kind == "animation":
            await bot.send_animation(chat_id, fid, caption=caption, parse_mode=html, reply_parameters=reply,
                                     reply_markup=markup)
        elif media.kind == "sticker":
            await bot.send_sticker(chat_id, fid, reply_parameters=reply, reply_markup=markup)
        elif media.kind == "video_note":
            await bot.send_video_note(chat_id, fid, reply_parameters=reply, reply_markup=markup)
        else:
            await bot.send_document(chat_id, fid, caption=caption, parse_mode=html, reply_parameters=reply,
                                    reply_markup=markup)


def _markup(rows: tuple[tuple[ButtonOut, ...], ...]) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.text, callback_data=b.data) for b in row] for row in rows])
