"""Turning a text/caption parameter plus parse_mode into what Telegram stores, with Telegram's limits.

Lengths are checked after entity parsing and trimming, as the real server does: ``<b>`` tags do not count
towards the 4096-character limit, but an empty ``<b></b>`` message is rejected as empty.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

from tests.fakes.telegram_entities import EntityParseError, FormattedText
from tests.fakes.telegram_html import parse_html
from tests.fakes.telegram_markdown import parse_markdown_v1, parse_markdown_v2
from tests.fakes.telegram_models import bad_request

MAX_TEXT_LENGTH: Final = 4096
MAX_CAPTION_LENGTH: Final = 1024
MAX_RAW_LENGTH: Final = 1 << 15  # the Bot API server refuses longer parameters before parsing
_PARSERS: Final[dict[str, Callable[[str], FormattedText]]] = {
    "html": parse_html,
    "markdown": parse_markdown_v1,
    "markdownv2": parse_markdown_v2,
}
_ENTITY_TYPES: Final = frozenset(
    {
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "code",
        "pre",
        "text_link",
        "text_mention",
        "custom_emoji",
        "blockquote",
        "expandable_blockquote",
    }
)


def format_text(text: str, parse_mode: str, entities_json: str) -> FormattedText:
    """Parse ``text`` like the Bot API's get_formatted_text; explicit entities are used without parse_mode."""
    if len(text.encode("utf-8")) > MAX_RAW_LENGTH:
        raise bad_request("text is too long")
    mode = parse_mode.lower()
    if text and mode and mode != "none":
        parser = _PARSERS.get(mode)
        if parser is None:
            raise bad_request("unsupported parse_mode")
        try:
            return parser(text).trimmed()
        except EntityParseError as error:
            raise bad_request(f"can't parse entities: {error}") from error
    return FormattedText(text, _explicit_entities(entities_json)).trimmed()


def _explicit_entities(entities_json: str) -> list[dict[str, Any]]:
    """Entities passed as JSON; like the real server, unparsable JSON is ignored and automatic types dropped."""
    if not entities_json:
        return []
    try:
        entities = json.loads(entities_json)
    except ValueError:
        return []
    if not isinstance(entities, list):
        return []
    for entity in entities:
        if not isinstance(entity, dict) or not {"type", "offset", "length"} <= entity.keys():
            raise bad_request("can't parse MessageEntity: expected an Object with type, offset and length")
    return [entity for entity in entities if entity["type"] in _ENTITY_TYPES]


def message_text(text: str, parse_mode: str, entities_json: str) -> FormattedText:
    if not text:
        raise bad_request("message text is empty")
    formatted = format_text(text, parse_mode, entities_json)
    if not formatted.text:
        raise bad_request("message text is empty")
    if len(formatted.text) > MAX_TEXT_LENGTH:
        raise bad_request("message is too long")
    return formatted


def caption(text: str, parse_mode: str, entities_json: str) -> FormattedText:
    formatted = format_text(text, parse_mode, entities_json)
    if len(formatted.text) > MAX_CAPTION_LENGTH:
        raise bad_request("message caption is too long")
    return formatted


def text_fields(formatted: FormattedText, *, text_key: str, entities_key: str) -> dict[str, Any]:
    """The Message fields for a formatted text; Telegram omits empty captions and entity lists."""
    fields: dict[str, Any] = {}
    if formatted.text:
        fields[text_key] = formatted.text
    if formatted.entities:
        fields[entities_key] = formatted.entities
    return fields
