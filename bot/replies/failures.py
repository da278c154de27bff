"""What a person is told when their item or command could not be served, by error type (one mapping for all)."""

from __future__ import annotations

import html

from bot.core.caps import OverCap
from bot.core.ports import FileTooBig, FileUnavailable
from bot.dashscope.errors import EmbeddingError
from bot.media.errors import MediaError
from bot.replies.i18n import Lang, t

USER_FACING_ERRORS = (EmbeddingError, MediaError, OverCap, FileTooBig, FileUnavailable)


def failure_text(exc: BaseException, lang: Lang) -> str:
    if isinstance(exc, OverCap):
        return t("over_cap", lang)
    if isinstance(exc, EmbeddingError):
        if exc.account_level or exc.retryable:
            return t("service_down", lang)
        return t("rejected", lang, reason=html.escape(str(exc.code or exc.status)))
    if isinstance(exc, MediaError):
        return t(exc.reason if exc.reason in ("corrupt", "unsupported") else "too_large", lang)
    if isinstance(exc, FileTooBig):
        return t("too_large", lang)
    if isinstance(exc, FileUnavailable):
        return t("corrupt", lang)
    return t("error", lang)
