"""Sending what the core decided: rendered by the presenter (bot.replies), sent by the gateway, retried briefly.

An answer showing an original that Telegram no longer serves is sent again with the next best item in its place
(bot.core.originals). A reply is never worth holding a chat's queue for. A send that fails for a passing reason
(network, flood control, an error Telegram does not explain) is retried a few times within seconds and then given
up, with a log line per try and a count in /stats; a reply Telegram refuses outright is given up at once. Only the
chat's own fate (the bot was removed, the group moved) is raised to the caller, which acts on the chat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bot.core.originals import Originals
from bot.core.ports import (
    ChatGateway,
    GatewayError,
    OriginalGone,
    StatsStore,
    TransientTelegramError,
    Undeliverable,
)
from bot.core.results import Decision
from bot.core.types import Outgoing
from bot.errors import Disposition
from bot.observability import metrics

log = logging.getLogger(__name__)

Presenter = Callable[[Decision], Outgoing]

SEND_ATTEMPTS = 3
RETRY_DELAY_SECONDS = 1.0
MAX_RETRY_DELAY_SECONDS = 5.0
CHAT_FATES = frozenset({Disposition.CHAT_GONE, Disposition.CHAT_MOVED})
RAISED = CHAT_FATES | {Disposition.ORIGINAL_GONE}
"""Raised to `send`'s own loop (ORIGINAL_GONE) or to the caller (the chat's fate)."""


class Delivery:
    def __init__(self, gateway: ChatGateway, present: Presenter, stats: StatsStore, originals: Originals, *,
                 attempts: int = SEND_ATTEMPTS, retry_delay: float = RETRY_DELAY_SECONDS) -> None:
        self._gateway = gateway
        self._present = present
        self._stats = stats
        self._originals = originals
        self._attempts = attempts
        self._retry_delay = retry_delay

    async def send(self, decision: Decision) -> bool:
        """True when it was sent (or nothing was left to send once gone originals were dropped), False when given
        up (logged and counted). ChatGone/ChatMoved are raised."""
        current: Decision | None = decision
        while current is not None:
            message = self._present(current)
            try:
                return await self._send_rendered(message)
            except OriginalGone as exc:
                current = await self._originals.gone(message.chat_id, current, exc.file_ids)
        return True

    async def _send_rendered(self, message: Outgoing) -> bool:
        for attempt in range(1, self._attempts + 1):
            try:
                await self._gateway.send(message)
                metrics.REPLIES_SENT.inc()
                return True
            except GatewayError as exc:
                if exc.disposition in RAISED:
                    raise
                retrying = attempt < self._attempts and not isinstance(exc, Undeliverable)
                log.warning("reply not sent", extra={"chat_id": message.chat_id, "attempt": attempt,
                                                     "error": type(exc).__name__, "reason": str(exc),
                                                     "retrying": retrying})
                if not retrying:
                    break
                await asyncio.sleep(self._delay(exc, attempt))
        metrics.REPLIES_FAILED.inc()
        await self._stats.add_reply_failed(message.chat_id)
        return False

    async def send_quietly(self, decision: Decision) -> bool:
        """For notices whose chat's fate is someone else's business (operators, a failure notice)."""
        try:
            return await self.send(decision)
        except GatewayError as exc:
            log.info("notice not sent", extra={"error": type(exc).__name__, "reason": str(exc)})
            return False

    def _delay(self, exc: GatewayError, attempt: int) -> float:
        hint = exc.retry_after if isinstance(exc, TransientTelegramError) else None
        return min(MAX_RETRY_DELAY_SECONDS, hint if hint is not None else self._retry_delay * 2 ** (attempt - 1))
