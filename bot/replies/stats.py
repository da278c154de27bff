"""The /stats and /settings texts."""

from __future__ import annotations

import html
from collections.abc import Sequence

from bot.core.results import ReembedProgress
from bot.replies.format import threshold_percent
from bot.replies.i18n import Lang, names, t
from storage.models import TEXT_KIND, ChatSettings, ChatStats, Job


def _counts(counts: dict[str, int], table: str, lang: Lang) -> str:
    """Counts by internal name (media kind, route), in words of the reader's language."""
    if not counts:
        return t("stats_none", lang)
    words = names(table, lang)
    return ", ".join(f"{html.escape(words.get(k, k))} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def _posters(posters: Sequence[tuple[int | None, str | None, int]], lang: Lang) -> str:
    if not posters:
        return t("stats_none", lang)
    return ", ".join(f"{html.escape(name or str(uid))} ({count})" for uid, name, count in posters)


def number(value: float) -> str:
    """27.0 requests read as 27; a fraction (video requests count in parts) keeps one decimal."""
    return f"{round(value, 1):g}"


def settings_values(settings: ChatSettings, default_threshold: float, lang: Lang) -> dict[str, str]:
    threshold = settings.repost_threshold if settings.repost_threshold is not None else default_threshold
    return {
        "threshold": threshold_percent(threshold),
        "style": t(f"style_{settings.alert_style}", lang),
        "leeway": str(settings.own_repost_hours),
        "stickers": t("on" if settings.alert_stickers else "off", lang),
        "gifs": t("on" if settings.alert_animations else "off", lang),
        "language": t(f"language_{settings.language}", lang),
        "retention": (t("retention_forever", lang) if settings.retention_days is None
                      else t("retention_days", lang, days=settings.retention_days)),
        "texts": t("on" if settings.text_indexing else "off", lang),
    }


def chat_stats_text(title: str, stats: ChatStats, index_size: int, failures: Sequence[Job], lang: Lang,
                    settings: tuple[ChatSettings, float] | None = None,
                    reembedding: ReembedProgress | None = None) -> str:
    body = t(
        "stats_body", lang,
        items=sum(stats.items_by_kind.values()), by_kind=_counts(stats.items_by_kind, "kinds", lang),
        by_route=_counts(stats.items_by_route, "routes", lang), reposts=stats.reposts_called,
        posters=_posters(stats.top_posters, lang), requests=number(stats.api_requests),
        tokens=stats.input_tokens + stats.image_tokens, text_tokens=stats.input_tokens,
        image_tokens=stats.image_tokens, pending=stats.jobs_pending, failed=stats.jobs_failed,
        skipped=stats.skipped_over_cap, index_size=index_size, gone=stats.originals_gone,
    )
    lines = [t("stats_title", lang, chat=html.escape(title)), body]
    if settings is not None:
        lines.append(t("stats_feedback", lang, dismissed=stats.alerts_dismissed, ignored=stats.ignored,
                       reposters=_posters(stats.top_reposters, lang), **settings_values(*settings, lang)))
        lines.append(t("stats_texts", lang, state=t("on" if settings[0].text_indexing else "off", lang),
                       count=stats.items_by_kind.get(TEXT_KIND, 0)))
    if reembedding is not None:
        lines.append(reembedding_text(reembedding, lang))
    if failures:
        lines.append(t("stats_failures", lang))
        lines.extend(f"• #{job.id}: {html.escape((job.error or '')[:120])}" for job in failures)
    return "\n".join(lines)


def reembedding_text(progress: ReembedProgress, lang: Lang) -> str:
    backlog = progress.backlog
    key = "stats_reembedding" if backlog.remaining else "stats_reembedding_kept"
    return t(key, lang, model=html.escape(progress.model), done=backlog.done, total=backlog.total,
             kept=backlog.kept, hours=round(progress.seconds_left / 3600, 1), tokens=progress.tokens_left)


def settings_text(settings: ChatSettings, default_threshold: float, lang: Lang) -> str:
    return t("settings_show", lang,
             default=t("settings_default_mark", lang) if settings.repost_threshold is None else "",
             **settings_values(settings, default_threshold, lang))


def changes_text(settings: ChatSettings, default_threshold: float, changed: Sequence[str], lang: Lang) -> str:
    """What a change did, in words: 'repost threshold 97, alert style reaction'."""
    values = settings_values(settings, default_threshold, lang)
    shown = {"repost_threshold": f"{values['threshold']}%", "alert_style": values["style"],
             "own_repost_hours": values["leeway"], "alert_stickers": values["stickers"],
             "alert_animations": values["gifs"], "language": values["language"],
             "retention_days": values["retention"], "text_indexing": values["texts"]}
    return t("settings_changed", lang, what=", ".join(t(f"field_{name}", lang, value=shown[name]) for name in changed))
