"""A person waiting on a command: a sign of life at once, an answer within a deadline, and a fitting reason.

The embedding client retries slow or failing calls for minutes, which suits queued media and not a person staring
at their screen. So a command shows "typing…" while it works and gives up at the deadline with "the service is slow
or down, try again later"; a rejected key says so (the operators were told); a problem with the item itself (too
large, over today's cap) is named.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from bot.core.ports import ChatGateway, GatewayError
from bot.core.results import Audience, CommandFailed, Decision, ItemFailed
from bot.errors import Disposition, Failure

log = logging.getLogger(__name__)

TYPING_REFRESH_SECONDS = 4.0
"""Telegram shows "typing…" for about 5 s per action."""
ITEM_DISPOSITIONS = frozenset({Disposition.FAIL_ITEM, Disposition.OVER_CAP})


class Asking:
    def __init__(self, gateway: ChatGateway, deadline_seconds: float) -> None:
        self._gateway = gateway
        self._deadline = deadline_seconds

    async def answer(self, to: Audience, command: str, work: Callable[[], Awaitable[Decision]]) -> Decision:
        async with self._typing(to.chat.id):
            try:
                async with asyncio.timeout(self._deadline):
                    return await work()
            except TimeoutError:
                log.warning("command missed its deadline", extra={"chat_id": to.chat.id, "command": command,
                                                                  "deadline": self._deadline})
                return CommandFailed(to, "slow", command)
            except Failure as exc:
                return _failed(to, command, exc)

    @contextlib.asynccontextmanager
    async def _typing(self, chat_id: int) -> AsyncIterator[None]:
        task = asyncio.create_task(self._keep_typing(chat_id), name=f"typing-{chat_id}")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _keep_typing(self, chat_id: int) -> None:
        while True:
            try:
                await self._gateway.show_typing(chat_id)
            except GatewayError as exc:  # a sign of life is not worth failing the answer for
                log.debug("typing action failed", extra={"chat_id": chat_id, "error": str(exc)})
                return
            await asyncio.sleep(TYPING_REFRESH_SECONDS)


def _failed(to: Audience, command: str, exc: Failure) -> Decision:
    if exc.disposition is Disposition.PAUSE_ACCOUNT:
        return CommandFailed(to, "account", command)
    if exc.disposition in ITEM_DISPOSITIONS:
        return ItemFailed(to, exc)
    log.info("command failed", extra={"chat_id": to.chat.id, "command": command, "error": type(exc).__name__})
    return CommandFailed(to, "slow", command)
