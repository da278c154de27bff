"""parse_mode=HTML exactly as tdlib parses it (MessageEntity.cpp ``parse_html``), error texts included.

One deliberate difference: tdlib keeps a bare ``&`` that starts no entity as a literal character, while the
Bot API documentation requires every ``&`` outside an entity to be escaped. This fake rejects it, so a bot
that forgets to escape user text (``Tom & Jerry``, URLs with query strings) fails in tests instead of
depending on tdlib's leniency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from tests.fakes.telegram_entities import EntityParseError, FormattedText, TextBuilder

SUPPORTED_TAGS: Final = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_SIMPLE_ENTITIES: Final = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_NAMED_ENTITIES: Final = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"'}
_SPACES: Final = frozenset(b" \t\r\n\v\x00")  # tdlib's is_space, which also stops at the terminating NUL
_LT, _GT, _AMP, _SLASH, _EQ = b"<", b">", b"&", b"/", b"="


@dataclass
class _OpenTag:
    name: str
    argument: str
    utf16_offset: int
    byte_position: int


class _Source:
    """UTF-8 bytes with tdlib's C-string convention: reading past the end yields NUL."""

    def __init__(self, text: str) -> None:
        self.data = text.encode("utf-8")

    def __len__(self) -> int:
        return len(self.data)

    def at(self, index: int) -> int:
        return self.data[index] if index < len(self.data) else 0

    def is_space(self, index: int) -> bool:
        return self.at(index) in _SPACES

    def slice(self, start: int, stop: int) -> str:
        return self.data[start:stop].decode("utf-8", errors="replace")


def decode_html_entity(source: _Source, position: int) -> tuple[str, int] | None:
    """The character of the entity starting at ``position`` and the index after it, or None if there is none."""
    end = position + 1
    code = 0
    if source.at(end) == ord("#"):
        end += 1
        hexadecimal = source.at(end) == ord("x")
        if hexadecimal:
            end += 1
        base, digits = (16, b"0123456789abcdefABCDEF") if hexadecimal else (10, b"0123456789")
        while source.at(end) and source.at(end) in digits:
            code = code * base + int(chr(source.at(end)), base)
            end += 1
            if code >= 0x10FFFF:
                return None
        if code == 0 or end - position > 10:
            return None
        character = chr(code)
    else:
        while chr(source.at(end)).isascii() and chr(source.at(end)).isalpha():
            end += 1
        named = _NAMED_ENTITIES.get(source.data[position + 1 : end])
        if named is None:
            return None
        character = named
    if source.at(end) == ord(";"):
        end += 1
    return character, end


