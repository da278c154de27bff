"""Bot API methods about chats and their members: getChat, getChatMember, getChatAdministrators,
leaveChat, answerCallbackQuery.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from tests.fakes.telegram_members import member_object
from tests.fakes.telegram_models import JSON, bad_request
from tests.fakes.telegram_wire import Call
from tests.fakes.telegram_world import World

_ADMIN_STATUSES: Final = ("creator", "administrator")
# ChatFullInfo fields python-telegram-bot 22 requires; the values are those of an ordinary chat.
_FULL_INFO_DEFAULTS: Final = {
    "accent_color_id": 0,
    "max_reaction_count": 11,
    "accepted_gift_types": {
        "unlimited_gifts": False,
        "limited_gifts": False,
        "unique_gifts": False,
        "premium_subscription": False,
        "gifts_from_channels": False,
    },
}


class ChatMethods:
    def __init__(self, world: World) -> None:
        self.world = world

    def handlers(self) -> dict[str, Callable[[Call], Any]]:
        return {
            "getChat": self.get_chat,
            "getChatMember": self.get_chat_member,
            "getChatAdministrators": self.get_chat_administrators,
            "leaveChat": self.leave_chat,
            "answerCallbackQuery": self.answer_callback_query,
        }

    def get_chat(self, call: Call) -> JSON:
        chat = self.world.checked_chat(call.arg("chat_id"), "read")
        return {**chat.to_dict(), **_FULL_INFO_DEFAULTS}

    def get_chat_member(self, call: Call) -> JSON:
        chat = self.world.checked_chat(call.arg("chat_id"), "members")
        user_id = call.int_arg("user_id")
        if user_id <= 0:
            raise bad_request("invalid user_id specified")
        user = self.world.require_user(user_id)
        return member_object(user.to_dict(), self.world.status(chat.id, user_id), chat.type)

    def get_chat_administrators(self, call: Call) -> list[JSON]:
        chat = self.world.checked_chat(call.arg("chat_id"), "members")
        if chat.type == "private":
            raise bad_request("there are no administrators in the private chat")
        candidates = {*self.world.statuses_in(chat.id), self.world.bot.id}
        administrators = []
        for user_id in sorted(candidates):
            status = self.world.status(chat.id, user_id)
            user = self.world.user(user_id)
            if status in _ADMIN_STATUSES and user is not None:
                administrators.append(member_object(user.to_dict(), status, chat.type))
        return administrators

    def leave_chat(self, call: Call) -> bool:
        chat = self.world.checked_chat(call.arg("chat_id"), "read")
        if chat.type == "private":
            raise bad_request("chat member status can't be changed in private chats")
        self.world.set_status(chat.id, self.world.bot.id, "left")
        return True

    def answer_callback_query(self, call: Call) -> bool:
        query_id = call.arg("callback_query_id")
        with self.world.lock:
            if query_id not in self.world.callback_queries:
                raise bad_request("query is too old and response timeout expired or query ID is invalid")
            self.world.callback_queries.discard(query_id)
        return True
