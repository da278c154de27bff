"""Whether embedding is paused, why, and who has been told: the circuit breaker with its notices.

One place learns of account errors and outages (from any caller of the API) and decides whom to tell: the operators
once per account pause, and each private chat whose media waits once per pause. A success of a real API call closes
the pause, whoever made it: it proves DashScope serves again, while a job answered from the cache proves nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot.core.breaker import CircuitBreaker
from bot.observability import metrics

log = logging.getLogger(__name__)

OperatorAlerter = Callable[[str | None], Awaitable[None]]
"""Tells every operator: embedding paused for this account error code, or (None) resumed."""

MAX_NOTICED_CHATS = 10_000
"""Private chats told about the current pause; past this many, later ones are told again rather than remembered."""


class EmbeddingHealth:
    def __init__(self, breaker: CircuitBreaker, alert_operators: OperatorAlerter) -> None:
        self.breaker = breaker
        self._alert_operators = alert_operators
        self._noticed: set[int] = set()

    @property
    def paused(self) -> bool:
        return self.breaker.is_open

    @property
    def account_paused(self) -> bool:
        return self.breaker.cause == "account"

    async def account_failed(self, code: str | None) -> None:
        if self.breaker.record_account_failure():
            metrics.set_paused(self.breaker.cause)
            log.error("DashScope account error: embedding paused until a call succeeds", extra={"code": code})
            await self._alert_operators(code or "unknown")

    def service_failed(self) -> None:
        """A job failed with a retryable service error after the client's own retries."""
        if self.breaker.record_transient_failure():
            metrics.set_paused(self.breaker.cause)
            log.warning("DashScope failing for every item: embedding paused until a probe succeeds")

    async def api_succeeded(self) -> None:
        cause = self.breaker.cause
        if not self.breaker.record_success():
            return
        metrics.set_paused(None)
        self._noticed.clear()
        log.warning("embedding resumed", extra={"cause": cause})
        if cause == "account":
            await self._alert_operators(None)

    def first_notice(self, chat_id: int) -> bool:
        """True once per pause and chat: whether a person there should now be told their media waits."""
        if not self.paused or chat_id in self._noticed:
            return False
        if len(self._noticed) >= MAX_NOTICED_CHATS:
            self._noticed.clear()
        self._noticed.add(chat_id)
        return True
