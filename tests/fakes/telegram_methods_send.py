"""Bot API methods that create or change messages: send*, sendMediaGroup, editMessageText, editMessageCaption,
editMessageReplyMarkup, deleteMessage, setMessageReaction, sendChatAction.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from telegram.constants import ReactionEmoji

from tests.fakes.telegram_entities import FormattedText
from tests.fakes.telegram_formatting import caption, format_text, message_text, text_fields
from tests.fakes.telegram_media import (
    animation_document,
    audio_object,
    document_object,
    image_dimensions,
    register_thumbnail,
    sticker_object,
    video_note_object,
    video_object,
)
from tests.fakes.telegram_models import JSON, ApiError, Chat, bad_request
from tests.fakes.telegram_outgoing import InputFile, Outbox, message_id_arg
from tests.fakes.telegram_wire import Call
from tests.fakes.telegram_world import World, now

CHAT_ACTIONS: Final = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "record_audio",
        "upload_audio",
        "upload_document",
        "choose_sticker",
        "find_location",
        "pick_up_location",
        "record_video_note",
        "upload_video_note",
        "cancel",
    }
)
ALBUM_TYPES: Final = frozenset({"photo", "video", "document", "audio"})
MIN_ALBUM, MAX_ALBUM = 2, 10
_CAPTIONED: Final = frozenset({"photo", "video", "animation", "document", "audio", "voice"})
"""Messages whose caption can be edited (stickers and video notes have none)."""
_NOT_MODIFIED: Final = (
    "message is not modified: specified new message content and reply markup are exactly the same as a current "
    "content and reply markup of the message"
)


@dataclass
class _AlbumItem:
    type: str
    media: str
    caption: FormattedText
    spec: JSON


class SendMethods:
    def __init__(self, world: World, outbox: Outbox) -> None:
        self.world = world
        self.outbox = outbox

    def handlers(self) -> dict[str, Callable[[Call], Any]]:
        return {
            "sendMessage": self.send_message,
            "sendPhoto": self.send_photo,
            "sendVideo": self.send_video,
            "sendAnimation": self.send_animation,
            "sendDocument": self.send_document,
            "sendSticker": self.send_sticker,
            "sendVideoNote": self.send_video_note,
            "sendMediaGroup": self.send_media_group,
            "editMessageText": self.edit_message_text,
            "editMessageCaption": self.edit_message_caption,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
            "setMessageReaction": self.set_message_reaction,
            "sendChatAction": self.send_chat_action,
        }

    # ---- the common path -------------------------------------------------------------------------
    def _send(self, call: Call, content: Callable[[], JSON]) -> JSON:
        reply_request = self.outbox.reply_request(call)
        markup = self.outbox.reply_markup(call)
        chat = self.world.checked_chat(call.arg("chat_id"), "write")
        reply = self.outbox.reply_target(chat, reply_request)
        return self.outbox.deliver(call, chat, content(), reply=reply, markup=markup)

    def _send_file(self, call: Call, field: str, build: Callable[[InputFile], JSON], *, captioned: bool = True) -> JSON:
        if not _has_input(call, field):
            raise bad_request(f"there is no {field.replace('_', ' ')} in the request")
        caption_fields = self._caption_fields(call) if captioned else {}

        def content() -> JSON:
            file = self.outbox.input_file(call, field, field)
            assert file is not None  # presence was checked above
            return {**build(file), **caption_fields}

        return self._send(call, content)

    @staticmethod
    def _caption_fields(call: Call) -> JSON:
        formatted = caption(call.arg("caption"), call.arg("parse_mode"), call.arg("caption_entities"))
        fields = text_fields(formatted, text_key="caption", entities_key="caption_entities")
        if call.bool_arg("show_caption_above_media"):
            fields["show_caption_above_media"] = True
        if call.bool_arg("has_spoiler"):
            fields["has_media_spoiler"] = True
        return fields

    def _thumbnail(self, call: Call) -> JSON | None:
        """An uploaded thumbnail (file_ids are not accepted there); Telegram ignores one that is no image."""
        reference = call.arg("thumbnail")
        upload = call.files.get(reference.removeprefix("attach://")) if reference else call.files.get("thumbnail")
        if upload is None or image_dimensions(upload.data) is None:
            return None
        return register_thumbnail(self.world.files, upload.data)

    @staticmethod
    def _media(file: InputFile, kind: str, build: Callable[[], JSON]) -> JSON:
        """The stored object for a file of this kind, else a new one (remembered when the kind matches)."""
        stored = file.stored
        if stored.kind == kind and isinstance(stored.media, dict):
            return stored.media
        media = build()
        if stored.kind == kind:
            stored.media = media
        return media

    # ---- send* -----------------------------------------------------------------------------------
    def send_message(self, call: Call) -> JSON:
        formatted = message_text(call.arg("text"), call.arg("parse_mode"), call.arg("entities"))
        call.json_arg("link_preview_options", "link preview options")
        return self._send(call, lambda: text_fields(formatted, text_key="text", entities_key="entities"))

    def send_photo(self, call: Call) -> JSON:
        return self._send_file(call, "photo", lambda file: {"photo": _photo_sizes(file)})

    def send_video(self, call: Call) -> JSON:
        def build(file: InputFile) -> JSON:
            return {"video": self._media(file, "video", lambda: self._video_like(call, file, "video/mp4"))}

        return self._send_file(call, "video", build)

    def send_animation(self, call: Call) -> JSON:
        def build(file: InputFile) -> JSON:
            animation = self._media(file, "animation", lambda: self._video_like(call, file, "video/mp4"))
            return {"animation": animation, "document": animation_document(animation)}

        return self._send_file(call, "animation", build)

    def send_document(self, call: Call) -> JSON:
        def build(file: InputFile) -> JSON:
            return {
                "document": self._media(
                    file,
                    "document",
                    lambda: document_object(
                        file.stored,
                        mime_type=file.mime_type,
                        file_name=file.file_name,
                        thumbnail=self._thumbnail(call),
                    ),
                )
            }

        return self._send_file(call, "document", build)

    def send_sticker(self, call: Call) -> JSON:
        def build(file: InputFile) -> JSON:
            suffix = file.stored.file_path.rsplit(".", 1)[-1]
            sticker = self._media(
                file,
                "sticker",
                lambda: sticker_object(
                    file.stored,
                    is_animated=suffix == "tgs",
                    is_video=suffix == "webm",
                    emoji=call.arg("emoji") or None,
                ),
            )
            return {"sticker": sticker}

        return self._send_file(call, "sticker", build, captioned=False)

    def send_video_note(self, call: Call) -> JSON:
        def build(file: InputFile) -> JSON:
            note = self._media(
                file,
                "video_note",
                lambda: video_note_object(
                    file.stored,
                    length=call.int_arg("length", minimum=0),
                    duration=call.int_arg("duration", minimum=0),
                    thumbnail=self._thumbnail(call),
                ),
            )
            return {"video_note": note}

        return self._send_file(call, "video_note", build, captioned=False)

    def _video_like(self, call: Call, file: InputFile, default_mime: str) -> JSON:
        return video_object(
            file.stored,
            width=call.int_arg("width", minimum=0),
            height=call.int_arg("height", minimum=0),
            duration=call.int_arg("duration", minimum=0),
            mime_type=file.mime_type or default_mime,
            file_name=file.file_name,
            thumbnail=self._thumbnail(call),
        )

    # ---- albums ----------------------------------------------------------------------------------
    def send_media_group(self, call: Call) -> list[JSON]:
        call.required("media")
        raw_items = call.json_arg("media", "media")
        if not isinstance(raw_items, list):
            raise bad_request("expected an Array of InputMedia")
        items = [self._album_item(call, raw) for raw in raw_items]
        _check_album(items)
        reply_request = self.outbox.reply_request(call)
        chat = self.world.checked_chat(call.arg("chat_id"), "write")
        reply = self.outbox.reply_target(chat, reply_request)
        group_id = str(random.randrange(10**17, 10**18))
        contents = [self._album_content(call, item) for item in items]
        return [
            self.outbox.deliver(call, chat, {**content, "media_group_id": group_id}, reply=reply, markup=None)
            for content in contents
        ]

    def _album_item(self, call: Call, raw: Any) -> _AlbumItem:
        def invalid(reason: str) -> ApiError:
            return bad_request(f"can't parse InputMedia: {reason}")

        if not isinstance(raw, dict):
            raise invalid("expected an Object")
        try:
            formatted = format_text(str(raw.get("caption", "")), str(raw.get("parse_mode", "")), "")
        except ApiError as error:
            reason = error.description.removeprefix("Bad Request: ")
            raise invalid(reason[:1].upper() + reason[1:]) from None
        media = raw.get("media")
        if not isinstance(media, str) or not media or (media.startswith("attach://") and media[9:] not in call.files):
            raise invalid("media not found")
        kind = raw.get("type")
        if not isinstance(kind, str):
            raise invalid('Can\'t find field "type"')
        if kind == "animation":
            raise invalid('type "animation" can\'t be used in sendMediaGroup')
        if kind not in ALBUM_TYPES:
            raise invalid(f'type "{kind}" is unsupported')
        return _AlbumItem(kind, media, formatted, raw)

    def _album_content(self, call: Call, item: _AlbumItem) -> JSON:
        if len(item.caption.text) > 1024:
            raise bad_request("message caption is too long")
        file = self.outbox.referenced_file(call, item.media, item.type)
        assert file is not None
        spec = item.spec
        if item.type == "photo":
            content: JSON = {"photo": _photo_sizes(file)}
        elif item.type == "video":
            content = {
                "video": self._media(
                    file,
                    "video",
                    lambda: video_object(
                        file.stored,
                        width=int(spec.get("width", 0)),
                        height=int(spec.get("height", 0)),
                        duration=int(spec.get("duration", 0)),
                        mime_type=file.mime_type or "video/mp4",
                        file_name=file.file_name,
                    ),
                )
            }
        elif item.type == "audio":
            content = {
                "audio": self._media(
                    file,
                    "audio",
                    lambda: audio_object(
                        file.stored,
                        duration=int(spec.get("duration", 0)),
                        mime_type=file.mime_type,
                        file_name=file.file_name,
                    ),
                )
            }
        else:
            content = {
                "document": self._media(
                    file,
                    "document",
                    lambda: document_object(file.stored, mime_type=file.mime_type, file_name=file.file_name),
                )
            }
        content.update(text_fields(item.caption, text_key="caption", entities_key="caption_entities"))
        if spec.get("has_spoiler") is True:
            content["has_media_spoiler"] = True
        return content

    # ---- changing messages -----------------------------------------------------------------------
    def edit_message_text(self, call: Call) -> JSON:
        formatted = message_text(call.arg("text"), call.arg("parse_mode"), call.arg("entities"))
        markup = self.outbox.reply_markup(call)
        message = self._message_to_edit(call)
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        return self._edited(message, text_fields(formatted, text_key="text", entities_key="entities"), markup,
                            ("text", "entities"))

    def edit_message_caption(self, call: Call) -> JSON:
        formatted = caption(call.arg("caption"), call.arg("parse_mode"), call.arg("caption_entities"))
        markup = self.outbox.reply_markup(call)
        message = self._message_to_edit(call)
        if not _CAPTIONED & message.keys():
            raise bad_request("there is no caption in the message to edit")
        return self._edited(message, text_fields(formatted, text_key="caption", entities_key="caption_entities"),
                            markup, ("caption", "caption_entities"))

    def edit_message_reply_markup(self, call: Call) -> JSON:
        """Only the inline keyboard changes; without `reply_markup` it is removed."""
        markup = self.outbox.reply_markup(call)
        return self._edited(self._message_to_edit(call), {}, markup, ())

    def _message_to_edit(self, call: Call) -> JSON:
        message_id = message_id_arg(call)
        if not call.arg("chat_id") and message_id == 0:
            if not call.arg("inline_message_id"):
                raise bad_request("message identifier is not specified")
            raise bad_request("MESSAGE_ID_INVALID")  # the fake sends no inline messages
        chat = self.world.checked_chat(call.arg("chat_id"), "write")
        message = self.world.message(chat.id, message_id)
        if message is None:
            raise bad_request("message to edit not found")
        if not self.world.is_bot_message(message):
            raise bad_request("message can't be edited")
        return message

    def _edited(self, message: JSON, new_fields: JSON, markup: JSON | None, replaced: tuple[str, ...]) -> JSON:
        """The message with `replaced` keys set anew and its keyboard replaced (or removed when none is given, as
        Telegram does); an edit that changes nothing is refused."""
        new_markup = {"inline_keyboard": markup["inline_keyboard"]} if markup and "inline_keyboard" in markup else None
        unchanged = all(new_fields.get(key) == message.get(key) for key in replaced) and (
            new_markup == message.get("reply_markup"))
        if unchanged:
            raise bad_request(_NOT_MODIFIED)
        edited = {key: value for key, value in message.items() if key not in (*replaced, "reply_markup")}
        edited.update(new_fields, edit_date=now())
        if new_markup is not None:
            edited["reply_markup"] = new_markup
        self.world.store_message(edited)
        return edited

    def delete_message(self, call: Call) -> bool:
        chat = self.world.checked_chat(call.arg("chat_id"), "write")
        message = self.world.message(chat.id, message_id_arg(call))
        if message is None:
            raise bad_request("message to delete not found")
        if not self._may_delete(chat, message):
            raise bad_request("message can't be deleted")
        self.world.delete_message(chat.id, message["message_id"])
        return True

    def _may_delete(self, chat: Chat, message: JSON) -> bool:
        """Own messages and anything in private chats; others' messages only as an admin."""
        if self.world.is_bot_message(message) or chat.type == "private":
            return True
        return self.world.status(chat.id, self.world.bot.id) in ("administrator", "creator")

    def set_message_reaction(self, call: Call) -> bool:
        reactions = call.json_arg("reaction", "reaction types") or []
        if not isinstance(reactions, list):
            raise bad_request("expected an Array of ReactionType")
        for reaction in reactions:
            if not isinstance(reaction, dict) or reaction.get("type") not in (
                "emoji",
                "custom_emoji",
                "paid",
            ):
                raise bad_request("can't parse ReactionType: invalid reaction type specified")
        chat = self.world.checked_chat(call.arg("chat_id"), "read")
        if self.world.message(chat.id, message_id_arg(call)) is None:
            raise bad_request("message to react not found")
        allowed = {emoji.value for emoji in ReactionEmoji}
        if any(reaction["type"] != "emoji" or reaction.get("emoji") not in allowed for reaction in reactions):
            raise bad_request("REACTION_INVALID")
        if len(reactions) > 1:
            raise bad_request("REACTIONS_TOO_MANY")  # bots may set only one reaction
        return True

    def send_chat_action(self, call: Call) -> bool:
        if call.arg("action").lower() not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self.world.checked_chat(call.arg("chat_id"), "write")
        return True


def _has_input(call: Call, field: str) -> bool:
    value = call.arg(field)
    if value.startswith("attach://"):
        return value.removeprefix("attach://") in call.files
    return bool(value) or field in call.files


def _photo_sizes(file: InputFile) -> list[JSON]:
    stored = file.stored
    if isinstance(stored.media, list):
        return stored.media
    dimensions = image_dimensions(stored.data)
    if dimensions is None:
        raise bad_request("IMAGE_PROCESS_FAILED")
    return [{**stored.ids(), "width": dimensions[0], "height": dimensions[1]}]


def _check_album(items: list[_AlbumItem]) -> None:
    if not items:
        raise bad_request("there are no messages to send")
    if len(items) < MIN_ALBUM:
        raise bad_request(f"media group must include {MIN_ALBUM}-{MAX_ALBUM} items")
    if len(items) > MAX_ALBUM:
        raise bad_request("too many messages to send as an album")
    kinds = {item.type for item in items}
    if len(kinds) > 1 and kinds & {"document", "audio"}:
        raise bad_request("can't use the media of the specified type in the album")
