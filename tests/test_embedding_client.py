"""DashScopeClient against the fake DashScope: wire format, answer parsing, errors, retries and limits."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from bot.dashscope import (
    AccountError,
    AuthError,
    ContentRejected,
    DashScopeClient,
    EmbeddingError,
    ImageInput,
    InvalidInput,
    MalformedResponse,
    MultiImageInput,
    RateLimited,
    RateLimiter,
    RetryPolicy,
    ServerError,
    TextInput,
    TransportError,
    VideoInput,
    error_from_response,
    model_spec,
)
from bot.dashscope.errors import parse_retry_after
from bot.dashscope.types import ContentInput
from tests.fakes.dashscope import EMBED_PATH, FakeDashScope, cosine, encode_picture, sample_picture

V1 = "multimodal-embedding-v1"
PLUS = "tongyi-embedding-vision-plus"
API_KEY = "sk-client-test"
RED = (220, 20, 20)
JPEG = encode_picture(sample_picture(RED, "hstripes"))
FAST = 6000  # requests per minute: 100/s, so the limiter never delays these tests


class SleepRecorder:
    """Stands in for asyncio.sleep in the retry loop: records delays, returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def fake() -> Iterator[FakeDashScope]:
    with FakeDashScope(api_key=API_KEY) as server:
        yield server


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
async def make_client(fake: FakeDashScope, sleeps: SleepRecorder) -> AsyncIterator[Callable[..., DashScopeClient]]:
    clients: list[DashScopeClient] = []

    def make(**overrides: Any) -> DashScopeClient:
        options: dict[str, Any] = {
            "api_key": API_KEY,
            "base_url": fake.base_url,
            "model": V1,
            "requests_per_minute": FAST,
            "sleep": sleeps,
        }
        options.update(overrides)
        client = DashScopeClient(**options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def client(make_client: Callable[..., DashScopeClient]) -> DashScopeClient:
    return make_client()


def one_shot(make_client: Callable[..., DashScopeClient], **overrides: Any) -> DashScopeClient:
    return make_client(retry=RetryPolicy(max_attempts=1), **overrides)


# -- request building ------------------------------------------------------------------------------------


async def test_request_is_exactly_the_documented_body(client: DashScopeClient, fake: FakeDashScope) -> None:
    await client.embed([TextInput("hello"), ImageInput(JPEG, "jpeg")])

    (request,) = fake.embed_requests
    assert request.path == EMBED_PATH
    assert request.json == {
        "model": V1,
        "input": {
            "contents": [
                {"text": "hello"},
                {"image": "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()},
            ]
        },
        "parameters": {},
    }
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["content-type"] == "application/json"
    assert "x-dashscope-ossresourceresolve" not in request.headers


async def test_multi_images_request_on_a_vision_model(
    make_client: Callable[..., DashScopeClient], fake: FakeDashScope
) -> None:
    png = encode_picture(sample_picture(RED), "png")
    result = await make_client(model=PLUS).embed([MultiImageInput((ImageInput(JPEG, "jpeg"), ImageInput(png, "png")))])

    (request,) = fake.embed_requests
    uris = request.json["input"]["contents"][0]["multi_images"]
    assert [uri.split(";")[0] for uri in uris] == ["data:image/jpeg", "data:image/png"]
    assert result.types == ["multi_images"]
    assert result.vectors[0].shape == (1152,)


async def test_long_text_is_capped_before_sending(client: DashScopeClient, fake: FakeDashScope) -> None:
    await client.embed([TextInput("word " * 5000)])

    sent = fake.embed_requests[0].json["input"]["contents"][0]["text"]
    assert len(sent) == model_spec(V1).max_text_chars == 2048


@pytest.mark.parametrize(
    "contents",
    [
        [],
        [TextInput(str(i)) for i in range(21)],
        [ImageInput(JPEG, "jpeg"), ImageInput(JPEG, "jpeg")],
        [VideoInput("oss://a/b.mp4"), VideoInput("oss://a/c.mp4")],
        [MultiImageInput((ImageInput(JPEG, "jpeg"),))],
        [TextInput("   ")],
        [VideoInput("file:///etc/passwd")],
        [ImageInput(b"x" * (3 * 1024 * 1024 + 1), "jpeg")],
        [ImageInput(JPEG, "gif")],  # type: ignore[arg-type]
    ],
    ids=["empty", "21", "2-images", "2-videos", "multi-on-v1", "blank-text", "file-url", "huge", "gif"],
)
async def test_inputs_the_model_refuses_fail_locally(
    client: DashScopeClient, fake: FakeDashScope, contents: list[ContentInput]
) -> None:
    with pytest.raises(InvalidInput):
        await client.embed(contents)
    assert fake.requests == []
    assert client.requests_sent == 0


async def test_vision_models_allow_several_images_and_multi_images(
    make_client: Callable[..., DashScopeClient],
) -> None:
    client = make_client(model=PLUS)
    image = ImageInput(JPEG, "jpeg")
    nine = MultiImageInput((image,) * 9)

    result = await client.embed([image, image, MultiImageInput((image, image))])
    with pytest.raises(InvalidInput):
        await client.embed([nine])

    assert result.types == ["image", "image", "multi_images"]


# -- answer parsing --------------------------------------------------------------------------------------


async def test_vectors_come_back_in_input_order(client: DashScopeClient, fake: FakeDashScope) -> None:
    texts = ["red", "green apple", "blue sky", "hello", "yellow", "white snow"]
    result = await client.embed([TextInput(t) for t in texts])

    for text, vector in zip(texts, result.vectors, strict=True):
        assert vector.dtype == np.float32
        assert cosine(vector, fake.vector_for_text(text)) == pytest.approx(1.0, abs=1e-5)
    assert result.types == ["text"] * 6


async def test_usage_and_request_id_are_reported(client: DashScopeClient) -> None:
    result = await client.embed([TextInput("three small words"), ImageInput(JPEG, "jpeg")])

    assert (result.usage.input_tokens, result.usage.image_tokens, result.usage.image_count) == (3, 896, 1)
    assert result.usage.tokens == 899
    assert result.request_id is not None and len(result.request_id) == 36


async def test_wrong_dimension_is_malformed(make_client: Callable[..., DashScopeClient]) -> None:
    with FakeDashScope(api_key=API_KEY, model_dims={V1: 512}) as small:
        client = one_shot(make_client, base_url=small.base_url)
        with pytest.raises(MalformedResponse, match="1024"):
            await client.embed([TextInput("hi")])


def _answer(*items: tuple[int, int]) -> bytes:
    embeddings = ",".join(f'{{"index": {i}, "embedding": [{",".join(["0.5"] * n)}], "type": "text"}}' for i, n in items)
    return f'{{"output": {{"embeddings": [{embeddings}]}}, "usage": {{}}}}'.encode()


@pytest.mark.parametrize(
    "body",
    [
        b"<html>502 bad gateway</html>",
        b"[]",
        b'{"output": {}}',
        _answer((0, 1024)),
        _answer((0, 1024), (0, 1024)),
        _answer((0, 1024), (1, 1023)),
        _answer((0, 1024), (5, 1024)),
    ],
    ids=["html", "list", "no-embeddings", "missing-one", "duplicate-index", "short-vector", "bad-index"],
)
async def test_unusable_answers_are_malformed(
    make_client: Callable[..., DashScopeClient], fake: FakeDashScope, body: bytes
) -> None:
    fake.fail_next(200, "", body=body)
    with pytest.raises(MalformedResponse) as caught:
        await one_shot(make_client).embed([TextInput("a"), TextInput("b")])
    assert caught.value.retryable
    assert caught.value.request_id is not None  # from the X-Request-ID header


async def test_answer_with_missing_usage_fields_counts_zero(
    make_client: Callable[..., DashScopeClient], fake: FakeDashScope
) -> None:
    fake.fail_next(200, "", body=_answer((1, 1024), (0, 1024)))
    result = await one_shot(make_client).embed([TextInput("a"), TextInput("b")])

    assert result.usage.tokens == 0
    assert result.request_id is not None  # from the X-Request-ID header


# -- error mapping ---------------------------------------------------------------------------------------

ERROR_TABLE = [
    (400, "InvalidParameter", InvalidInput, False, False),
    (400, "InvalidParameter.DataInspection", InvalidInput, False, False),
    (400, "InvalidURL", InvalidInput, False, False),
    (400, "DataInspectionFailed", ContentRejected, False, False),
    (400, "Arrearage", AccountError, False, True),
    (401, "InvalidApiKey", AuthError, False, True),
    (403, "AccessDenied", AccountError, False, True),
    (403, "AccessDenied.Unpurchased", AccountError, False, True),
    (403, "Model.AccessDenied", AccountError, False, True),
    (404, "ModelNotFound", AccountError, False, True),
    (408, "RequestTimeOut", ServerError, True, False),
    (409, "Conflict", ServerError, True, False),
    (413, "BadRequest.TooLarge", InvalidInput, False, False),
    (415, "BadRequest.InputDownloadFailed", InvalidInput, False, False),
    (415, "BadRequest.UnsupportedFileFormat", InvalidInput, False, False),
    (429, "Throttling", RateLimited, True, False),
    (429, "Throttling.RateQuota", RateLimited, True, False),
    (429, "Throttling.AllocationQuota", RateLimited, True, False),
    (429, "PrepaidBillOverdue", AccountError, False, True),
    (429, "PostpaidBillOverdue", AccountError, False, True),
    (429, "CommodityNotPurchased", AccountError, False, True),
    (500, "InternalError", ServerError, True, False),
    (500, "InternalError.Algo", ServerError, True, False),
    (500, "InternalError.Timeout", ServerError, True, False),
    (500, "SystemError", ServerError, True, False),
    (502, "BadGateway", ServerError, True, False),
    (503, "ModelUnavailable", ServerError, True, False),
    (504, "GatewayTimeout", ServerError, True, False),
    (200, "InternalError", ServerError, True, False),
    (200, "InvalidParameter", InvalidInput, False, False),
    (200, "Arrearage", AccountError, False, True),
]


@pytest.mark.parametrize(("status", "code", "error_class", "retryable", "account_level"), ERROR_TABLE)
async def test_error_answers_map_to_typed_errors(
    make_client: Callable[..., DashScopeClient],
    fake: FakeDashScope,
    status: int,
    code: str,
    error_class: type[EmbeddingError],
    retryable: bool,
    account_level: bool,
) -> None:
    fake.fail_next(status, code, "Something precise went wrong.")

    with pytest.raises(EmbeddingError) as caught:
        await one_shot(make_client).embed([TextInput("a")])

    error = caught.value
    assert type(error) is error_class
    assert (error.status, error.code, error.message) == (status, code, "Something precise went wrong.")
    assert (error.retryable, error.account_level) == (retryable, account_level)
    assert error.request_id is not None and error.request_id in str(error)


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (401, AuthError),
        (403, AccountError),
        (404, AccountError),
        (400, InvalidInput),
        (429, RateLimited),
        (502, ServerError),
        (599, ServerError),
    ],
)
def test_status_decides_when_the_body_has_no_code(status: int, error_class: type[EmbeddingError]) -> None:
    error = error_from_response(status, b"<html>Bad Gateway</html>", {"X-Request-ID": "rid-1"})

    assert type(error) is error_class
    assert (error.code, error.message, error.request_id) == (None, "<html>Bad Gateway</html>", "rid-1")


