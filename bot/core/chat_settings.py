"""/settings: how a chat is alerted, how long it keeps its items and whether its text messages are indexed, shown and
changed by admins, typed or by buttons.

A typed threshold is not applied at once: it answers with a preview of what it would do (bot.core.calibration)
and a button applies it. Every other change applies at once and says what changed. Turning text indexing off offers
to delete the messages stored meanwhile (a button, for admins).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from typing import Any

from bot.core.calibration import Calibration
from bot.core.ports import ChatStore, FeedbackStore, ItemStore
from bot.core.results import Audience, ChatLists, Decision, SettingsProblem, SettingsView, TextsDeleted
from storage.models import TEXT_KIND, ChatSettings

MIN_THRESHOLD_PERCENT = 50
MAX_THRESHOLD_PERCENT = 100
MAX_LEEWAY_HOURS = 24 * 30
_SWITCHES = {"on": True, "off": False, "开": True, "关": False}
_SWITCH_FIELDS = {"stickers": "alert_stickers", "gifs": "alert_animations", "text": "text_indexing"}
_KEEP_FOREVER = frozenset({"off", "关", "forever"})
MAX_RETENTION_DAYS = 36500


_CHOICES = {"alert": ("alert_style", ("reply", "reaction", "off")), "language": ("language", ("auto", "en", "zh"))}


@dataclass(frozen=True)
class Parsed:
    """What typed or pressed arguments ask for: changes to apply, a threshold to preview, or a problem."""

    changes: dict[str, Any]
    preview: float | None = None
    problem: SettingsProblem | None = None


def _threshold(value: str, *, preview: bool) -> Parsed:
    if value == "default":
        return Parsed({"repost_threshold": None})
    try:
        number = float(value.rstrip("%"))
    except ValueError:
        return Parsed({}, problem="threshold_range")
    percent = number * 100 if number <= 1 else number  # 0.93 and 93 both mean 93 %
    if not MIN_THRESHOLD_PERCENT <= percent <= MAX_THRESHOLD_PERCENT:
        return Parsed({}, problem="threshold_range")
    fraction = round(percent / 100, 4)
    return Parsed({}, preview=fraction) if preview else Parsed({"repost_threshold": fraction})


def _leeway(value: str) -> Parsed:
    hours = value.lower().removesuffix("h")
    if not hours.isdigit() or int(hours) > MAX_LEEWAY_HOURS:
        return Parsed({}, problem="leeway_range")
    return Parsed({"own_repost_hours": int(hours)})


def _retention(value: str) -> Parsed:
    """Whole days from 1 to 100 years, or `off` (keep forever)."""
    if value in _KEEP_FOREVER:
        return Parsed({"retention_days": None})
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_RETENTION_DAYS:
        return Parsed({}, problem="retention_range")
    return Parsed({"retention_days": int(value)})


def parse_settings_args(args: list[str], *, preview_threshold: bool = True) -> Parsed:
    """`[]` shows; `threshold 93|0.93|default`, `stickers on|off`, `gifs on|off`, `alert reply|reaction|off`,
    `leeway 24`, `language auto|en|zh`, `retention 365|off`, `text on|off` change."""
    if not args:
        return Parsed({})
    if len(args) != 2:
        return Parsed({}, problem="unknown")
    name, value = args[0].lower(), args[1].lower()
    if name == "threshold":
        return _threshold(value, preview=preview_threshold)
    if name == "leeway":
        return _leeway(value)
    if name == "retention":
        return _retention(value)
    if name in _SWITCH_FIELDS and value in _SWITCHES:
        return Parsed({_SWITCH_FIELDS[name]: _SWITCHES[value]})
    if name in _CHOICES and value in _CHOICES[name][1]:
        return Parsed({_CHOICES[name][0]: value})
    return Parsed({}, problem="unknown")


def changed_fields(before: ChatSettings, after: ChatSettings) -> tuple[str, ...]:
    return tuple(f.name for f in fields(ChatSettings) if getattr(before, f.name) != getattr(after, f.name))


class SettingsService:
    def __init__(self, chats: ChatStore, feedback: FeedbackStore, calibration: Calibration, items: ItemStore, *,
                 default_threshold: float) -> None:
        self._chats = chats
        self._items = items
        self._feedback = feedback
        self._calibration = calibration
        self._default_threshold = default_threshold

    async def apply(self, to: Audience, args: list[str]) -> Decision:
        """Show the settings, preview a threshold, or change them as the typed arguments say; nonsense changes
        nothing and says what is valid."""
        parsed = parse_settings_args(args)
        if parsed.preview is not None:
            return await self._calibration.preview(to, parsed.preview)
        return await self._change(to, parsed, edit=None)

    async def press(self, to: Audience, message_id: int, verb: str, value: str) -> SettingsView | ChatLists:
        """A button on a settings message: the same names as the typed form (`threshold 97`, `alert reaction`);
        `lists` shows the ignore list, `unignore`/`undismiss` undo one entry, `view` goes back."""
        chat_id = to.chat.id
        if verb == "unignore" and value.isdigit():
            await self._feedback.unignore(chat_id, int(value))
            return await self.lists(to, message_id)
        if verb == "undismiss" and value.isdigit():
            await self._feedback.undo_dismissal(chat_id, int(value))
            return await self.lists(to, message_id)
        if verb == "lists":
            return await self.lists(to, message_id)
        if verb == "view":
            return await self._view(to, await self._chats.settings(chat_id), edit=message_id)
        return await self._change(to, parse_settings_args([verb, value], preview_threshold=False), edit=message_id)

    async def lists(self, to: Audience, message_id: int | None) -> ChatLists:
        chat_id = to.chat.id
        return ChatLists(to, await self._feedback.ignored(chat_id), await self._feedback.dismissals(chat_id),
                         edit=message_id)

    async def _change(self, to: Audience, parsed: Parsed, *, edit: int | None) -> SettingsView:
        chat_id = to.chat.id
        before = await self._chats.settings(chat_id)
        if parsed.problem is not None or not parsed.changes:
            return await self._view(to, before, problem=parsed.problem, edit=edit)
        after = await self._chats.update_settings(chat_id, **parsed.changes)
        texts_off = before.text_indexing and not after.text_indexing
        stored = await self._items.count_kind(chat_id, TEXT_KIND) if texts_off else 0
        return await self._view(to, after, changed=changed_fields(before, after), edit=edit, texts_to_delete=stored)

    async def _view(self, to: Audience, settings: ChatSettings, *, edit: int | None,
                    problem: SettingsProblem | None = None, changed: tuple[str, ...] = (),
                    texts_to_delete: int = 0) -> SettingsView:
        ignored = len(await self._feedback.ignored(to.chat.id))
        return SettingsView(to, settings, self._default_threshold, problem=problem, changed=changed, edit=edit,
                            ignored=ignored, texts_to_delete=texts_to_delete)

    async def delete_texts(self, to: Audience) -> TextsDeleted:
        """The chat's stored messages are forgotten as /forget would (every trace, and a tombstone so that a replay or
        an edit never brings one back); media items stay."""
        texts = await self._items.of_kind(to.chat.id, TEXT_KIND)
        return TextsDeleted(to, await self._items.forget(texts, now=int(time.time())))
