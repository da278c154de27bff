"""Coalesce texts from concurrent callers into one request.

One request per `/search` would spend the per-second quota quickly; texts arriving within a few
milliseconds of each other ride together, up to the model's element limit. A caller that can wait longer says so
(`wait`): chat messages being indexed accept up to a couple of seconds, so a busy minute of several chats costs a
few requests, while a person's query still leaves within its own short window, taking the waiting texts along.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from bot.dashscope.errors import InvalidInput
from bot.dashscope.types import ContentInput, EmbedResult, TextEmbedding, TextInput

EmbedFunction = Callable[[Sequence[ContentInput]], Awaitable[EmbedResult]]
DEFAULT_WINDOW = 0.02


@dataclass
class _Batch:
    texts: list[str] = field(default_factory=list)
    waiters: list[asyncio.Future[TextEmbedding]] = field(default_factory=list)


class TextBatcher:
    """Each caller awaits its own vector; a failed request fails every caller of that batch alike."""

    def __init__(self, embed: EmbedFunction, *, max_batch: int, window: float = DEFAULT_WINDOW) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._embed = embed
        self._max_batch = max_batch
        self._window = window
        self._pending = _Batch()
        self._timer: asyncio.TimerHandle | None = None
        self._deadline: float | None = None
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, text: str, *, wait: float | None = None) -> TextEmbedding:
        """The text's vector; the request leaves when the batch is full or at the earliest deadline of its texts
        (`wait` seconds from now, the batcher's own short window when not given)."""
        if not text.strip():
            # Refused here so one empty query cannot fail the other callers' batch.
            raise InvalidInput("empty text")
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[TextEmbedding] = loop.create_future()
        self._pending.texts.append(text)
        self._pending.waiters.append(waiter)
        deadline = loop.time() + (self._window if wait is None else wait)
        if len(self._pending.texts) >= self._max_batch:
            self._flush()
        elif self._deadline is None or deadline < self._deadline:
            if self._timer is not None:
                self._timer.cancel()
            self._deadline = deadline
            self._timer = loop.call_at(deadline, self._flush)
        return await waiter

    async def aclose(self) -> None:
        """Send what is waiting now and let in-flight batches finish, so no caller hangs."""
        self._flush()
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._deadline = None
        batch, self._pending = self._pending, _Batch()
        if batch.texts:
            task = asyncio.get_running_loop().create_task(self._send(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _send(self, batch: _Batch) -> None:
        try:
            result = await self._embed([TextInput(text) for text in batch.texts])
        except asyncio.CancelledError:
            for waiter in batch.waiters:
                waiter.cancel()
            raise
        except Exception as error:
            for waiter in batch.waiters:
                if not waiter.done():
                    waiter.set_exception(error)
            return
        for waiter, vector in zip(batch.waiters, result.vectors, strict=True):
            if not waiter.done():
                waiter.set_result(TextEmbedding(vector=vector, usage=result.usage, batch_size=len(batch.texts)))