def test_body_request_id_wins_and_retry_after_is_read() -> None:
    body = b'{"code": "Throttling", "message": "slow down", "request_id": "from-body"}'
    error = error_from_response(429, body, {"x-request-id": "from-header", "Retry-After": "12"})

    assert (error.request_id, error.retry_after) == ("from-body", 12.0)


def test_retry_after_accepts_http_dates() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412500.0) == pytest.approx(10.0)
    assert parse_retry_after("garbage") is None
    assert parse_retry_after("-3") == 0.0


# -- retries ---------------------------------------------------------------------------------------------


async def test_throttling_is_retried_with_backoff(
    client: DashScopeClient, fake: FakeDashScope, sleeps: SleepRecorder
) -> None:
    fake.fail_next(429, "Throttling.RateQuota", "Requests rate limit exceeded.")

    result = await client.embed([TextInput("a")])

    assert len(result.vectors) == 1
    assert client.requests_sent == len(fake.embed_requests) == 2
    assert len(sleeps.delays) == 1 and 0.5 <= sleeps.delays[0] <= 0.625


async def test_retry_after_is_honoured_and_capped(
    make_client: Callable[..., DashScopeClient], fake: FakeDashScope, sleeps: SleepRecorder
) -> None:
    fake.fail_next(429, "Throttling", retry_after=7)
    fake.fail_next(503, "ModelUnavailable", retry_after=600)

    await make_client(retry=RetryPolicy(max_retry_after=30)).embed([TextInput("a")])

    assert sleeps.delays == [7.0, 30.0]


