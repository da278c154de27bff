"""What every send* method shares: reply targets, reply markup, input files and the Message it returns.

Validation order follows telegram-bot-api's ``do_send_message``: parameters are parsed first, then the chat
is checked (not found, migrated, bot removed), then the message being replied to, then the file itself.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote

from tests.fakes.telegram_files import StoredFile
from tests.fakes.telegram_media import register_photo
from tests.fakes.telegram_models import JSON, Chat, UploadedFile, bad_request, to_integer
from tests.fakes.telegram_wire import Call
from tests.fakes.telegram_world import World, now

MAX_CALLBACK_DATA: Final = 64
# Which stored kinds a send method accepts; documents, videos, animations and audio are all "documents"
# to Telegram and may be re-sent through each other's methods, photos and stickers may not.
_DOCUMENT_KINDS: Final = frozenset({"document", "video", "animation", "audio", "video_note"})
ACCEPTED_KINDS: Final = {
    "photo": frozenset({"photo", "thumbnail"}),
    "sticker": frozenset({"sticker"}),
    **{kind: _DOCUMENT_KINDS for kind in _DOCUMENT_KINDS},
}
_EXTENSIONS: Final = {
    "photo": ".jpg",
    "video": ".mp4",
    "animation": ".mp4",
    "video_note": ".mp4",
    "sticker": ".webp",
}


@dataclass
class InputFile:
    stored: StoredFile
    uploaded: UploadedFile | None

    @property
    def file_name(self) -> str | None:
        return self.uploaded.filename if self.uploaded else None

    @property
    def mime_type(self) -> str | None:
        if self.uploaded is None:
            return None
        return mimetypes.guess_type(self.uploaded.filename)[0] or self.uploaded.content_type


class Outbox:
    def __init__(self, world: World, *, local_mode: bool) -> None:
        self.world = world
        self.local_mode = local_mode

    # ---- parameters ------------------------------------------------------------------------------
    def reply_request(self, call: Call) -> tuple[str, int, bool]:
        """(chat_id, message_id, allow_sending_without_reply) from reply_parameters or the legacy fields."""
        if "reply_parameters" not in call.args:
            return (
                "",
                call.int_arg("reply_to_message_id", minimum=0),
                call.bool_arg("allow_sending_without_reply"),
            )
        parameters = call.json_arg("reply_parameters", "reply parameters")
        if parameters is None or parameters == {}:
            return "", 0, False
        if not isinstance(parameters, dict):
            raise bad_request("object expected as reply parameters")
        if not isinstance(parameters.get("message_id"), int):
            raise bad_request('field "message_id" must be of type Number')
        chat_id = parameters.get("chat_id", "")
        return str(chat_id), parameters["message_id"], parameters.get("allow_sending_without_reply") is True

    def reply_markup(self, call: Call) -> JSON | None:
        markup = call.json_arg("reply_markup", "reply keyboard markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("object expected as reply markup")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return markup
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays')
        for button in (button for row in rows for button in row):
            _check_inline_button(button)
        return markup

    # ---- chat and reply checks -------------------------------------------------------------------
    def reply_target(self, chat: Chat, request: tuple[str, int, bool]) -> JSON | None:
        """The message being replied to when it is in this chat (a reply elsewhere carries no copy)."""
        chat_id_arg, message_id, allow_without = request
        if message_id <= 0:
            return None
        reply_chat = chat if not chat_id_arg or chat_id_arg == str(chat.id) else self.world.resolve_chat(chat_id_arg)
        found = self.world.message(reply_chat.id, message_id)
        if found is None and not allow_without:
            raise bad_request("message to be replied not found")
        return found if reply_chat.id == chat.id else None

    # ---- files -----------------------------------------------------------------------------------
    def input_file(self, call: Call, field: str, kind: str) -> InputFile | None:
        """The file a media parameter names: a file_id, ``attach://name``, or a multipart part named ``field``."""
        value = call.arg(field)
        if value:
            return self.referenced_file(call, value, kind)
        return self._uploaded(call.files.get(field), kind)

    def referenced_file(self, call: Call, reference: str, kind: str) -> InputFile | None:
        if reference.startswith("attach://"):
            return self._uploaded(call.files.get(reference.removeprefix("attach://")), kind)
        return InputFile(self.existing_file(reference, kind), None)

    def existing_file(self, reference: str, kind: str) -> StoredFile:
        if self.local_mode and reference.startswith("file:/"):
            return self._local_file(reference, kind)
        if reference.startswith(("http://", "https://")):
            raise bad_request("failed to get HTTP URL content")  # the fake world has no internet
        stored = self.world.files.get(reference)
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if stored.kind is not None and stored.kind not in ACCEPTED_KINDS[kind]:
            raise bad_request("type of file mismatch")
        return stored

    def _local_file(self, uri: str, kind: str) -> StoredFile:
        path = Path(unquote(uri.removeprefix("file://").removeprefix("file:")))
        if not path.is_file():
            raise bad_request("wrong file identifier/HTTP URL specified")
        return self._store_upload(path.read_bytes(), kind, path.suffix)

    def _uploaded(self, upload: UploadedFile | None, kind: str) -> InputFile | None:
        if upload is None:
            return None
        if not upload.data:
            raise bad_request("file must be non-empty")
        suffix = Path(upload.filename).suffix or _EXTENSIONS.get(kind, "")
        return InputFile(self._store_upload(upload.data, kind, suffix), upload)

    def _store_upload(self, data: bytes, kind: str, suffix: str) -> StoredFile:
        if kind != "photo":
            return self.world.files.add(data, kind=kind, extension=suffix)
        try:
            sizes = register_photo(self.world.files, data)
        except ValueError:
            raise bad_request("IMAGE_PROCESS_FAILED") from None
        largest = self.world.files.get(sizes[-1]["file_id"])
        assert largest is not None
        return largest

    # ---- the result ------------------------------------------------------------------------------
    def deliver(self, call: Call, chat: Chat, content: JSON, *, reply: JSON | None, markup: JSON | None) -> JSON:
        """Create, store and log the Message the bot just sent; reply_to_message is the replied message."""
        message: JSON = {
            "message_id": self.world.next_message_id(chat.id),
            "from": self.world.bot.to_dict(),
            "chat": chat.to_dict(),
            "date": now(),
        }
        if chat.type == "channel":
            del message["from"]
            message["sender_chat"] = chat.to_dict()
        if reply is not None:
            message["reply_to_message"] = without_reply(reply)
        message.update(content)
        if markup is not None and "inline_keyboard" in markup:
            message["reply_markup"] = {"inline_keyboard": markup["inline_keyboard"]}
        if call.bool_arg("protect_content"):
            message["has_protected_content"] = True
        self.world.store_message(message)
        self.world.record_sent(call.method, call.params, message)
        return message


def without_reply(message: JSON) -> JSON:
    """Telegram nests only one level: a replied-to message never carries its own reply_to_message."""
    return {key: value for key, value in message.items() if key != "reply_to_message"}


def _check_inline_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise bad_request("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
    if not isinstance(button.get("text"), str):
        raise bad_request('can\'t parse inline keyboard button: Field "text" must be of type String')
    actions = {
        "url",
        "callback_data",
        "callback_game",
        "pay",
        "switch_inline_query",
        "switch_inline_query_chosen_chat",
        "switch_inline_query_current_chat",
        "login_url",
        "web_app",
        "copy_text",
    }
    if not actions & button.keys():
        raise bad_request("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
    data = button.get("callback_data")
    if isinstance(data, str) and not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA:
        raise bad_request("BUTTON_DATA_INVALID")


def message_id_arg(call: Call) -> int:
    """A message_id parameter as the server reads it: lenient, and 0 when negative or absent."""
    value = to_integer(call.arg("message_id"))
    return value if value > 0 else 0
