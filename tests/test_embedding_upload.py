"""Temporary upload: policy → multipart POST to OSS → `oss://` URL → embedding with the resolve header."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from bot.dashscope import (
    AccountError,
    AuthError,
    DashScopeClient,
    ImageInput,
    InvalidInput,
    MalformedResponse,
    ServerError,
    VideoInput,
)
from bot.dashscope.upload import object_key
from tests.fakes.dashscope import (
    FakeDashScope,
    RecordedRequest,
    cosine,
    encode_picture,
    sample_picture,
    sample_video,
)

API_KEY = "sk-upload-test"
V1 = "multimodal-embedding-v1"
RED = (220, 20, 20)
OSS_FIELD_ORDER = [
    "OSSAccessKeyId",
    "Signature",
    "policy",
    "key",
    "x-oss-object-acl",
    "x-oss-forbid-overwrite",
    "success_action_status",
    "x-oss-content-type",
    "file",
]


async def no_sleep(_: float) -> None:
    return None


@pytest.fixture
def fake() -> Iterator[FakeDashScope]:
    with FakeDashScope(api_key=API_KEY) as server:
        yield server


@pytest.fixture
async def client(fake: FakeDashScope) -> AsyncIterator[DashScopeClient]:
    client = DashScopeClient(api_key=API_KEY, base_url=fake.base_url, model=V1, sleep=no_sleep)
    yield client
    await client.aclose()


def form_field_names(request: RecordedRequest) -> list[str]:
    return [name.decode() for name in re.findall(rb'Content-Disposition: form-data; name="([^"]+)"', request.body)]


def requests_to(fake: FakeDashScope, path: str) -> list[RecordedRequest]:
    return [r for r in fake.requests if r.path == path]


async def test_upload_gets_a_policy_then_posts_the_file_last_without_the_key(
    client: DashScopeClient, fake: FakeDashScope
) -> None:
    video = sample_video(RED)

    url = await client.upload(video, "movie.MP4", "video/mp4")

    (policy_request,) = requests_to(fake, "/api/v1/uploads")
    assert policy_request.method == "GET"
    assert policy_request.query == {"action": "getPolicy", "model": V1}
    assert policy_request.headers["authorization"] == f"Bearer {API_KEY}"
    (oss_request,) = requests_to(fake, "/oss")
    assert "authorization" not in oss_request.headers
    assert API_KEY.encode() not in oss_request.body
    assert form_field_names(oss_request) == OSS_FIELD_ORDER
    assert b'name="success_action_status"\r\n\r\n200\r\n' in oss_request.body
    assert b'filename="movie.MP4"\r\nContent-Type: video/mp4' in oss_request.body
    key = url.removeprefix("oss://")
    assert url.startswith("oss://dashscope-instant/") and key.endswith(".mp4")
    assert fake.uploads == {key: video}


async def test_uploaded_video_is_embedded_with_the_oss_resolve_header(
    client: DashScopeClient, fake: FakeDashScope
) -> None:
    url = await client.upload(sample_video(RED, seconds=3), "v.mp4", "video/mp4")

    video = await client.embed([VideoInput(url)])
    photo = await client.embed([ImageInput(encode_picture(sample_picture(RED, "noise")), "jpeg")])

    first, second = fake.embed_requests
    assert first.headers["x-dashscope-ossresourceresolve"] == "enable"
    assert first.json["input"]["contents"] == [{"video": url}]
    assert "x-dashscope-ossresourceresolve" not in second.headers
    assert (video.types, video.usage.duration) == (["video"], 3)
    assert cosine(video.vectors[0], photo.vectors[0]) >= 0.85


async def test_https_video_urls_get_no_resolve_header(client: DashScopeClient, fake: FakeDashScope) -> None:
    with pytest.raises(InvalidInput, match="url error"):
        await client.embed([VideoInput("https://example.com/v.mp4")])
    assert "x-dashscope-ossresourceresolve" not in fake.embed_requests[0].headers


async def test_authorization_of_a_shared_http_client_never_reaches_oss(fake: FakeDashScope) -> None:
    async with httpx.AsyncClient(headers={"Authorization": "Bearer shared-default"}) as http:
        client = DashScopeClient(api_key=API_KEY, base_url=fake.base_url, model=V1, http=http)
        url = await client.upload(b"bytes", "a.bin", "application/octet-stream")

    assert url.startswith("oss://")
    (oss_request,) = requests_to(fake, "/oss")
    assert "authorization" not in oss_request.headers


async def test_a_wrong_key_fails_the_policy_with_an_auth_error(fake: FakeDashScope) -> None:
    client = DashScopeClient(api_key="sk-wrong", base_url=fake.base_url, model=V1, sleep=no_sleep)
    try:
        with pytest.raises(AuthError) as caught:
            await client.upload(b"x", "a.mp4", "video/mp4")
    finally:
        await client.aclose()
    assert caught.value.account_level
    assert requests_to(fake, "/oss") == []


# -- OSS and policy failures, through a scripted transport -----------------------------------------------

POLICY_DATA = {
    "policy": "cG9saWN5",
    "signature": "c2ln",
    "upload_dir": "dashscope-instant/abc/2025-01-01/uuid",
    "upload_host": "https://oss.example.com",
    "expire_in_seconds": 300,
    "max_file_size_mb": 1024,
    "capacity_limit_mb": 999999999,
    "oss_access_key_id": "LTAI",
    "x_oss_object_acl": "private",
    "x_oss_forbid_overwrite": "true",
}
OSS_DENIED = (
    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code>"
    b"<Message>Invalid according to Policy: Policy expired.</Message><RequestId>oss-rid</RequestId></Error>"
)


def policy_answer(data: dict[str, object]) -> httpx.Response:
    return httpx.Response(200, json={"request_id": "policy-rid", "data": data})


@contextlib.asynccontextmanager
async def scripted_client(
    oss_answers: list[httpx.Response | Exception], policy: httpx.Response | None = None
) -> AsyncIterator[tuple[DashScopeClient, list[httpx.Request]]]:
    """A client whose policy endpoint answers `policy` and whose OSS host answers `oss_answers` in turn."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/uploads"):
            return policy or policy_answer(POLICY_DATA)
        answer = oss_answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as http:
        client = DashScopeClient(
            api_key=API_KEY, base_url="https://ds.example.com/api/v1", model=V1, http=http, sleep=no_sleep
        )
        yield client, seen
        await client.aclose()