async def test_retries_stop_after_max_attempts_with_growing_delays(
    client: DashScopeClient, fake: FakeDashScope, sleeps: SleepRecorder
) -> None:
    fake.fail_next(500, "InternalError", times=4)

    with pytest.raises(ServerError):
        await client.embed([TextInput("a")])

    assert client.requests_sent == 4
    assert len(sleeps.delays) == 3
    for delay, base in zip(sleeps.delays, [0.5, 1.0, 2.0], strict=True):
        assert base <= delay <= base * 1.25


@pytest.mark.parametrize(("status", "code"), [(400, "InvalidParameter"), (401, "InvalidApiKey"), (429, "Arrearage")])
async def test_final_errors_are_not_retried(
    client: DashScopeClient, fake: FakeDashScope, sleeps: SleepRecorder, status: int, code: str
) -> None:
    fake.fail_next(status, code, times=2)

    with pytest.raises(EmbeddingError):
        await client.embed([TextInput("a")])

    assert (client.requests_sent, sleeps.delays) == (1, [])


async def test_malformed_answer_is_retried(client: DashScopeClient, fake: FakeDashScope) -> None:
    fake.fail_next(200, "", body=b"{not json")

    result = await client.embed([TextInput("a")])

    assert len(result.vectors) == 1
    assert client.requests_sent == 2


