"""Message text with entities, measured the way Telegram measures it (UTF-16 code units).

Shared by the HTML and Markdown parsers (which port tdlib's byte-oriented parsers, so their error offsets
are UTF-8 byte offsets exactly like the real server's) and by the builders of incoming messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

Entity = dict[str, Any]

# tdlib trims these around message texts and captions before checking for emptiness and length.
_TRIMMED: Final = " \t\r\n\v\f"
_BOT_COMMAND: Final = re.compile(r"(?<![\w/@.])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/@])")


class EntityParseError(ValueError):
    """The text does not parse in the requested parse_mode; the message is tdlib's wording."""


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def make_entity(kind: str, offset: int, length: int, **extra: Any) -> Entity:
    return {"type": kind, "offset": offset, "length": length, **extra}


@dataclass
class FormattedText:
    text: str
    entities: list[Entity] = field(default_factory=list)

    def trimmed(self) -> FormattedText:
        """Drop surrounding whitespace like tdlib does and move the entities along with the text."""
        stripped_left = self.text.lstrip(_TRIMMED)
        text = stripped_left.rstrip(_TRIMMED)
        shift = utf16_length(self.text) - utf16_length(stripped_left)
        end = utf16_length(text)
        entities = []
        for entity in self.entities:
            start = max(entity["offset"] - shift, 0)
            stop = min(entity["offset"] + entity["length"] - shift, end)
            if stop > start:
                entities.append({**entity, "offset": start, "length": stop - start})
        return FormattedText(text, entities)


class TextBuilder:
    """Accumulates parser output as UTF-8 bytes while tracking the UTF-16 offset entities are measured in."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.utf16_offset = 0
        self.entities: list[Entity] = []

    @property
    def byte_length(self) -> int:
        return len(self._buffer)

    def append_byte(self, byte: int) -> None:
        self._buffer.append(byte)
        if byte & 0xC0 != 0x80:  # the first byte of a UTF-8 sequence; 4-byte sequences are surrogate pairs
            self.utf16_offset += 2 if byte >= 0xF0 else 1

    def append_text(self, text: str) -> None:
        for byte in text.encode("utf-8"):
            self.append_byte(byte)

    def text_since(self, byte_position: int) -> str:
        return self._buffer[byte_position:].decode("utf-8", errors="replace")

    def add_entity(self, kind: str, offset: int, **extra: Any) -> None:
        self.entities.append(make_entity(kind, offset, self.utf16_offset - offset, **extra))

    def result(self) -> FormattedText:
        entities = sorted(self.entities, key=lambda entity: (entity["offset"], -entity["length"]))
        return FormattedText(self._buffer.decode("utf-8", errors="replace"), entities)


def bot_command_entities(text: str) -> list[Entity]:
    """The ``bot_command`` entities Telegram attaches to incoming texts (``/cmd`` and ``/cmd@bot``)."""
    return [
        make_entity("bot_command", utf16_length(text[: match.start()]), utf16_length(match.group()))
        for match in _BOT_COMMAND.finditer(text)
    ]
