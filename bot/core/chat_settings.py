"""/settings: a chat's repost threshold and which kinds of media are called out, shown and changed by admins."""

from __future__ import annotations

from bot.core.ports import ChatStore
from bot.core.results import Audience, SettingsView

_SWITCHES = {"on": True, "off": False, "开": True, "关": False}
_SWITCH_FIELDS = {"stickers": "alert_stickers", "gifs": "alert_animations"}


def parse_settings_args(args: list[str]) -> dict[str, object] | None:
    """`[]` shows; `threshold 93|0.93|default`, `stickers on|off`, `gifs on|off` change; anything else is None."""
    if not args:
        return {}
    if len(args) != 2:
        return None
    name, value = args[0].lower(), args[1].lower()
    if name == "threshold":
        if value == "default":
            return {"repost_threshold": None}
        try:
            number = float(value.rstrip("%"))
        except ValueError:
            return None
        fraction = number / 100 if number > 1 else number
        return {"repost_threshold": fraction} if 0.5 <= fraction <= 1.0 else None
    if name in _SWITCH_FIELDS and value in _SWITCHES:
        return {_SWITCH_FIELDS[name]: _SWITCHES[value]}
    return None


class SettingsService:
    def __init__(self, chats: ChatStore, *, default_threshold: float) -> None:
        self._chats = chats
        self._default_threshold = default_threshold

    async def apply(self, to: Audience, args: list[str]) -> SettingsView:
        """Show the settings, or change them as the typed arguments say; nonsense changes nothing."""
        chat_id = to.chat.id
        changes = parse_settings_args(args)
        if changes is None:
            return SettingsView(to, await self._chats.settings(chat_id), self._default_threshold, invalid=True)
        current = await (self._chats.update_settings(chat_id, **changes) if changes else self._chats.settings(chat_id))
        return SettingsView(to, current, self._default_threshold)
