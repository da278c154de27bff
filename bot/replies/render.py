"""Every decision of the core turned into the message that carries it: one renderer per decision type.

This is the presenter handed to the core (bot.core.delivery.Presenter); handlers use it too, so a command's answer
and a worker's notice are worded in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.core.results import (
    AlbumReposts,
    Audience,
    CommandFailed,
    ConfirmationAsked,
    Decision,
    FirstSeen,
    Forgotten,
    ItemFailed,
    Matches,
    NoMatches,
    NotAllowed,
    NothingStored,
    NotYours,
    OperatorAlert,
    PersonalData,
    PrivacyNotice,
    Purged,
    QueuedWhilePaused,
    Report,
    RepostFound,
    SettingsView,
)
from bot.core.types import Outgoing
from bot.replies import format as fmt
from bot.replies import privacy
from bot.replies.failures import failure_text
from bot.replies.i18n import Lang, language_of, t
from bot.replies.stats import chat_stats_text, settings_text

COMMAND_PROBLEM_KEYS = {"slow": "command_slow", "account": "command_account"}
OPERATOR_PAUSE_KEYS = {"DimensionMismatch": "operator_dimension"}
"""Pause causes with their own explanation for operators; every other code is an account problem."""


def _lang(to: Audience) -> Lang:
    return language_of(to.language)


def _text(to: Audience, text_html: str) -> Outgoing:
    return fmt.text_reply(to.chat.id, to.reply_to, text_html)


def _repost(decision: RepostFound) -> Outgoing:
    return fmt.repost_alert(decision.to.chat, _reply_to(decision.to), decision.hit, _lang(decision.to))


def _album(decision: AlbumReposts) -> Outgoing:
    return fmt.album_repost_alert(decision.to.chat, _reply_to(decision.to), decision.reposts, _lang(decision.to))


def _reply_to(to: Audience) -> int:
    if to.reply_to is None:
        raise ValueError("an alert answers a message")
    return to.reply_to


def _matches(decision: Matches) -> Outgoing:
    lang = _lang(decision.to)
    header = (t("matches_header", lang) if decision.query is None
              else t("search_header", lang, query=fmt.escape_query(decision.query)))
    return fmt.matches_reply(decision.to.chat, decision.to.reply_to, decision.hits, header, lang)


def _no_matches(decision: NoMatches) -> Outgoing:
    lang = _lang(decision.to)
    if decision.query is None:
        return _text(decision.to, t("similar_none", lang))
    return _text(decision.to, t("search_none", lang, query=fmt.escape_query(decision.query)))


def _command_failed(decision: CommandFailed) -> Outgoing:
    return _text(decision.to, t(COMMAND_PROBLEM_KEYS[decision.problem], _lang(decision.to)))


def _operator_alert(decision: OperatorAlert) -> Outgoing:
    text = (t("operator_resumed", "en") if decision.paused_code is None
            else t(OPERATOR_PAUSE_KEYS.get(decision.paused_code, "operator_auth"), "en", code=decision.paused_code))
    return Outgoing(chat_id=decision.operator_id, text_html=text)


def _report(decision: Report) -> Outgoing:
    lang = _lang(decision.to)
    parts = [chat_stats_text(chat.title, chat.stats, chat.index_size, chat.failures, lang,
                             chat.reembedding) for chat in decision.chats]
    if decision.overview:
        parts.insert(0, t("stats_overview_title", lang, count=len(decision.chats)))
    return _text(decision.to, "\n\n".join(parts))


def _settings(decision: SettingsView) -> Outgoing:
    lang = _lang(decision.to)
    if decision.invalid:
        return _text(decision.to, t("settings_usage", lang))
    return _text(decision.to, settings_text(decision.settings, decision.default_threshold, lang))


_RENDERERS: dict[type[Any], Callable[[Any], Outgoing]] = {
    RepostFound: _repost,
    AlbumReposts: _album,
    FirstSeen: lambda d: _text(d.to, t("first_seen", _lang(d.to))),
    Matches: _matches,
    NoMatches: _no_matches,
    ItemFailed: lambda d: _text(d.to, failure_text(d.failure, _lang(d.to))),
    CommandFailed: _command_failed,
    QueuedWhilePaused: lambda d: _text(d.to, t("queued_paused", _lang(d.to))),
    OperatorAlert: _operator_alert,
    Report: _report,
    SettingsView: _settings,
    NotAllowed: lambda d: _text(d.to, t("not_admin", _lang(d.to))),
    NotYours: lambda d: _text(d.to, t("forget_not_yours", _lang(d.to))),
    NothingStored: lambda d: _text(d.to, t("forget_nothing", _lang(d.to))),
    ConfirmationAsked: privacy.confirmation,
    Forgotten: privacy.forgotten,
    Purged: privacy.purged,
    PersonalData: privacy.personal_data,
    PrivacyNotice: privacy.privacy_notice,
}


def render(decision: Decision) -> Outgoing:
    return _RENDERERS[type(decision)](decision)


def plain(to: Audience, key: str) -> Outgoing:
    """A fixed sentence (help, usage, unsupported media) in the asker's language."""
    return _text(to, t(key, _lang(to)))