class _HtmlParser:
    def __init__(self, text: str) -> None:
        self.source = _Source(text)
        self.out = TextBuilder()
        self.open_tags: list[_OpenTag] = []

    def parse(self) -> FormattedText:
        position = 0
        while position < len(self.source):
            byte = self.source.at(position)
            if byte == _AMP[0]:
                position = self._entity(position)
            elif byte == _LT[0]:
                position = self._tag(position)
            else:
                self.out.append_byte(byte)
                position += 1
        if self.open_tags:
            name = self.open_tags[-1].name
            raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{name}"')
        return self.out.result()

    def _entity(self, position: int) -> int:
        decoded = decode_html_entity(self.source, position)
        if decoded is None:
            raise EntityParseError(f'Character "&" must be escaped as "&amp;" at byte offset {position}')
        character, position = decoded
        self.out.append_text(character)
        return position

    def _tag(self, begin: int) -> int:
        if self.source.at(begin + 1) == _SLASH[0]:
            return self._end_tag(begin)
        return self._start_tag(begin)

    def _start_tag(self, begin: int) -> int:
        source = self.source
        position = begin + 1
        while not source.is_space(position) and source.at(position) != _GT[0]:
            position += 1
        if source.at(position) == 0:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
        name = source.slice(begin + 1, position).lower()
        if name not in SUPPORTED_TAGS:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {begin}')
        argument = ""
        while source.at(position) != _GT[0]:
            position, attribute, value = self._attribute(position, name, begin)
            if attribute is not None:
                argument = _tag_argument(name, attribute, value) or argument
        if name == "span" and argument != "spoiler":
            raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
        self.open_tags.append(_OpenTag(name, argument, self.out.utf16_offset, self.out.byte_length))
        return position + 1

    def _attribute(self, position: int, tag: str, begin: int) -> tuple[int, str | None, str]:
        """Parse one ``name=value`` pair; returns the position after it (or at ``>``) and the pair."""
        source = self.source
        while source.at(position) != 0 and source.is_space(position):
            position += 1
        if source.at(position) == _GT[0]:
            return position, None, ""
        name_begin = position
        while not source.is_space(position) and source.at(position) not in b"=>":
            position += 1
        attribute = source.slice(name_begin, position)
        if not attribute:
            raise EntityParseError(f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
        while source.at(position) != 0 and source.is_space(position):
            position += 1
        if source.at(position) != _EQ[0] and tag == "blockquote" and attribute == "expandable":
            return position, attribute, ""  # the only attribute tdlib accepts without a value
        if source.at(position) != _EQ[0]:
            raise EntityParseError(
                f'Expected equal sign in declaration of an attribute of the tag "{tag}" at byte offset {begin}'
            )
        position += 1
        while source.at(position) != 0 and source.is_space(position):
            position += 1
        if source.at(position) == 0:
            raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
        if source.at(position) in b"'\"":
            position, value = self._quoted_value(position)
        else:
            position, value = self._name_token(position)
        if source.at(position) == 0:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
        return position, attribute, value

    def _name_token(self, position: int) -> tuple[int, str]:
        source = self.source
        token_begin = position
        while chr(source.at(position)).isascii() and (
            chr(source.at(position)).isalnum() or source.at(position) in b".-"
        ):
            position += 1
        if not source.is_space(position) and source.at(position) != _GT[0]:
            raise EntityParseError(f"Unexpected end of name token at byte offset {token_begin}")
        return position, source.slice(token_begin, position).lower()

    def _quoted_value(self, position: int) -> tuple[int, str]:
        source = self.source
        quote = source.at(position)
        position += 1
        value = TextBuilder()
        while source.at(position) != quote and source.at(position) != 0:
            if source.at(position) == _AMP[0]:
                decoded = decode_html_entity(source, position)
                if decoded is None:
                    raise EntityParseError(f'Character "&" must be escaped as "&amp;" at byte offset {position}')
                value.append_text(decoded[0])
                position = decoded[1]
                continue
            value.append_byte(source.at(position))
            position += 1
        if source.at(position) == quote:
            position += 1
        return position, value.result().text

    def _end_tag(self, begin: int) -> int:
        source = self.source
        if not self.open_tags:
            raise EntityParseError(f"Unexpected end tag at byte offset {begin}")
        position = begin + 2
        while not source.is_space(position) and source.at(position) != _GT[0]:
            position += 1
        end_name = source.slice(begin + 2, position)
        while source.is_space(position) and source.at(position) != 0:
            position += 1
        if source.at(position) != _GT[0]:
            raise EntityParseError(f"Unclosed end tag at byte offset {begin}")
        open_tag = self.open_tags.pop()
        if end_name and end_name != open_tag.name:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {begin}, expected "</{open_tag.name}>", found "</{end_name}>"'
            )
        if self.out.utf16_offset > open_tag.utf16_offset:
            self._close_entity(open_tag)
        return position + 1

    def _close_entity(self, tag: _OpenTag) -> None:
        out = self.out
        if tag.name in _SIMPLE_ENTITIES:
            out.add_entity(_SIMPLE_ENTITIES[tag.name], tag.utf16_offset)
        elif tag.name == "a":
            out.add_entity("text_link", tag.utf16_offset, url=tag.argument or out.text_since(tag.byte_position))
        elif tag.name == "code":
            extra = {"language": tag.argument} if tag.argument else {}
            out.add_entity("code", tag.utf16_offset, **extra)
        elif tag.name == "pre":
            self._close_pre(tag)
        elif tag.name == "blockquote":
            out.add_entity("expandable_blockquote" if tag.argument else "blockquote", tag.utf16_offset)
        elif tag.name == "tg-emoji":
            if not tag.argument.isdigit() or int(tag.argument) == 0:
                raise EntityParseError("Invalid custom emoji identifier specified")
            out.add_entity("custom_emoji", tag.utf16_offset, custom_emoji_id=tag.argument)

    def _close_pre(self, tag: _OpenTag) -> None:
        """``<pre><code class="language-x">`` becomes one pre entity carrying the language, as in tdlib."""
        out = self.out
        length = out.utf16_offset - tag.utf16_offset
        last = out.entities[-1] if out.entities else None
        if (
            last is not None
            and last["type"] == "code"
            and "language" in last
            and last["offset"] == tag.utf16_offset
            and last["length"] == length
        ):
            last["type"] = "pre"
            return
        out.add_entity("pre", tag.utf16_offset)


def _tag_argument(tag: str, attribute: str, value: str) -> str | None:
    """The attribute value a tag keeps (tdlib ignores every other attribute)."""
    if tag == "a" and attribute == "href":
        return value
    if tag == "code" and attribute == "class" and value.startswith("language-"):
        return value.removeprefix("language-")
    if tag == "span" and attribute == "class" and value.startswith("tg-"):
        return value.removeprefix("tg-")
    if tag == "tg-emoji" and attribute == "emoji-id":
        return value
    if tag == "blockquote" and attribute == "expandable":
        return "1"
    return None


def parse_html(text: str) -> FormattedText:
    return _HtmlParser(text).parse()
