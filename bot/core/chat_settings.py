"""/settings: a chat's repost threshold, which kinds of media are called out, and how long items are kept; shown and
changed by admins."""

from __future__ import annotations

from bot.core.ports import ChatStore
from bot.core.results import Audience, SettingsView

_SWITCHES = {"on": True, "off": False, "开": True, "关": False}
_SWITCH_FIELDS = {"stickers": "alert_stickers", "gifs": "alert_animations"}
_KEEP_FOREVER = frozenset({"off", "关", "forever"})
MAX_RETENTION_DAYS = 36500


def parse_settings_args(args: list[str]) -> dict[str, object] | None:
    """`[]` shows; `threshold 93|0.93|default`, `stickers on|off`, `gifs on|off`, `retention 365|off` change;
    anything else is None."""
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
    if name == "retention":
        return _retention(value)
    if name in _SWITCH_FIELDS and value in _SWITCHES:
        return {_SWITCH_FIELDS[name]: _SWITCHES[value]}
    return None


def _retention(value: str) -> dict[str, object] | None:
    """Whole days from 1 to 100 years, or `off` (keep forever)."""
    if value in _KEEP_FOREVER:
        return {"retention_days": None}
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_RETENTION_DAYS:
        return None
    return {"retention_days": int(value)}


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
