"""The one way anything is embedded: cache, then the daily caps, then the API call, then the spend record.

Ingest, edits, /similar and /search all come through here, so the caps cannot be skipped by one path and the cache
is read once per item. The answer says what the call cost (`Spend`), so a caller knows whether DashScope was
reached; successes and account errors are reported to `EmbeddingHealth` here, where the API is called.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np

from bot.core.caps import SpendCaps
from bot.core.health import EmbeddingHealth
from bot.core.ports import VectorCache
from bot.core.routes import MediaRoutes
from bot.core.types import MediaRef
from bot.dashscope.errors import EmbeddingError
from bot.dashscope.types import ContentInput, EmbedResult, TextEmbedding, TextInput, Usage
from bot.errors import Disposition
from bot.observability import metrics

T = TypeVar("T")


class EmbeddingModel(Protocol):
    """The model seam: what the core needs to know of the configured model."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    @property
    def space(self) -> str:
        """The tag of this model's vectors (model and dimension): only vectors of one space are compared."""
        ...

    @property
    def supports_multi_images(self) -> bool: ...

    @property
    def max_text_chars(self) -> int: ...


class EmbeddingClient(Protocol):
    """The DashScope client as the core uses it (bot.dashscope.client.DashScopeClient)."""

    @property
    def spec(self) -> EmbeddingModel: ...

    async def embed(self, contents: list[ContentInput]) -> EmbedResult: ...

    async def embed_text(self, text: str, *, wait: float | None = None) -> TextEmbedding: ...


@dataclass(frozen=True)
class Payer:
    """Whose daily caps a call counts against."""

    chat_id: int
    user_id: int | None


@dataclass(frozen=True)
class Spend:
    requests: float
    """API requests made (a batched text is its share of one request); 0 when answered from the cache."""
    usage: Usage

    @property
    def called_api(self) -> bool:
        return self.requests > 0


NO_SPEND = Spend(0.0, Usage())


@dataclass(frozen=True)
class MediaVectors:
    media: np.ndarray
    caption: np.ndarray | None
    route: str
    spend: Spend
    from_cache: bool


class EmbeddingService:
    def __init__(self, client: EmbeddingClient, routes: MediaRoutes, cache: VectorCache, caps: SpendCaps,
                 health: EmbeddingHealth) -> None:
        self._client = client
        self._routes = routes
        self._cache = cache
        self._caps = caps
        self._health = health

    @property
    def model(self) -> EmbeddingModel:
        return self._client.spec

    async def cached(self, media: MediaRef) -> np.ndarray | None:
        """The media's vector if this file was embedded before (in any chat), at no cost."""
        hit = await self._cache.get(media.file.file_unique_id, self.model.space)
        return None if hit is None else np.asarray(hit.vector)

    async def media(self, media: MediaRef, caption: str | None, payer: Payer) -> MediaVectors:
        """The media vector and, when there is a caption, its text vector (from the same request when the media is
        new). A cached file without a caption costs nothing and is not held to the caps."""
        cached = await self._cache.get(media.file.file_unique_id, self.model.space)
        if cached is not None:
            vector = np.asarray(cached.vector)
            if not caption:
                return MediaVectors(vector, None, cached.route, NO_SPEND, from_cache=True)
            caption_vector, spend = await self.text(caption, payer)
            return MediaVectors(vector, caption_vector, cached.route, spend, from_cache=True)
        await self._caps.check(payer.chat_id, payer.user_id)
        prepared = await self._routes.prepare(media)
        contents: list[ContentInput] = [prepared.content]
        if caption:
            contents.append(TextInput(caption))
        result = await self._reported(self._client.embed(contents))
        await self._cache.put(media.file.file_unique_id, self.model.space, result.vectors[0], prepared.route)
        spend = await self._record(Spend(1.0, result.usage), payer)
        return MediaVectors(result.vectors[0], result.vectors[1] if caption else None, prepared.route, spend,
                            from_cache=False)

    async def text(self, text: str, payer: Payer, *, wait: float | None = None) -> tuple[np.ndarray, Spend]:
        """A caption, a query or a chat message; texts are batched with others by the client (waiting up to `wait`
        seconds for company), and each pays its share of the request."""
        await self._caps.check(payer.chat_id, payer.user_id)
        embedded = await self._reported(self._client.embed_text(text, wait=wait))
        return embedded.vector, await self._record(Spend(1.0 / embedded.batch_size, embedded.usage), payer)

    async def _record(self, spend: Spend, payer: Payer) -> Spend:
        await self._caps.record(payer.chat_id, payer.user_id, spend.usage, spend.requests)
        metrics.API_REQUESTS.inc(spend.requests)
        metrics.API_TOKENS.labels(type="text").inc(spend.usage.input_tokens)
        metrics.API_TOKENS.labels(type="image").inc(spend.usage.image_tokens)
        return spend

    async def _reported(self, call: Awaitable[T]) -> T:
        """Tell the health of every account error and every success; the caller still gets the error."""
        try:
            result = await call
        except EmbeddingError as exc:
            metrics.API_ERRORS.labels(code=exc.code or str(exc.status or "transport")).inc()
            if exc.disposition is Disposition.PAUSE_ACCOUNT:
                await self._health.account_failed(exc.code or (str(exc.status) if exc.status else None))
            raise
        await self._health.api_succeeded()
        return result
