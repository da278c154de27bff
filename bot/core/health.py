"""Whether embedding is paused, why, and who has been told: the circuit breaker with its notices.

One place learns of account errors and outages (from any caller of the API) and decides whom to tell: the operators
once per account pause, and each private chat whose media waits once per pause. A success of a real API call closes
the pause, whoever made it: it proves DashScope serves again, while a job answered from the cache proves nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.core.breaker import CircuitBreaker
from bot.core.ports import SharedPause
from bot.observability import metrics

log = logging.getLogger(__name__)

OperatorAlerter = Callable[[str | None], Awaitable[None]]
"""Tells every operator: embedding paused for this account error code, or (None) resumed."""

PAUSE_FOLLOW_SECONDS = 2.0
"""How soon a process takes up a pause (or its end) decided by another."""
MAX_NOTICED_CHATS = 10_000
"""Private chats told about the current pause; past this many, later ones are told again rather than remembered."""


class EmbeddingHealth:
    """With several processes (PostgreSQL), an account pause is the deployment's (`shared`): the process whose
    request learns of it pauses every process and is the one that tells the operators, and the first success
    anywhere (a probe) lifts it, once. Each process follows the shared pause within `PAUSE_FOLLOW_SECONDS`
    (`follow_forever`). An outage stays each process's own: each sees the failures of its own requests. Should the
    database not answer, a process decides alone (the operators may then hear twice; never not at all)."""

    def __init__(self, breaker: CircuitBreaker, alert_operators: OperatorAlerter,
                 shared: SharedPause | None = None) -> None:
        self.breaker = breaker
        self._alert_operators = alert_operators
        self._shared = shared
        self._noticed: set[int] = set()

    @property
    def paused(self) -> bool:
        return self.breaker.is_open

    @property
    def account_paused(self) -> bool:
        return self.breaker.cause == "account"

    async def account_failed(self, code: str | None) -> None:
        code = code or "unknown"
        tell = await self._shared_pause(code)
        self._pause_here(code)
        if tell:
            await self._alert_operators(code)

    def service_failed(self) -> None:
        """A job failed with a retryable service error after the client's own retries."""
        if self.breaker.record_transient_failure():
            metrics.set_paused(self.breaker.cause)
            log.warning("DashScope failing for every item: embedding paused until a probe succeeds")

    async def api_succeeded(self) -> None:
        cause = self.breaker.cause
        tell = cause == "account" and await self._shared_resume()
        self._resume_here()
        if tell:
            await self._alert_operators(None)

    async def follow_forever(self, interval: float = PAUSE_FOLLOW_SECONDS) -> None:
        """Take up the pause (or its end) decided by another process."""
        while self._shared is not None:
            try:
                code = await self._shared.paused_code()
            except Exception:
                log.warning("could not read the shared embedding pause", exc_info=True)
            else:
                if code is not None:
                    self._pause_here(code)
                elif self.account_paused:
                    self._resume_here()
            await asyncio.sleep(interval)

    def _pause_here(self, code: str) -> None:
        if self.breaker.record_account_failure():
            metrics.set_paused(self.breaker.cause)
            log.error("DashScope account error: embedding paused until a call succeeds", extra={"code": code})

    def _resume_here(self) -> None:
        cause = self.breaker.cause
        if self.breaker.record_success():
            metrics.set_paused(None)
            self._noticed.clear()
            log.warning("embedding resumed", extra={"cause": cause})

    async def _shared_pause(self, code: str) -> bool:
        """Whether this process is the one that paused embedding (and tells the operators)."""
        if self._shared is None:
            return not self.account_paused
        try:
            return await self._shared.pause(code)
        except Exception:
            log.warning("could not record the embedding pause for every process", exc_info=True)
            return not self.account_paused

    async def _shared_resume(self) -> bool:
        """Whether this process is the one that resumed embedding (and tells the operators)."""
        if self._shared is None:
            return True
        try:
            return await self._shared.resume()
        except Exception:
            log.warning("could not record the end of the embedding pause for every process", exc_info=True)
            return True

    def first_notice(self, chat_id: int) -> bool:
        """True once per pause and chat: whether a person there should now be told their media waits."""
        if not self.paused or chat_id in self._noticed:
            return False
        if len(self._noticed) >= MAX_NOTICED_CHATS:
            self._noticed.clear()
        self._noticed.add(chat_id)
        return True
