"""Messages people post, built the way Telegram delivers them to a bot and queued as updates.

Telegram shapes matter here: channel posts have no ``from``, anonymous admins post as GroupAnonymousBot
with ``sender_chat``, commands carry ``bot_command`` entities, albums share a ``media_group_id``, edits reuse
the message id with an ``edit_date``. With privacy mode on, group messages a bot would not see are stored
(so replies to them work) but never delivered.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any, TypedDict

from tests.fakes.telegram_entities import bot_command_entities
from tests.fakes.telegram_media import register_thumbnail
from tests.fakes.telegram_models import CHANNEL_BOT, GROUP_ANONYMOUS_BOT, JSON, Chat, User
from tests.fakes.telegram_outgoing import without_reply
from tests.fakes.telegram_world import World, now


class PostOptions(TypedDict, total=False):
    """How a message was posted, beyond its content."""

    caption: str | None
    media_group_id: str | None
    reply_to: JSON | None
    forward_origin: JSON | None
    sender_chat: Chat | None
    channel: bool
    edited_from: JSON | None


class Incoming:
    def __init__(self, world: World) -> None:
        self.world = world

    def post(self, chat: Chat, user: User | None, content: JSON, options: PostOptions) -> JSON:
        """Create the message, remember it, and queue it as the update type Telegram would use."""
        channel = options.get("channel", False) or chat.type == "channel"
        edited_from = options.get("edited_from")
        message: JSON = {
            "message_id": edited_from["message_id"] if edited_from else self.world.next_message_id(chat.id),
            "date": edited_from["date"] if edited_from else now(),
            "chat": chat.to_dict(),
            **self._sender(chat, user, options.get("sender_chat"), channel),
        }
        self._add_context(message, options)
        message.update(content)
        if edited_from:
            message["edit_date"] = now()
        self.remember(chat, user, message)
        kind = "channel_post" if channel else "message"
        self.queue(f"edited_{kind}" if edited_from else kind, message)
        return message

    def edit(self, original: JSON, changes: dict[str, Any]) -> JSON:
        chat_id = original["chat"]["id"]
        current = self.world.message(chat_id, original["message_id"]) or original
        edited = {**current, **changes, "edit_date": now()}
        self.world.store_message(edited)
        channel = original["chat"]["type"] == "channel"
        self.queue("edited_channel_post" if channel else "edited_message", edited)
        return edited

    def remember(self, chat: Chat, user: User | None, message: JSON) -> None:
        self.world.remember_chat(chat)
        if user is not None:
            self.world.remember_user(user)
        self.world.store_message(message)

    def queue(self, update_type: str, message: JSON) -> None:
        if self._delivered(message):
            self.world.updates.push(update_type, message)

    def _sender(self, chat: Chat, user: User | None, sender_chat: Chat | None, channel: bool) -> JSON:
        if channel:
            return {"sender_chat": (sender_chat or chat).to_dict()}
        if user is not None:
            return {"from": user.to_dict(), **({"sender_chat": sender_chat.to_dict()} if sender_chat else {})}
        if sender_chat is None:
            raise ValueError("a group or private message needs a user or a sender_chat")
        substitute = GROUP_ANONYMOUS_BOT if sender_chat.id == chat.id else CHANNEL_BOT
        return {"from": dict(substitute), "sender_chat": sender_chat.to_dict()}

    @staticmethod
    def _add_context(message: JSON, options: PostOptions) -> None:
        reply_to = options.get("reply_to")
        if reply_to:
            message["reply_to_message"] = without_reply(reply_to)
        for key in ("forward_origin", "media_group_id", "caption"):
            value = options.get(key)
            if value:
                message[key] = value

    def _delivered(self, message: JSON) -> bool:
        """A removed bot gets nothing; with privacy mode a non-admin bot in a group gets only its commands
        and replies to its own messages."""
        chat = message["chat"]
        status = self.world.status(chat["id"], self.world.bot.id)
        if status in ("left", "kicked"):
            return False
        if not self.world.privacy_mode or chat["type"] not in ("group", "supergroup"):
            return True
        if status in ("administrator", "creator"):
            return True
        replied = message.get("reply_to_message")
        return (replied is not None and self.world.is_bot_message(replied)) or self._is_own_command(message)

    def _is_own_command(self, message: JSON) -> bool:
        text = message.get("text", "")
        first = next((e for e in message.get("entities", []) if e["type"] == "bot_command"), None)
        if first is None or first["offset"] != 0:
            return False
        _, _, addressee = text[: first["length"]].partition("@")
        return not addressee or addressee.lower() == (self.world.bot.username or "").lower()

    # ---- content builders ------------------------------------------------------------------------
    @staticmethod
    def text_content(text: str) -> JSON:
        entities = bot_command_entities(text)
        return {"text": text, **({"entities": entities} if entities else {})}

    def thumbnail(self, image: bytes | None) -> JSON | None:
        return register_thumbnail(self.world.files, image) if image is not None else None


def file_extension(file_name: str | None, default: str) -> str:
    return Path(file_name).suffix if file_name and Path(file_name).suffix else default


def new_callback_query_id() -> str:
    return str(secrets.randbelow(10**18))