async def upload(client: DashScopeClient, data: bytes = b"data") -> str:
    return await client.upload(data, "a.mp4", "video/mp4")


async def test_oss_access_denied_is_not_an_account_problem() -> None:
    async with scripted_client([httpx.Response(403, content=OSS_DENIED)]) as (client, _):
        with pytest.raises(InvalidInput) as caught:
            await upload(client)

    error = caught.value
    assert not error.account_level and not error.retryable
    assert (error.status, error.code, error.request_id) == (403, "AccessDenied", "oss-rid")
    assert "Policy expired" in error.message


async def test_oss_outages_and_dropped_connections_are_retried_with_a_fresh_policy() -> None:
    answers: list[httpx.Response | Exception] = [
        httpx.Response(503, content=b"busy"),
        httpx.ConnectError("reset"),
        httpx.Response(200),
    ]
    async with scripted_client(answers) as (client, seen):
        url = await upload(client)

    assert url.startswith("oss://dashscope-instant/abc/2025-01-01/uuid/")
    assert [r.url.path for r in seen] == [
        "/api/v1/uploads",
        "/",
        "/api/v1/uploads",
        "/",
        "/api/v1/uploads",
        "/",
    ]


async def test_oss_keeps_failing_until_attempts_run_out() -> None:
    async with scripted_client([httpx.Response(500)] * 4) as (client, seen):
        with pytest.raises(ServerError):
            await upload(client)
    assert len(seen) == 8


@pytest.mark.parametrize("missing", ["policy", "upload_host", "oss_access_key_id", "max_file_size_mb"])
async def test_policy_without_required_fields_is_malformed(missing: str) -> None:
    policy = {k: v for k, v in POLICY_DATA.items() if k != missing}
    async with scripted_client([], policy_answer(policy)) as (client, seen):
        with pytest.raises(MalformedResponse):
            await upload(client)
    assert all(r.url.path == "/api/v1/uploads" for r in seen)


async def test_files_over_the_policy_limit_are_refused_before_posting() -> None:
    async with scripted_client([], policy_answer({**POLICY_DATA, "max_file_size_mb": 0.001})) as (
        client,
        seen,
    ):
        with pytest.raises(InvalidInput, match="exceeds"):
            await upload(client, data=b"x" * 2000)
    assert [r.url.path for r in seen] == ["/api/v1/uploads"]


async def test_policy_answer_carrying_an_error_code_is_that_error() -> None:
    overdue = httpx.Response(200, json={"code": "Arrearage", "message": "Overdue.", "request_id": "r"})
    async with scripted_client([], overdue) as (client, seen):
        with pytest.raises(AccountError, match="Overdue") as caught:
            await upload(client)
    assert caught.value.request_id == "r"
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("filename", "suffix"),
    [("clip.mp4", ".mp4"), ("Photo.JPEG", ".jpeg"), ("noext", ""), ("x.mp4?token=1", "")],
)
def test_object_keys_are_unique_and_keep_a_safe_extension(filename: str, suffix: str) -> None:
    first, second = object_key("dir/sub", filename), object_key("dir/sub", filename)

    assert first != second
    assert first.startswith("dir/sub/") and first.endswith(suffix)
    assert re.fullmatch(r"dir/sub/[0-9a-f]{32}" + re.escape(suffix), first)
