"""The boundary: a Telegram Message becomes plain pipeline data (IncomingMedia), or None if it carries no media."""

from __future__ import annotations

from telegram import Chat, Message, PhotoSize
from telegram import Sticker as TgSticker

from bot.core.types import ChatRef, ChatType, FileRef, IncomingMedia, MediaKind, MediaRef, Sender

# Documents whose declared type says nothing; their bytes decide (media.sniff).
VAGUE_MIME_TYPES = frozenset({"application/octet-stream", "binary/octet-stream", ""})


def chat_ref(chat: Chat) -> ChatRef:
    kind: ChatType = chat.type if chat.type in ("private", "group", "supergroup", "channel") else "group"  # type: ignore[assignment]
    return ChatRef(id=chat.id, type=kind, username=chat.username, title=chat.title)


def sender_of(message: Message) -> Sender:
    """Who posted it in this chat: for forwards the forwarder (not the origin); anonymous admins and channels by
    the chat they speak as."""
    if message.sender_chat is not None:
        return Sender(id=message.sender_chat.id, name=message.sender_chat.title or message.sender_chat.username,
                      language=message.from_user.language_code if message.from_user else None)
    user = message.from_user
    if user is None:
        return Sender(id=None, name=message.chat.title)
    return Sender(id=user.id, name=user.full_name, language=user.language_code)


def _file(obj: object) -> FileRef:
    return FileRef(file_id=obj.file_id, file_unique_id=obj.file_unique_id,  # type: ignore[attr-defined]
                   file_size=getattr(obj, "file_size", None))


def _thumb(obj: object) -> FileRef | None:
    thumb = getattr(obj, "thumbnail", None)
    return _file(thumb) if thumb is not None else None


def largest_photo(sizes: tuple[PhotoSize, ...], limit: int | None) -> PhotoSize:
    """By pixel count, not by position; skipping sizes the Bot API would refuse to hand out."""
    fitting = [s for s in sizes if limit is None or s.file_size is None or s.file_size <= limit]
    return max(fitting or list(sizes), key=lambda s: s.width * s.height)


def _sticker_format(sticker: TgSticker) -> str:
    if sticker.is_animated:
        return "animated"
    return "video" if sticker.is_video else "static"


def _document_kind(mime: str | None) -> MediaKind:
    if mime and mime.startswith("image/"):
        return "image_document"
    if mime and mime.startswith("video/"):
        return "video_document"
    return "document"


def media_ref(message: Message, download_limit: int | None) -> MediaRef | None:
    """The one media item of a message. An animation also carries `document`, so it is checked first."""
    if message.photo:
        return MediaRef(kind="photo", file=_file(largest_photo(message.photo, download_limit)))
    if message.animation:
        a = message.animation
        return MediaRef(kind="animation", file=_file(a), mime_type=a.mime_type, thumbnail=_thumb(a),
                        file_name=a.file_name)
    if message.video:
        v = message.video
        return MediaRef(kind="video", file=_file(v), mime_type=v.mime_type, thumbnail=_thumb(v),
                        file_name=v.file_name)
    if message.video_note:
        return MediaRef(kind="video_note", file=_file(message.video_note), mime_type="video/mp4",
                        thumbnail=_thumb(message.video_note))
    if message.sticker:
        s = message.sticker
        return MediaRef(kind="sticker", file=_file(s), thumbnail=_thumb(s),
                        sticker_format=_sticker_format(s))  # type: ignore[arg-type]
    if message.document:
        d = message.document
        return MediaRef(kind=_document_kind(d.mime_type), file=_file(d), mime_type=d.mime_type,
                        thumbnail=_thumb(d), file_name=d.file_name)
    return None


def is_plausible_media_document(media: MediaRef) -> bool:
    """In groups only documents that may be media are fetched; a PDF or a ZIP is left alone without a download."""
    return media.kind != "document" or (media.mime_type or "") in VAGUE_MIME_TYPES


def incoming_from(message: Message, download_limit: int | None, *, is_channel_post: bool = False) -> (
        IncomingMedia | None):
    media = media_ref(message, download_limit)
    if media is None:
        return None
    edit_date = int(message.edit_date.timestamp()) if message.edit_date else None
    return IncomingMedia(
        chat=chat_ref(message.chat), message_id=message.message_id, sender=sender_of(message),
        date=int(message.date.timestamp()), media=media, caption=(message.caption or "").strip() or None,
        media_group_id=message.media_group_id, edit_date=edit_date, is_channel_post=is_channel_post,
    )
