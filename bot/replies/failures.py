"""What a person is told when their item or command could not be served: the failure names its sentence."""

from __future__ import annotations

import html

from bot.errors import Failure
from bot.replies.i18n import Lang, t


def failure_text(failure: Failure, lang: Lang) -> str:
    values = {name: html.escape(value) for name, value in failure.message_values().items()}
    return t(failure.message_key, lang, **values)
