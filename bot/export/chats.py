"""The chat of an export and the Bot API id of the same chat (see telegram-export notes: observed, not documented)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.export.errors import NotABotChat

BotChatType = Literal["private", "group", "supergroup", "channel"]

_BOT_TYPES: dict[str, BotChatType] = {
    "private_supergroup": "supergroup",
    "public_supergroup": "supergroup",
    "private_channel": "channel",
    "public_channel": "channel",
    "private_group": "group",
    "personal_chat": "private",
    "bot_chat": "private",
}


@dataclass(frozen=True)
class ExportChat:
    name: str | None
    type: str
    id: int
    whole_account: bool = False
    """Listed in a whole-account export (`chats.list`) rather than exported alone."""

    @property
    def is_bot_chat(self) -> bool:
        return self.type in _BOT_TYPES

    @property
    def bot_type(self) -> BotChatType:
        try:
            return _BOT_TYPES[self.type]
        except KeyError:
            raise NotABotChat(f"chat {self.name!r} is of type {self.type!r}: not a chat a bot can be in") from None

    @property
    def bot_chat_id(self) -> int:
        """Supergroups and channels: -100 then the digits; basic groups: negative; private chats: the user's id."""
        kind = self.bot_type
        if kind in ("supergroup", "channel"):
            return int(f"-100{self.id}")
        if kind == "group":
            return -self.id
        return self.id