async def test_dropped_connections_become_transport_errors(
    client: DashScopeClient, fake: FakeDashScope, sleeps: SleepRecorder
) -> None:
    fake.down = True

    with pytest.raises(TransportError) as caught:
        await client.embed([TextInput("a")])

    assert caught.value.retryable and caught.value.status is None
    assert client.requests_sent == 4 and len(sleeps.delays) == 3


async def test_timeouts_become_transport_errors(
    make_client: Callable[..., DashScopeClient], fake: FakeDashScope
) -> None:
    fake.latency = 0.5
    with pytest.raises(TransportError, match="Timeout"):
        await one_shot(make_client, timeout=0.05).embed([TextInput("a")])


async def test_unreachable_server_is_a_transport_error(make_client: Callable[..., DashScopeClient]) -> None:
    client = one_shot(make_client, base_url="http://127.0.0.1:9/api/v1")
    with pytest.raises(TransportError):
        await client.embed([TextInput("a")])


def test_backoff_policy_delays() -> None:
    policy = RetryPolicy()
    error = ServerError("x")

    assert [policy.delay(n, error, 0.0) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert policy.delay(1, error, 0.999) == pytest.approx(1.24975)
    assert policy.should_retry(2, error) and not policy.should_retry(3, error)
    assert not policy.should_retry(0, InvalidInput("x"))


# -- logging ---------------------------------------------------------------------------------------------


async def test_failures_are_logged_with_request_id_and_without_the_key(
    client: DashScopeClient, fake: FakeDashScope, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail_next(500, "InternalError", "Oops.")
    with caplog.at_level(logging.WARNING, logger="bot.dashscope"):
        await client.embed([TextInput("a")])

    (record,) = caplog.records
    request_id = record.__dict__["request_id"]
    assert request_id and request_id in record.getMessage()
    assert (record.__dict__["http_status"], record.__dict__["error_code"]) == (500, "InternalError")
    assert API_KEY not in caplog.text


# -- rate limit and concurrency --------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


async def _start_times(limiter: RateLimiter, clock: FakeClock, count: int) -> list[float]:
    starts = []
    for _ in range(count):
        async with limiter:
            starts.append(clock.now)
    return starts


async def test_limiter_spreads_requests_over_each_second() -> None:
    clock = FakeClock()
    limiter = RateLimiter(120, max_concurrency=10, clock=clock, sleep=clock.sleep)

    assert await _start_times(limiter, clock, 5) == [0.0, 0.0, 1.0, 1.0, 2.0]


async def test_limiter_keeps_the_minute_budget() -> None:
    clock = FakeClock()
    limiter = RateLimiter(3, max_concurrency=10, clock=clock, sleep=clock.sleep)

    assert await _start_times(limiter, clock, 5) == [0.0, 1.0, 2.0, 60.0, 61.0]


async def test_limiter_budget_holds_for_concurrent_callers() -> None:
    clock = FakeClock()
    limiter = RateLimiter(240, max_concurrency=50, clock=clock, sleep=clock.sleep)
    starts: list[float] = []

    async def call() -> None:
        async with limiter:
            starts.append(clock.now)

    await asyncio.gather(*(call() for _ in range(12)))

    assert sorted(starts) == [0.0] * 4 + [1.0] * 4 + [2.0] * 4


async def test_concurrency_is_capped(make_client: Callable[..., DashScopeClient], fake: FakeDashScope) -> None:
    client = make_client(max_concurrency=2)
    fake.latency = 0.05

    await asyncio.gather(*(client.embed([TextInput(f"t{i}")]) for i in range(6)))

    assert fake.max_in_flight == 2
    assert client.requests_sent == 6


async def test_client_rate_limit_applies_to_real_requests(
    make_client: Callable[..., DashScopeClient], fake: FakeDashScope
) -> None:
    client = make_client(requests_per_minute=120)
    loop = asyncio.get_running_loop()
    started = loop.time()

    await asyncio.gather(*(client.embed([TextInput(f"t{i}")]) for i in range(3)))

    assert loop.time() - started >= 0.95  # the third request waits for the next second


# -- connection pool ownership ---------------------------------------------------------------------------


async def test_a_given_http_client_is_used_and_left_open(fake: FakeDashScope) -> None:
    async with httpx.AsyncClient() as http:
        client = DashScopeClient(api_key=API_KEY, base_url=fake.base_url + "/", model=V1, http=http)
        await client.embed([TextInput("a")])
        await client.aclose()
        assert not http.is_closed
    assert len(fake.embed_requests) == 1


async def test_unknown_model_is_refused_at_construction(fake: FakeDashScope) -> None:
    with pytest.raises(ValueError, match="unknown model"):
        DashScopeClient(api_key=API_KEY, base_url=fake.base_url, model="gpt-4")
