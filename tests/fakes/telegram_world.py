"""Everything the fake Telegram remembers: chats, users, messages, memberships, migrations, files, updates.

Access rules follow telegram-bot-api's ``check_chat``/``check_chat_access``: unknown chats are "chat not
found", writing to a group that became a supergroup fails with ``migrate_to_chat_id``, and a bot that was
removed or blocked gets 403 with the same wording per chat type as the real server.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any, Literal

from tests.fakes.telegram_files import FileStore
from tests.fakes.telegram_models import (
    JSON,
    MEMBER_STATUSES,
    Chat,
    User,
    bad_request,
    forbidden,
    to_integer,
)
from tests.fakes.telegram_updates import UpdateQueue

Access = Literal["read", "members", "write"]


def now() -> int:
    return int(time.time())


class World:
    def __init__(self, bot: User, *, privacy_mode: bool) -> None:
        self.lock = threading.RLock()
        self.bot = bot
        self.privacy_mode = privacy_mode
        self.files = FileStore()
        self.updates = UpdateQueue()
        self.sent: list[JSON] = []
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.callback_queries: set[str] = set()
        self._chats: dict[int, Chat] = {}
        self._users: dict[int, User] = {bot.id: bot}
        self._messages: dict[int, dict[int, JSON]] = {}
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._statuses: dict[tuple[int, int], str] = {}
        self._migrated_to: dict[int, int] = {}

    # ---- chats and users -------------------------------------------------------------------------
    def remember_chat(self, chat: Chat) -> None:
        with self.lock:
            self._chats[chat.id] = chat

    def remember_user(self, user: User) -> None:
        with self.lock:
            self._users[user.id] = user

    def chat(self, chat_id: int) -> Chat | None:
        with self.lock:
            return self._chats.get(chat_id)

    def user(self, user_id: int) -> User | None:
        with self.lock:
            return self._users.get(user_id)

    def resolve_chat(self, chat_id_arg: str) -> Chat:
        """The chat a ``chat_id`` parameter names (an id or ``@username``), like the server's check_chat."""
        if not chat_id_arg:
            raise bad_request("chat_id is empty")
        with self.lock:
            if chat_id_arg.startswith("@"):
                wanted = chat_id_arg[1:].lower()
                found = next((c for c in self._chats.values() if (c.username or "").lower() == wanted), None)
            else:
                found = self._chats.get(to_integer(chat_id_arg))
        if found is None:
            raise bad_request("chat not found")
        return found

    def checked_chat(self, chat_id_arg: str, access: Access) -> Chat:
        """The chat, if the bot has the access it needs there; otherwise the error Telegram gives.

        ``read`` is getChat and reactions, ``members`` reading the member list, ``write`` posting, editing
        and deleting. As in telegram-bot-api, a ban always fails, a missing membership fails for writes (and
        for any access in a private supergroup or channel), and only writes to an upgraded group fail.
        """
        chat = self.resolve_chat(chat_id_arg)
        status = self.status(chat.id, self.bot.id)
        if chat.type == "private":
            if status == "kicked" and access == "write":
                raise forbidden("bot was blocked by the user")
        elif chat.type == "group":
            if access != "read":
                self._check_group_membership(chat, status)
        else:
            needs_membership = access != "read" or chat.username is None
            if status == "kicked" or (status == "left" and needs_membership):
                verb = "was kicked from" if status == "kicked" else "is not a member of"
                raise forbidden(f"bot {verb} the {chat.type} chat")
        if access == "write" and chat.type == "channel" and status not in ("administrator", "creator"):
            raise bad_request("need administrator rights in the channel chat")
        return chat

    def _check_group_membership(self, chat: Chat, status: str) -> None:
        with self.lock:
            migrated_to = self._migrated_to.get(chat.id)
        if migrated_to is not None:
            raise bad_request("group chat was upgraded to a supergroup chat", {"migrate_to_chat_id": migrated_to})
        if status == "kicked":
            raise forbidden("bot was kicked from the group chat")
        if status == "left":
            raise forbidden("bot is not a member of the group chat")

    def migrate(self, old: Chat, new: Chat) -> None:
        with self.lock:
            self.remember_chat(new)
            self._migrated_to[old.id] = new.id
            for (chat_id, user_id), status in list(self._statuses.items()):
                if chat_id == old.id:
                    self._statuses[(new.id, user_id)] = status

    # ---- memberships -----------------------------------------------------------------------------
    def set_status(self, chat_id: int, user_id: int, status: str) -> None:
        if status not in MEMBER_STATUSES:
            raise ValueError(f"unknown member status {status!r}")
        with self.lock:
            self._statuses[(chat_id, user_id)] = status

    def status(self, chat_id: int, user_id: int) -> str:
        """An explicit status if one was set; the bot otherwise counts as a member (an admin in channels)."""
        with self.lock:
            explicit = self._statuses.get((chat_id, user_id))
            chat = self._chats.get(chat_id)
        if explicit is not None:
            return explicit
        if user_id == self.bot.id and chat is not None and chat.type == "channel":
            return "administrator"
        in_private_chat = chat is not None and chat.type == "private" and user_id == chat.id
        is_member = user_id == self.bot.id or in_private_chat or self._has_posted(chat_id, user_id)
        return "member" if is_member else "left"

    def statuses_in(self, chat_id: int) -> dict[int, str]:
        with self.lock:
            return {user_id: status for (chat, user_id), status in self._statuses.items() if chat == chat_id}

    def _has_posted(self, chat_id: int, user_id: int) -> bool:
        with self.lock:
            messages = self._messages.get(chat_id, {}).values()
            return any(message.get("from", {}).get("id") == user_id for message in messages)

    # ---- messages --------------------------------------------------------------------------------
    def next_message_id(self, chat_id: int) -> int:
        with self.lock:
            counter = self._message_ids.setdefault(chat_id, itertools.count(1))
            return next(counter)

    def store_message(self, message: JSON) -> None:
        with self.lock:
            self._messages.setdefault(message["chat"]["id"], {})[message["message_id"]] = message

    def last_message_id(self, chat_id: int) -> int | None:
        with self.lock:
            messages = self._messages.get(chat_id)
            return max(messages) if messages else None

    def message(self, chat_id: int, message_id: int) -> JSON | None:
        with self.lock:
            return self._messages.get(chat_id, {}).get(message_id)

    def delete_message(self, chat_id: int, message_id: int) -> None:
        with self.lock:
            self._messages.get(chat_id, {}).pop(message_id, None)

    def record_sent(self, method: str, params: dict[str, Any], message: JSON) -> None:
        with self.lock:
            self.sent.append({**message, "method": method, "params": params})

    def is_bot_message(self, message: JSON) -> bool:
        return bool(message.get("from", {}).get("id") == self.bot.id)

    def require_user(self, user_id: int) -> User:
        user = self.user(user_id)
        if user is None:
            raise bad_request("user not found")
        return user
