"""The DashScope multimodal-embedding client: one request per call, checked, rate limited and retried."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import httpx

from bot.dashscope.batcher import TextBatcher
from bot.dashscope.errors import EmbeddingError, TransportError, error_from_response
from bot.dashscope.models import ModelChoice, choose_model
from bot.dashscope.ratelimit import RateLimiter
from bot.dashscope.retry import RetryPolicy
from bot.dashscope.types import ContentInput, EmbedResult, TextEmbedding
from bot.dashscope.upload import upload_file
from bot.dashscope.wire import (
    EMBEDDING_PATH,
    build_request,
    needs_oss_resolve,
    parse_response,
    validate_contents,
)
from bot.tls import tls_context

logger = logging.getLogger(__name__)

OSS_RESOLVE_HEADER = "X-DashScope-OssResourceResolve"
T = TypeVar("T")


class DashScopeClient:
    """Talks to one model (at one dimension) of one DashScope account.

    All callers share one rate limiter and one connection pool, which is what the account's quota
    and the server see; clients of other models for the same account pass that limiter in (`limiter`), and a
    `background` client only takes budget that live traffic leaves. The http client is closed here only when this
    object created it.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        model: str,
        dimension: int | None = None,
        http: httpx.AsyncClient | None = None,
        limiter: RateLimiter | None = None,
        background: bool = False,
        requests_per_minute: int = 120,
        max_concurrency: int = 4,
        timeout: float = 60.0,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen dataclass, safe to share
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.spec: ModelChoice = choose_model(model, dimension)
        self.requests_sent = 0
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient(timeout=timeout, verify=tls_context())
        self._timeout = timeout
        self._retry = retry
        self._sleep = sleep
        self._limiter = limiter if limiter is not None else RateLimiter(requests_per_minute, max_concurrency)
        self._background = background
        self._batcher = TextBatcher(self.embed, max_batch=self.spec.max_elements)

    @property
    def supports_multi_images(self) -> bool:
        return self.spec.supports_multi_images

    def sibling(self, model: str, dimension: int, *, background: bool = False) -> DashScopeClient:
        """A client of another model (or dimension) on the same account: same key, pool and request budget."""
        return DashScopeClient(api_key=self._api_key, base_url=self._base_url, model=model, dimension=dimension,
                               http=self._http, limiter=self._limiter, timeout=self._timeout, retry=self._retry,
                               sleep=self._sleep, background=background)

    async def embed(self, contents: Sequence[ContentInput]) -> EmbedResult:
        """Embed `contents` in one API request; vectors come back in the same order."""
        validate_contents(contents, self.spec.spec)
        body = build_request(self.spec, contents)
        headers = {"Authorization": f"Bearer {self._api_key}"}
        if needs_oss_resolve(contents):
            headers[OSS_RESOLVE_HEADER] = "enable"

        async def send_once() -> EmbedResult:
            async with self._limiter.background() if self._background else self._limiter:
                self.requests_sent += 1
                response = await self._http.post(
                    self._base_url + EMBEDDING_PATH, json=body, headers=headers, timeout=self._timeout
                )
            if response.status_code != 200:
                raise error_from_response(response.status_code, response.content, response.headers)
            return parse_response(response.content, response.headers, len(contents), self.spec)

        return await self._with_retries("embed", send_once)

    async def embed_text(self, text: str, *, wait: float | None = None) -> TextEmbedding:
        """Embed one text, batched with texts from concurrent callers into a single request; `wait` is how long
        this text may wait for others (the batcher's short window when not given)."""
        return await self._batcher.submit(text, wait=wait)

    async def upload(self, data: bytes, filename: str, content_type: str) -> str:
        """Upload media for this model through DashScope's temporary storage; returns `oss://<key>`."""

        async def upload_once() -> str:
            return await upload_file(
                self._http,
                base_url=self._base_url,
                api_key=self._api_key,
                model=self.spec.name,
                data=data,
                filename=filename,
                content_type=content_type,
                request_timeout=self._timeout,
            )

        return await self._with_retries("upload", upload_once)

    async def aclose(self) -> None:
        await self._batcher.aclose()
        if self._owns_http:
            await self._http.aclose()

    async def _with_retries(self, operation: str, attempt_once: Callable[[], Awaitable[T]]) -> T:
        attempt = 0
        while True:
            try:
                return await _typed_errors(attempt_once)
            except EmbeddingError as error:
                retrying = self._retry.should_retry(attempt, error)
                _log_failure(operation, attempt, error, retrying)
                if not retrying:
                    raise
                await self._sleep(self._retry.delay(attempt, error, random.random()))
                attempt += 1


async def _typed_errors(attempt_once: Callable[[], Awaitable[T]]) -> T:
    """Translate httpx's transport failures so callers only ever see EmbeddingError."""
    try:
        return await attempt_once()
    except httpx.RequestError as error:
        raise TransportError(f"{type(error).__name__}: {error}") from error


def _log_failure(operation: str, attempt: int, error: EmbeddingError, retrying: bool) -> None:
    logger.warning(
        "DashScope %s failed on attempt %d (%s): %s",
        operation,
        attempt + 1,
        "retrying" if retrying else "giving up",
        error,
        extra={
            "operation": operation,
            "attempt": attempt + 1,
            "error_class": type(error).__name__,
            "http_status": error.status,
            "error_code": error.code,
            "request_id": error.request_id,
            "retrying": retrying,
        },
    )
