"""parse_mode=Markdown and MarkdownV2 as tdlib parses them (MessageEntity.cpp), error texts included.

MarkdownV2 is the strict one: every reserved character outside an entity must be escaped with a backslash,
which is the mistake bots make most often with user-provided text. Block quotes (``>`` at the start of a
line) are supported in their plain form; the expandable ``**>`` form is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from tests.fakes.telegram_entities import EntityParseError, FormattedText, TextBuilder

_RESERVED_V2: Final = b"_*[]()~`>#+-=|{}.!"
_SPACES: Final = frozenset(b" \t\r\n\v\x00")
# tdlib prints entity types by these names in "Can't find end of ... entity" errors.
_TYPE_NAMES: Final = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


class _Bytes:
    def __init__(self, text: str) -> None:
        self.data = text.encode("utf-8")

    def __len__(self) -> int:
        return len(self.data)

    def at(self, index: int) -> int:
        return self.data[index] if index < len(self.data) else 0

    def char(self, index: int) -> str:
        return chr(self.at(index))

    def slice(self, start: int, stop: int) -> str:
        return self.data[start:stop].decode("utf-8", errors="replace")


def _is_escapable(byte: int) -> bool:
    return 0 < byte <= 126


def _skip_pre_language_and_newline(source: _Bytes, position: int) -> tuple[int, str]:
    """After an opening triple backtick: read an optional language word and skip one line break."""
    language = ""
    language_end = position
    while source.at(language_end) not in _SPACES and source.at(language_end) != ord("`"):
        language_end += 1
    if position != language_end and language_end < len(source) and source.at(language_end) != ord("`"):
        language = source.slice(position, language_end)
        position = language_end
    if source.at(position) in b"\r\n":
        pair = source.at(position + 1) in b"\r\n" and source.at(position) != source.at(position + 1)
        position += 2 if pair else 1
    return position, language


def parse_markdown_v1(text: str) -> FormattedText:
    source = _Bytes(text)
    out = TextBuilder()
    position = 0
    while position < len(source):
        byte = source.at(position)
        if byte == ord("\\") and source.at(position + 1) in b"_*`[":
            out.append_byte(source.at(position + 1))
            position += 2
            continue
        if byte not in b"_*`[":
            out.append_byte(byte)
            position += 1
            continue
        position = _markdown_v1_entity(source, position, out)
    return out.result()


def _markdown_v1_entity(source: _Bytes, begin: int, out: TextBuilder) -> int:
    opener = source.at(begin)
    closer = ord("]") if opener == ord("[") else opener
    position = begin + 1
    is_pre = opener == ord("`") and source.at(position) == ord("`") and source.at(position + 1) == ord("`")
    language = ""
    if is_pre:
        position, language = _skip_pre_language_and_newline(source, position + 2)
    start_offset = out.utf16_offset
    start_byte = out.byte_length
    while position < len(source) and (
        source.at(position) != closer
        or (is_pre and not (source.at(position + 1) == ord("`") and source.at(position + 2) == ord("`")))
    ):
        out.append_byte(source.at(position))
        position += 1
    if position >= len(source):
        raise EntityParseError(f"Can't find end of the entity starting at byte offset {begin}")
    if out.utf16_offset != start_offset:
        if opener == ord("_"):
            out.add_entity("italic", start_offset)
        elif opener == ord("*"):
            out.add_entity("bold", start_offset)
        elif opener == ord("["):
            url = out.text_since(start_byte)
            if source.at(position + 1) == ord("("):
                url_begin = position + 2
                position = url_begin
                while position < len(source) and source.at(position) != ord(")"):
                    position += 1
                url = source.slice(url_begin, position)
            out.add_entity("text_link", start_offset, url=url)
        elif is_pre:
            out.add_entity("pre", start_offset, **({"language": language} if language else {}))
        else:
            out.add_entity("code", start_offset)
    return position + (3 if is_pre else 1)


@dataclass
class _Open:
    kind: str
    utf16_offset: int
    byte_offset: int
    byte_position: int
    language: str = ""


class _MarkdownV2Parser:
    def __init__(self, text: str) -> None:
        self.source = _Bytes(text)
        self.out = TextBuilder()
        self.stack: list[_Open] = []
        self.quote_start: int | None = None

    def parse(self) -> FormattedText:
        position = 0
        source = self.source
        while position < len(source):
            byte = source.at(position)
            if byte == ord("\\") and _is_escapable(source.at(position + 1)):
                self.out.append_byte(source.at(position + 1))
                position += 2
                continue
            at_line_start = position == 0 or source.at(position - 1) == ord("\n")
            if at_line_start and self._line_start(position):
                position += 1
                continue
            reserved = b"`" if self.stack and self.stack[-1].kind in ("code", "pre") else _RESERVED_V2
            if byte not in reserved:
                self.out.append_byte(byte)
                position += 1
                continue
            position = self._close(position) if self._closes_top(position) else self._open(position)
        if self.stack:
            top = self.stack[-1]
            raise EntityParseError(f"Can't find end of {_TYPE_NAMES[top.kind]} entity at byte offset {top.byte_offset}")
        self._end_quote()
        return self.out.result()

    def _line_start(self, position: int) -> bool:
        """Track ``>`` block quotes; True when the byte at ``position`` was the quote marker."""
        is_marker = self.source.at(position) == ord(">") and not self.stack
        if is_marker and self.quote_start is None:
            self.quote_start = self.out.utf16_offset
        elif not is_marker:
            self._end_quote()
        return is_marker

    def _end_quote(self) -> None:
        if self.quote_start is None:
            return
        text = self.out.text_since(0)
        end = self.out.utf16_offset - (1 if text.endswith("\n") else 0)
        if end > self.quote_start:
            self.out.entities.append(
                {"type": "blockquote", "offset": self.quote_start, "length": end - self.quote_start}
            )
        self.quote_start = None

    def _closes_top(self, position: int) -> bool:
        if not self.stack:
            return False
        source = self.source
        byte, following = source.at(position), source.at(position + 1)
        kind = self.stack[-1].kind
        if kind == "pre":
            return byte == ord("`") and following == ord("`") and source.at(position + 2) == ord("`")
        closers = {
            "bold": byte == ord("*"),
            "italic": byte == ord("_") and following != ord("_"),
            "underline": byte == ord("_") and following == ord("_"),
            "code": byte == ord("`"),
            "strikethrough": byte == ord("~"),
            "spoiler": byte == ord("|") and following == ord("|"),
            "text_link": byte == ord("]"),
            "custom_emoji": byte == ord("]"),
        }
        return closers[kind]

    def _reserved(self, position: int) -> EntityParseError:
        return EntityParseError(
            f"Character '{self.source.char(position)}' is reserved and must be escaped with the preceding '\\'"
        )

    def _open(self, position: int) -> int:
        source = self.source
        byte, following = source.at(position), source.at(position + 1)
        begin = position
        language = ""
        if byte == ord("_"):
            kind = "underline" if following == ord("_") else "italic"
            position += 2 if kind == "underline" else 1
        elif byte in b"*~[":
            kind = {ord("*"): "bold", ord("~"): "strikethrough", ord("["): "text_link"}[byte]
            position += 1
        elif byte == ord("|") and following == ord("|"):
            kind, position = "spoiler", position + 2
        elif byte == ord("!") and following == ord("["):
            kind, position = "custom_emoji", position + 2
        elif byte == ord("`") and following == ord("`") and source.at(position + 2) == ord("`"):
            kind = "pre"
            position, language = _skip_pre_language_and_newline(source, position + 3)
        elif byte == ord("`"):
            kind, position = "code", position + 1
        else:
            raise self._reserved(position)
        self.stack.append(_Open(kind, self.out.utf16_offset, begin, self.out.byte_length, language))
        return position

    def _close(self, position: int) -> int:
        top = self.stack.pop()
        out = self.out
        position += {"underline": 2, "spoiler": 2, "pre": 3}.get(top.kind, 1)
        extra: dict[str, str] = {}
        if top.kind in ("text_link", "custom_emoji"):
            position, url = self._link_target(position, top)
            if top.kind == "custom_emoji":
                if not url.startswith("tg://emoji?id="):
                    raise EntityParseError("Custom emoji entity must contain a tg://emoji URL")
                extra["custom_emoji_id"] = url.removeprefix("tg://emoji?id=")
            else:
                extra["url"] = url
        if top.kind == "pre" and top.language:
            extra["language"] = top.language
        if out.utf16_offset > top.utf16_offset:
            out.add_entity(top.kind, top.utf16_offset, **extra)
        return position

    def _link_target(self, position: int, top: _Open) -> tuple[int, str]:
        """Read ``(url)`` after ``]``; without it the link text itself is the URL."""
        source = self.source
        if source.at(position) != ord("("):
            return position, self.out.text_since(top.byte_position)
        position += 1
        url_begin = position
        url = bytearray()
        while position < len(source) and source.at(position) != ord(")"):
            if source.at(position) == ord("\\") and _is_escapable(source.at(position + 1)):
                position += 1
            url.append(source.at(position))
            position += 1
        if source.at(position) != ord(")"):
            raise EntityParseError(f"Can't find end of a URL at byte offset {url_begin}")
        return position + 1, url.decode("utf-8", errors="replace")


def parse_markdown_v2(text: str) -> FormattedText:
    return _MarkdownV2Parser(text).parse()
