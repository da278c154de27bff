"""What to do about a failure, carried by the failure itself.

Every error the core acts on is a `Failure` whose class (or instance) says its `disposition` and the key of the
sentence a person is shown. The worker's policy (`bot.core.failures`) and the wording (`bot.replies.failures`) are
then table look-ups by these two attributes, each in one place; nothing downstream tests error types one by one.
"""

from __future__ import annotations

from enum import StrEnum


class Disposition(StrEnum):
    RETRY = "retry"
    """Transient trouble (network, Telegram, a bug): back off and retry, then give up."""
    RETRY_SERVICE = "retry_service"
    """DashScope could not serve now: retried like RETRY, and jobs failing so in a row are an outage (pause)."""
    FAIL_ITEM = "fail_item"
    """About this item (corrupt, unsupported, refused): fail it with its reason; retrying cannot help."""
    OVER_CAP = "over_cap"
    """Today's request budget for the chat or the person is spent: skipped, and counted as such."""
    PAUSE_ACCOUNT = "pause_account"
    """No request can succeed until an operator acts (key, billing, access): pause all embedding, tell operators."""
    CHAT_GONE = "chat_gone"
    """The bot was removed or blocked: stop working for that chat."""
    CHAT_MOVED = "chat_moved"
    """The group became a supergroup: move its data and run the job again there."""
    ORIGINAL_GONE = "original_gone"
    """An answer shows an original Telegram no longer serves: mark it unavailable and show the next best instead."""


class Failure(Exception):
    """Base of every failure with a known disposition; anything else is treated as RETRY (and logged as a bug)."""

    disposition: Disposition = Disposition.RETRY
    message_key: str = "error"
    """The key of the sentence a person waiting on this item or command is shown (see bot.replies.i18n)."""

    def message_values(self) -> dict[str, str]:
        """Plain (unescaped) values for the sentence's placeholders."""
        return {}
