"""Bot API methods about the bot itself: getMe, getUpdates and webhooks, getFile, and the command menu."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from tests.fakes.telegram_files import MAX_CLOUD_DOWNLOAD
from tests.fakes.telegram_models import JSON, bad_request
from tests.fakes.telegram_updates import MAX_LONG_POLL_TIMEOUT
from tests.fakes.telegram_wire import Call
from tests.fakes.telegram_world import World

MAX_COMMANDS: Final = 100
_COMMAND: Final = re.compile(r"[a-z0-9_]{1,32}")
_LANGUAGE: Final = re.compile(r"[a-z]{2}")
_GLOBAL_SCOPES: Final = frozenset({"default", "all_private_chats", "all_group_chats", "all_chat_administrators"})
_CHAT_SCOPES: Final = frozenset({"chat", "chat_administrators", "chat_member"})


def scope_key(world: World, scope: Any) -> str:
    """A stable key for a BotCommandScope; chat scopes must name a chat the bot knows, as in Telegram."""
    if scope is None:
        return "default"
    if not isinstance(scope, dict):
        raise bad_request("can't parse BotCommandScope: BotCommandScope must be an Object")
    kind = scope.get("type")
    if kind in _GLOBAL_SCOPES:
        return str(kind)
    if kind not in _CHAT_SCOPES:
        raise bad_request("can't parse BotCommandScope: Unsupported type specified")
    chat_id = scope.get("chat_id")
    if chat_id in (None, ""):
        raise bad_request("can't parse BotCommandScope: Empty chat_id specified")
    chat = world.resolve_chat(str(chat_id))
    if kind != "chat_member":
        return f"{kind}:{chat.id}"
    user_id = scope.get("user_id")
    if not isinstance(user_id, int) or user_id <= 0:
        raise bad_request("can't parse BotCommandScope: Invalid user_id specified")
    return f"{kind}:{chat.id}:{user_id}"


class BotMethods:
    def __init__(self, world: World, *, local_mode: bool) -> None:
        self.world = world
        self.local_mode = local_mode

    def handlers(self) -> dict[str, Callable[[Call], Any]]:
        return {
            "getMe": self.get_me,
            "getUpdates": self.get_updates,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "getFile": self.get_file,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
        }

    def get_me(self, call: Call) -> JSON:
        return {
            **self.world.bot.to_dict(),
            "can_join_groups": True,
            "can_read_all_group_messages": not self.world.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    # ---- updates ---------------------------------------------------------------------------------
    def get_updates(self, call: Call) -> list[JSON]:
        updates = self.world.updates
        updates.set_allowed(call.arg("allowed_updates"))
        return updates.poll(
            offset=call.int_arg("offset"),
            limit=call.int_arg("limit", default=100, minimum=1, maximum=100),
            timeout=call.int_arg("timeout", minimum=0, maximum=MAX_LONG_POLL_TIMEOUT),
        )

    def set_webhook(self, call: Call) -> bool:
        url = call.arg("url")
        if url and not url.startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        return self._change_webhook(call, url)

    def delete_webhook(self, call: Call) -> bool:
        return self._change_webhook(call, "")

    def _change_webhook(self, call: Call, url: str) -> bool:
        updates = self.world.updates
        if call.bool_arg("drop_pending_updates"):
            updates.drop_pending()
        updates.set_allowed(call.arg("allowed_updates"))
        updates.set_webhook(url)
        return True

    def get_webhook_info(self, call: Call) -> JSON:
        updates = self.world.updates
        return {
            "url": updates.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(updates.pending()),
        }

    # ---- files -----------------------------------------------------------------------------------
    def get_file(self, call: Call) -> JSON:
        file_id = call.arg("file_id")
        if not file_id:
            raise bad_request("file_id not specified")
        stored = self.world.files.get(file_id)
        if stored is None:
            raise bad_request("invalid file_id")
        if self.local_mode:
            path = self.world.files.local_copy(stored)
        elif stored.file_size > MAX_CLOUD_DOWNLOAD:
            raise bad_request("file is too big")
        else:
            path = stored.file_path
        return {**stored.ids(), "file_path": path}

    # ---- commands --------------------------------------------------------------------------------
    def _command_key(self, call: Call) -> tuple[str, str]:
        scope = scope_key(self.world, call.json_arg("scope", "BotCommandScope"))
        language = call.arg("language_code")
        if language and not _LANGUAGE.fullmatch(language):
            raise bad_request("LANG_CODE_INVALID")
        return scope, language

    def set_my_commands(self, call: Call) -> bool:
        commands = _parse_commands(call.json_arg("commands", "commands"))
        key = self._command_key(call)
        with self.world.lock:
            if commands:
                self.world.commands[key] = commands
            else:
                self.world.commands.pop(key, None)
        return True

    def get_my_commands(self, call: Call) -> list[JSON]:
        key = self._command_key(call)
        with self.world.lock:
            return list(self.world.commands.get(key, []))

    def delete_my_commands(self, call: Call) -> bool:
        key = self._command_key(call)
        with self.world.lock:
            self.world.commands.pop(key, None)
        return True


def _parse_commands(raw: Any) -> list[JSON]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise bad_request("expected an Array of BotCommand")
    commands = []
    for item in raw:
        if not isinstance(item, dict):
            raise bad_request("can't parse BotCommand: expected an Object")
        for field in ("command", "description"):
            if not isinstance(item.get(field), str):
                raise bad_request(f'can\'t parse BotCommand: Field "{field}" must be of type String')
        commands.append({"command": item["command"], "description": item["description"]})
    if len(commands) > MAX_COMMANDS:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    for command in commands:
        if not _COMMAND.fullmatch(command["command"]):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(command["description"].strip()) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    return commands
