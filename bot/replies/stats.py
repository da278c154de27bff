"""The /stats and /settings texts."""

from __future__ import annotations

import html
from collections.abc import Sequence

from bot.core.results import ReembedProgress
from bot.replies.i18n import Lang, t
from storage.models import ChatSettings, ChatStats, Job


def _counts(counts: dict[str, int], lang: Lang) -> str:
    if not counts:
        return t("stats_none", lang)
    return ", ".join(f"{html.escape(k)} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def _posters(posters: Sequence[tuple[int | None, str | None, int]], lang: Lang) -> str:
    if not posters:
        return t("stats_none", lang)
    return ", ".join(f"{html.escape(name or str(uid))} ({count})" for uid, name, count in posters)


def chat_stats_text(title: str, stats: ChatStats, index_size: int, failures: Sequence[Job], lang: Lang,
                    reembedding: ReembedProgress | None = None) -> str:
    body = t(
        "stats_body", lang,
        items=sum(stats.items_by_kind.values()), by_kind=_counts(stats.items_by_kind, lang),
        by_route=_counts(stats.items_by_route, lang), reposts=stats.reposts_called,
        posters=_posters(stats.top_posters, lang), requests=round(stats.api_requests, 1),
        tokens=stats.input_tokens + stats.image_tokens, text_tokens=stats.input_tokens,
        image_tokens=stats.image_tokens, pending=stats.jobs_pending, failed=stats.jobs_failed,
        skipped=stats.skipped_over_cap, index_size=index_size, gone=stats.originals_gone,
    )
    lines = [t("stats_title", lang, chat=html.escape(title)), body]
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
    threshold = settings.repost_threshold if settings.repost_threshold is not None else default_threshold
    return t(
        "settings_show", lang, threshold=round(threshold * 100, 1),
        default=t("settings_default_mark", lang) if settings.repost_threshold is None else "",
        stickers=t("on" if settings.alert_stickers else "off", lang),
        gifs=t("on" if settings.alert_animations else "off", lang),
        retention=(t("retention_forever", lang) if settings.retention_days is None
                   else t("retention_days", lang, days=settings.retention_days)),
    )
