"""Inline buttons: their labels, and the callback data that comes back when one is pressed.

Data is at most 64 bytes and names things, never state: `a:<verb>:<new item id>:<original item id>` under an alert,
`s:<setting>:<value>` under /settings (the typed form's names, so a press and a command parse alike),
`m:<question token>:<page>` under /similar and /search results, `texts:delete` under /settings when text indexing
was just turned off. Other features use their own prefixes.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.types import ButtonOut
from bot.replies.i18n import Lang, t
from storage.models import ChatSettings

ALERT_PREFIX = "a:"
SETTINGS_PREFIX = "s:"
MORE_PREFIX = "m:"
DELETE_TEXTS = "texts:delete"
NOT_A_REPOST = "n"
IGNORE = "i"
PRESET_THRESHOLDS = (("btn_strict", 97), ("btn_normal", 95), ("btn_loose", 90))
LEEWAY_CHOICES = (0, 24, 72)
STYLES = ("reply", "reaction", "off")
LANGUAGES = ("auto", "en", "zh")
CHOSEN = "✓ "

Rows = tuple[tuple[ButtonOut, ...], ...]


@dataclass(frozen=True)
class AlertPress:
    verb: str
    new_item_id: int
    earlier_item_id: int


@dataclass(frozen=True)
class SettingsPress:
    verb: str
    value: str


def alert_buttons(new_item_id: int, earlier_item_id: int, lang: Lang, *, message: bool = False) -> Rows:
    """`message`: the alert is copypasta, so the original to ignore is a message, not a picture."""
    pair = f"{new_item_id}:{earlier_item_id}"
    return ((ButtonOut(t("btn_not_repost", lang), f"{ALERT_PREFIX}{NOT_A_REPOST}:{pair}"),
             ButtonOut(t("btn_ignore_message" if message else "btn_ignore", lang), f"{ALERT_PREFIX}{IGNORE}:{pair}")),)


def parse_alert_press(data: str) -> AlertPress | None:
    parts = data.removeprefix(ALERT_PREFIX).split(":")
    if len(parts) != 3 or parts[0] not in (NOT_A_REPOST, IGNORE) or not all(p.isdigit() for p in parts[1:]):
        return None
    return AlertPress(parts[0], int(parts[1]), int(parts[2]))


def more_button(token: str, page: int, lang: Lang) -> Rows:
    return ((ButtonOut(t("btn_more", lang), f"{MORE_PREFIX}{token}:{page}"),),)


def parse_more_press(data: str) -> tuple[str, int] | None:
    token, _, page = data.removeprefix(MORE_PREFIX).rpartition(":")
    return (token, int(page)) if token and page.isdigit() else None


def parse_settings_press(data: str) -> SettingsPress | None:
    verb, _, value = data.removeprefix(SETTINGS_PREFIX).partition(":")
    return SettingsPress(verb, value) if verb else None


def _button(label: str, verb: str, value: object, chosen: bool = False) -> ButtonOut:
    return ButtonOut(f"{CHOSEN if chosen else ''}{label}", f"{SETTINGS_PREFIX}{verb}:{value}")


def settings_buttons(settings: ChatSettings, threshold: float, ignored: int, lang: Lang) -> Rows:
    """Presets, alert style, leeway, sticker/GIF/text switches, language, the ignore list; the current choice
    ticked."""
    on_off = {True: "off", False: "on"}  # a switch offers the other state
    return (
        tuple(_button(t(key, lang), "threshold", value, round(threshold * 100) == value)
              for key, value in PRESET_THRESHOLDS),
        tuple(_button(t(f"btn_style_{style}", lang), "alert", style, settings.alert_style == style)
              for style in STYLES),
        tuple(_button(t("btn_leeway", lang, hours=hours), "leeway", hours, settings.own_repost_hours == hours)
              for hours in LEEWAY_CHOICES),
        (_button(t("btn_stickers", lang, value=t("on" if settings.alert_stickers else "off", lang)), "stickers",
                 on_off[settings.alert_stickers]),
         _button(t("btn_gifs", lang, value=t("on" if settings.alert_animations else "off", lang)), "gifs",
                 on_off[settings.alert_animations]),
         _button(t("btn_texts", lang, value=t("on" if settings.text_indexing else "off", lang)), "text",
                 on_off[settings.text_indexing])),
        tuple(_button(t(f"language_{code}", lang), "language", code, settings.language == code)
              for code in LANGUAGES),
        (_button(t("btn_lists", lang, count=ignored), "lists", ""),),
    )


def delete_texts_button(count: int, lang: Lang) -> tuple[ButtonOut, ...]:
    return (ButtonOut(t("texts_delete_button", lang, count=count), DELETE_TEXTS),)


def apply_button(threshold_percent: str, lang: Lang) -> Rows:
    return ((_button(t("btn_apply", lang, value=threshold_percent), "threshold", threshold_percent),),)


def undo_rows(ignored_ids: list[int], dismissal_ids: list[int], lang: Lang) -> Rows:
    """One undo button per entry (numbered as in the text), then the way back to the settings."""
    undo = [_button(t("btn_undo", lang, n=n), "unignore", entry) for n, entry in enumerate(ignored_ids, 1)]
    undo += [_button(t("btn_undo", lang, n=n), "undismiss", entry)
             for n, entry in enumerate(dismissal_ids, len(ignored_ids) + 1)]
    rows = tuple(tuple(undo[i:i + 4]) for i in range(0, len(undo), 4))
    return (*rows, (_button(t("btn_back", lang), "view", ""),))
