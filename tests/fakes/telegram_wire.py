"""Reading Bot API requests off the wire, the way telegram-bot-api does.

The real server turns every parameter into a string whatever the encoding (query string, form, multipart,
JSON body) and parses it per method; ``Call`` does the same so validation matches. Tests, however, want to
assert on values, so ``decode_params`` gives a typed view for the request log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.message import Message
from typing import Any, Final
from urllib.parse import parse_qsl

from tests.fakes.telegram_models import UploadedFile, bad_request, to_integer

_JSON_PARAMS: Final = frozenset(
    {
        "reply_parameters",
        "reply_markup",
        "media",
        "commands",
        "scope",
        "link_preview_options",
        "entities",
        "caption_entities",
        "reaction",
        "allowed_updates",
        "message_ids",
        "permissions",
        "rights",
        "menu_button",
        "results",
    }
)
_INT_PARAMS: Final = frozenset(
    {
        "message_id",
        "user_id",
        "offset",
        "limit",
        "timeout",
        "reply_to_message_id",
        "message_thread_id",
        "duration",
        "width",
        "height",
        "length",
        "until_date",
        "cache_time",
        "max_connections",
    }
)
_CHAT_PARAMS: Final = frozenset({"chat_id", "from_chat_id", "sender_chat_id"})
_BOOL_PARAMS: Final = frozenset(
    {
        "disable_notification",
        "protect_content",
        "allow_sending_without_reply",
        "disable_web_page_preview",
        "drop_pending_updates",
        "supports_streaming",
        "has_spoiler",
        "show_caption_above_media",
        "is_big",
        "show_alert",
        "only_if_banned",
        "disable_content_type_detection",
        "allow_paid_broadcast",
        "revoke_messages",
    }
)


@dataclass
class Call:
    """One Bot API call: string arguments as the server sees them, plus uploaded files."""

    method: str
    args: dict[str, str] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)

    @property
    def params(self) -> dict[str, Any]:
        return decode_params(self.args)

    def arg(self, name: str) -> str:
        return self.args.get(name, "")

    def int_arg(self, name: str, default: int = 0, minimum: int | None = None, maximum: int | None = None) -> int:
        """Like the server's get_integer_arg: lenient parsing, default when absent, clamped to the range."""
        raw = self.arg(name)
        value = default if not raw else to_integer(raw)
        if minimum is not None:
            value = max(value, minimum)
        if maximum is not None:
            value = min(value, maximum)
        return value

    def bool_arg(self, name: str) -> bool:
        return self.arg(name).strip().lower() in ("true", "yes", "1")

    def required(self, name: str) -> str:
        value = self.arg(name)
        if not value:
            raise bad_request(f'parameter "{name}" is required')
        return value

    def json_arg(self, name: str, what: str) -> Any:
        """The decoded JSON parameter, None when absent, or the server's "can't parse" error."""
        raw = self.arg(name)
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise bad_request(f"can't parse {what} JSON object") from None


def parse_request(content_type: str, body: bytes, query: str) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    """String arguments and uploaded files of a request; body values win over the query string."""
    args = dict(parse_qsl(query, keep_blank_values=True))
    files: dict[str, UploadedFile] = {}
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/json" and body:
        args.update(_json_args(body))
    elif media_type == "application/x-www-form-urlencoded":
        args.update(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
    elif media_type == "multipart/form-data":
        form_args, files = _multipart(content_type, body)
        args.update(form_args)
    return args, files


def _json_args(body: bytes) -> dict[str, str]:
    try:
        value = json.loads(body)
    except ValueError:
        raise bad_request("can't parse JSON encoded request") from None
    if not isinstance(value, dict):
        raise bad_request("can't parse JSON encoded request")
    return {key: item if isinstance(item, str) else json.dumps(item) for key, item in value.items() if item is not None}


def _header_params(header_name: str, header_value: str) -> Message:
    message = Message()
    message[header_name] = header_value
    return message


def _multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    boundary = _header_params("Content-Type", content_type).get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise bad_request("can't parse multipart/form-data request: no boundary")
    args: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    for chunk in body.split(b"--" + boundary.encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, content = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        content = content.removesuffix(b"\r\n")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in head.decode("utf-8", errors="replace").split("\r\n"))
        }
        disposition = _header_params("Content-Disposition", headers.get("content-disposition", ""))
        name = disposition.get_param("name", header="content-disposition")
        filename = disposition.get_filename()
        if not isinstance(name, str):
            continue
        if filename is None:
            args[name] = content.decode("utf-8", errors="replace")
        else:
            files[name] = UploadedFile(filename, headers.get("content-type", "application/octet-stream"), content)
    return args, files


def decode_params(args: dict[str, str]) -> dict[str, Any]:
    """A typed view of the arguments for assertions: JSON decoded, ids and flags converted where known."""
    return {name: _decode(name, value) for name, value in args.items()}


def _decode(name: str, value: str) -> Any:
    if name in _JSON_PARAMS:
        try:
            return json.loads(value)
        except ValueError:
            return value
    if name in _INT_PARAMS or name in _CHAT_PARAMS:
        try:
            return int(value)
        except ValueError:
            return value
    if name in _BOOL_PARAMS and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value
