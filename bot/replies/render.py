"""Every decision of the core turned into the message that carries it: one renderer per decision type.

This is the presenter handed to the core (bot.core.delivery.Presenter); handlers use it too, so a command's answer
and a worker's notice are worded in one place.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from bot.core.results import (
    AlbumReposts,
    Audience,
    Borderline,
    ChatLists,
    CommandFailed,
    ConfirmationAsked,
    Decision,
    FirstSeen,
    Forgotten,
    Greeting,
    Hit,
    ItemFailed,
    Matches,
    NoMatches,
    NotAllowed,
    NothingStored,
    NotYours,
    OperatorAlert,
    PersonalData,
    PressAnswer,
    PrivacyNotice,
    Purged,
    QueuedWhilePaused,
    Report,
    RepostFound,
    ResultsExpired,
    SettingsView,
    TextsDeleted,
    ThresholdPreview,
)
from bot.core.types import ChatRef, Outgoing
from bot.replies import buttons, privacy
from bot.replies import format as fmt
from bot.replies.failures import failure_text
from bot.replies.i18n import Lang, language_of, names, t
from bot.replies.stats import changes_text, chat_stats_text, settings_text
from storage.models import TEXT_KIND

COMMAND_PROBLEM_KEYS = {"slow": "command_slow", "account": "command_account"}
OPERATOR_PAUSE_KEYS = {"DimensionMismatch": "operator_dimension"}
"""Pause causes with their own explanation for operators; every other code is an account problem."""


def _lang(to: Audience) -> Lang:
    return language_of(to.language)


def _text(to: Audience, text_html: str) -> Outgoing:
    return fmt.text_reply(to.chat.id, to.reply_to, text_html)


REPOST_REACTION = "👀"
"""The quiet alert: Telegram lets bots react only with its standard set, which has no 🔁; 👀 reads 'seen this'."""


def _repost(decision: RepostFound) -> Outgoing:
    to = decision.to
    if decision.style == "reaction":
        return Outgoing(chat_id=to.chat.id, reply_to=_reply_to(to), reaction=REPOST_REACTION)
    lang = _lang(to)
    return fmt.repost_alert(to.chat, _reply_to(to), decision.hit, lang,
                            buttons.alert_buttons(decision.item_id, decision.hit.item.id, lang,
                                                  message=decision.hit.item.kind == TEXT_KIND))


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
    more = () if decision.more is None else buttons.more_button(*decision.more, lang)
    return fmt.matches_reply(decision.to.chat, decision.to.reply_to, decision.hits, header, lang, more)


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
                             None if chat.settings is None else (chat.settings, chat.default_threshold),
                             chat.reembedding) for chat in decision.chats]
    if decision.overview:
        parts.insert(0, t("stats_overview_title", lang, count=len(decision.chats)))
    return _text(decision.to, "\n\n".join(parts))


SETTINGS_PROBLEM_KEYS = {"unknown": "settings_usage", "threshold_range": "settings_threshold_range",
                         "leeway_range": "settings_leeway_range", "retention_range": "settings_retention_range"}


def _settings(decision: SettingsView) -> Outgoing:
    to, lang = decision.to, _lang(decision.to)
    if decision.problem is not None:
        return _text(to, t(SETTINGS_PROBLEM_KEYS[decision.problem], lang))
    text = settings_text(decision.settings, decision.default_threshold, lang)
    if decision.changed:
        text = f"{changes_text(decision.settings, decision.default_threshold, decision.changed, lang)}\n\n{text}"
    threshold = decision.settings.repost_threshold
    rows = buttons.settings_buttons(decision.settings, decision.default_threshold if threshold is None else threshold,
                                    decision.ignored, lang)
    if decision.texts_to_delete:
        text = f"{text}\n\n{t('texts_delete_offer', lang, count=decision.texts_to_delete)}"
        rows = (buttons.delete_texts_button(decision.texts_to_delete, lang), *rows)
    return Outgoing(chat_id=to.chat.id, reply_to=None if decision.edit else to.reply_to, text_html=text,
                    buttons=rows, edit=decision.edit)


def _pair_line(chat: ChatRef, pair: Borderline, proposed: float, lang: Lang) -> str:
    link, link2 = fmt.link_html(chat, pair.item, lang), fmt.link_html(chat, pair.earlier, lang)
    same_file = pair.item.file_unique_id == pair.earlier.file_unique_id
    score = fmt.score_text(Hit(pair.earlier, pair.score, identical=same_file), lang)
    return t("preview_pair", lang, score=score, mark="✓" if pair.score >= proposed else "✗",
             who=fmt.who(pair.item, lang), when=fmt.when(pair.item.date), link=link,
             who2=fmt.who(pair.earlier, lang), when2=fmt.when(pair.earlier.date), link2=link2)


def _preview(decision: ThresholdPreview) -> Outgoing:
    """Counts at both thresholds, the borderline pairs with their scores and links, and the button that applies."""
    lang, to = _lang(decision.to), decision.to
    proposed, current = fmt.threshold_percent(decision.proposed), fmt.threshold_percent(decision.current)
    lines = [t("preview", lang, proposed=proposed, current=current, measured=decision.measured, days=decision.days,
               would=decision.would_alert, now=decision.alerts_now)]
    if decision.borderline:
        lines.append(t("preview_pairs", lang, proposed=proposed))
        lines.extend(_pair_line(to.chat, pair, decision.proposed, lang) for pair in decision.borderline)
    elif not decision.measured:
        lines.append(t("preview_none", lang))
    return Outgoing(chat_id=to.chat.id, reply_to=to.reply_to, text_html="\n".join(lines),
                    buttons=buttons.apply_button(proposed, lang))


def _lists(decision: ChatLists) -> Outgoing:
    """The ignore list and the dismissed pairs, numbered, with one undo button per entry."""
    lang, to = _lang(decision.to), decision.to
    kinds = names("kinds", lang)
    lines = [t("lists_title", lang, count=len(decision.ignored))]
    lines += [t("lists_ignored", lang, n=n, kind=kinds.get(entry.kind, entry.kind), who=_name(entry.by_name, lang),
                when=fmt.when(entry.at)) for n, entry in enumerate(decision.ignored, 1)]
    lines.append(t("lists_dismissed_title", lang, count=len(decision.dismissals)))
    lines += [t("lists_dismissed", lang, n=n, who=_name(entry.by_name, lang), when=fmt.when(entry.at))
              for n, entry in enumerate(decision.dismissals, len(decision.ignored) + 1)]
    rows = buttons.undo_rows([e.id for e in decision.ignored], [d.id for d in decision.dismissals], lang)
    return Outgoing(chat_id=to.chat.id, reply_to=None if decision.edit else to.reply_to, text_html="\n".join(lines),
                    buttons=rows, edit=decision.edit)


def _name(name: str | None, lang: Lang) -> str:
    return html.escape(name) if name else t("unknown_sender", lang)


PRESS_TOASTS = {"dismissed": "toast_dismissed", "ignored": "toast_ignored", "already_ignored": "toast_already_ignored",
                "refused": "toast_refused", "not_admin": "toast_not_admin", "gone": "toast_gone"}
ALERT_NOTES = {"dismissed": "alert_dismissed", "ignored": "alert_ignored"}


def press_toast(answer: PressAnswer) -> str:
    return t(PRESS_TOASTS[answer.verdict], language_of(answer.presser_language))


def settings_toast(decision: SettingsView | ChatLists) -> str | None:
    """What a settings button did, in a toast: the change, or why nothing changed; opening a list needs none."""
    if not isinstance(decision, SettingsView):
        return None
    lang = _lang(decision.to)
    if decision.changed:
        return changes_text(decision.settings, decision.default_threshold, decision.changed, lang)
    return None if decision.problem is None else t(SETTINGS_PROBLEM_KEYS[decision.problem], lang)


def press_edit(answer: PressAnswer) -> Outgoing | None:
    """A dismissed or ignored alert keeps its evidence, says who acted, and loses its buttons."""
    note_key = ALERT_NOTES.get(answer.verdict)
    if note_key is None or answer.alert is None or answer.hit is None:
        return None
    chat, lang = answer.alert.chat, _lang(answer.alert)
    text = f"{fmt.repost_text(chat, answer.hit, lang)}\n{t(note_key, lang, who=_name(answer.by, lang))}"
    return Outgoing(chat_id=chat.id, text_html=text, media=fmt.alert_media(chat, answer.hit),
                    edit=answer.alert.reply_to)


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
    ThresholdPreview: _preview,
    ChatLists: _lists,
    TextsDeleted: lambda d: _text(d.to, t("texts_deleted", _lang(d.to), count=d.count)),
    NotAllowed: lambda d: _text(d.to, t("not_admin", _lang(d.to))),
    NotYours: lambda d: _text(d.to, t("forget_not_yours", _lang(d.to))),
    NothingStored: lambda d: _text(d.to, t("forget_nothing", _lang(d.to))),
    ConfirmationAsked: privacy.confirmation,
    Forgotten: privacy.forgotten,
    Purged: privacy.purged,
    PersonalData: privacy.personal_data,
    PrivacyNotice: privacy.privacy_notice,
    ResultsExpired: lambda d: _text(d.to, t("results_expired", _lang(d.to))),
    Greeting: lambda d: _text(d.to, t("greeting", _lang(d.to), sight=t(
        "greeting_sees" if d.sees_media else "greeting_blind", _lang(d.to)))),
}


def render(decision: Decision) -> Outgoing:
    return _RENDERERS[type(decision)](decision)


def plain(to: Audience, key: str) -> Outgoing:
    """A fixed sentence (help, usage, unsupported media) in the asker's language."""
    return _text(to, t(key, _lang(to)))
