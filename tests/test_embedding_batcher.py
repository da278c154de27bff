"""TextBatcher: concurrent texts share requests, and share their fate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence

import numpy as np
import pytest

from bot.dashscope import (
    DashScopeClient,
    EmbedResult,
    InvalidInput,
    TextBatcher,
    TextInput,
    Usage,
)
from bot.dashscope.types import ContentInput
from tests.fakes.dashscope import FakeDashScope, cosine

API_KEY = "sk-batch-test"


async def no_sleep(_: float) -> None:
    return None


@pytest.fixture
def fake() -> Iterator[FakeDashScope]:
    with FakeDashScope(api_key=API_KEY) as server:
        yield server


@pytest.fixture
async def client(fake: FakeDashScope) -> AsyncIterator[DashScopeClient]:
    client = DashScopeClient(
        api_key=API_KEY,
        base_url=fake.base_url,
        model="multimodal-embedding-v1",
        requests_per_minute=6000,
        sleep=no_sleep,
    )
    yield client
    await client.aclose()


def sent_texts(fake: FakeDashScope) -> list[list[str]]:
    return [[item["text"] for item in r.json["input"]["contents"]] for r in fake.embed_requests]


async def test_25_concurrent_texts_take_two_requests(client: DashScopeClient, fake: FakeDashScope) -> None:
    texts = [f"text number {i}" for i in range(25)]

    results = await asyncio.gather(*(client.embed_text(t) for t in texts))

    assert sorted(len(batch) for batch in sent_texts(fake)) == [5, 20]
    assert client.requests_sent == 2
    assert sorted(text for batch in sent_texts(fake) for text in batch) == sorted(texts)
    for text, result in zip(texts, results, strict=True):
        assert cosine(result.vector, fake.vector_for_text(text)) == pytest.approx(1.0, abs=1e-5)
    assert sorted({r.batch_size for r in results}) == [5, 20]
    big = [r for r in results if r.batch_size == 20]
    assert big[0].usage.input_tokens == 3 * 20


async def test_texts_apart_in_time_go_separately(client: DashScopeClient, fake: FakeDashScope) -> None:
    first = await client.embed_text("red")
    second = await client.embed_text("blue")

    assert sent_texts(fake) == [["red"], ["blue"]]
    assert (first.batch_size, second.batch_size) == (1, 1)


async def test_a_failed_request_fails_every_caller(client: DashScopeClient, fake: FakeDashScope) -> None:
    fake.fail_next(400, "DataInspectionFailed", "Input data may contain inappropriate content.")

    outcomes = await asyncio.gather(*(client.embed_text(f"t{i}") for i in range(3)), return_exceptions=True)

    assert len(fake.embed_requests) == 1
    assert all(type(o).__name__ == "ContentRejected" for o in outcomes)
    assert len({id(o) for o in outcomes}) == 1


async def test_a_retried_batch_still_answers_everyone(client: DashScopeClient, fake: FakeDashScope) -> None:
    fake.fail_next(503, "ModelUnavailable")

    results = await asyncio.gather(*(client.embed_text(f"t{i}") for i in range(4)))

    assert [r.batch_size for r in results] == [4] * 4
    assert client.requests_sent == 2


async def test_blank_text_fails_alone(client: DashScopeClient, fake: FakeDashScope) -> None:
    outcomes = await asyncio.gather(
        client.embed_text("a"), client.embed_text("  "), client.embed_text("b"), return_exceptions=True
    )

    assert isinstance(outcomes[1], InvalidInput)
    assert sent_texts(fake) == [["a", "b"]]


class RecordingEmbed:
    """An embed function that records batches and can be held open."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, contents: Sequence[ContentInput]) -> EmbedResult:
        texts = [c.text for c in contents if isinstance(c, TextInput)]
        self.batches.append(texts)
        await self.release.wait()
        return EmbedResult(
            vectors=[np.full(4, float(len(t)), dtype=np.float32) for t in texts],
            types=["text"] * len(texts),
            usage=Usage(input_tokens=len(texts)),
            request_id="rid",
        )


async def test_window_collects_callers_arriving_close_together() -> None:
    embed = RecordingEmbed()
    batcher = TextBatcher(embed, max_batch=10, window=0.05)

    async def late(text: str) -> float:
        await asyncio.sleep(0.01)
        return float((await batcher.submit(text)).vector[0])

    results = await asyncio.gather(batcher.submit("a"), late("bbb"))

    assert embed.batches == [["a", "bbb"]]
    assert float(results[0].vector[0]) == 1.0 and results[1] == 3.0


async def test_texts_that_may_wait_leave_together_at_the_first_deadline() -> None:
    embed = RecordingEmbed()
    batcher = TextBatcher(embed, max_batch=10, window=0.01)
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def later(text: str, delay: float) -> int:
        await asyncio.sleep(delay)
        return (await batcher.submit(text, wait=0.3)).batch_size

    sizes = await asyncio.gather(later("a", 0.0), later("bb", 0.05), later("ccc", 0.1))

    assert embed.batches == [["a", "bb", "ccc"]] and list(sizes) == [3, 3, 3]
    assert 0.3 <= loop.time() - started < 0.6  # the first text's deadline, not each newcomer's


async def test_a_query_takes_waiting_texts_along_within_its_own_window() -> None:
    embed = RecordingEmbed()
    batcher = TextBatcher(embed, max_batch=10, window=0.01)
    loop = asyncio.get_running_loop()
    started = loop.time()
    waiting = asyncio.create_task(batcher.submit("indexed message", wait=5.0))
    await asyncio.sleep(0)

    query = await batcher.submit("query")

    assert loop.time() - started < 1.0
    assert query.batch_size == 2 and (await waiting).batch_size == 2
    assert embed.batches == [["indexed message", "query"]]


async def test_a_full_batch_leaves_without_waiting() -> None:
    embed = RecordingEmbed()
    batcher = TextBatcher(embed, max_batch=3, window=0.01)
    loop = asyncio.get_running_loop()
    started = loop.time()

    await asyncio.gather(*(batcher.submit(text, wait=5.0) for text in ("a", "b", "c")))

    assert loop.time() - started < 1.0 and embed.batches == [["a", "b", "c"]]


async def test_a_cancelled_caller_does_not_disturb_the_others() -> None:
    embed = RecordingEmbed()
    embed.release.clear()
    batcher = TextBatcher(embed, max_batch=2, window=1.0)
    doomed = asyncio.create_task(batcher.submit("x"))
    survivor = asyncio.create_task(batcher.submit("yy"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)

    doomed.cancel()
    embed.release.set()

    assert (await survivor).vector[0] == 2.0
    assert doomed.cancelled()


async def test_aclose_sends_what_is_waiting() -> None:
    embed = RecordingEmbed()
    batcher = TextBatcher(embed, max_batch=10, window=60.0)
    pending = asyncio.create_task(batcher.submit("abc"))
    await asyncio.sleep(0)

    await batcher.aclose()

    assert (await pending).batch_size == 1
    assert embed.batches == [["abc"]]


def test_batch_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        TextBatcher(RecordingEmbed(), max_batch=0)


async def test_every_model_batches_up_to_its_element_limit(fake: FakeDashScope) -> None:
    client = DashScopeClient(
        api_key=API_KEY,
        base_url=fake.base_url,
        model="tongyi-embedding-vision-flash",
        requests_per_minute=6000,
    )
    try:
        await asyncio.gather(*(client.embed_text(f"t{i}") for i in range(21)))
    finally:
        await client.aclose()
    assert sorted(len(b) for b in sent_texts(fake)) == [1, client.spec.max_elements]
    assert client.spec.max_elements == 20
