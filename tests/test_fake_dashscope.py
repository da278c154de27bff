"""The fake DashScope itself: wire behaviour, validation, upload flow and embedding semantics.

Other tests trust these numbers, so they are pinned here through real HTTP, as a client would see them.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from tests.fakes.dashscope import (
    EMBED_PATH,
    RGB,
    FakeDashScope,
    cosine,
    encode_picture,
    sample_picture,
    sample_video,
)

RED: RGB = (220, 20, 20)
BLUE: RGB = (20, 40, 220)
GREEN: RGB = (30, 180, 40)
V1 = "multimodal-embedding-v1"


@pytest.fixture
def fake() -> Iterator[FakeDashScope]:
    with FakeDashScope() as server:
        yield server


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def image_uri(data: bytes, fmt: str = "jpeg") -> str:
    return f"data:image/{fmt};base64,{base64.b64encode(data).decode()}"


def picture_uri(colour: RGB, pattern: str = "plain", **encode: Any) -> str:
    return image_uri(encode_picture(sample_picture(colour, pattern), **encode))


def post_embed(
    http: httpx.Client,
    fake: FakeDashScope,
    contents: list[Any],
    *,
    model: str = V1,
    headers: dict[str, str] | None = None,
    parameters: dict[str, Any] | None = None,
) -> httpx.Response:
    body = {"model": model, "input": {"contents": contents}, "parameters": parameters or {}}
    return http.post(
        fake.base_url + EMBED_PATH.removeprefix("/api/v1"),
        json=body,
        headers={"Authorization": f"Bearer {fake.api_key}", **(headers or {})},
    )


def vectors(response: httpx.Response) -> list[np.ndarray]:
    assert response.status_code == 200, response.text
    items = sorted(response.json()["output"]["embeddings"], key=lambda item: item["index"])
    return [np.array(item["embedding"]) for item in items]


def similarity(http: httpx.Client, fake: FakeDashScope, first: Any, second: Any) -> float:
    """Cosine between two contents embedded in separate requests (v1 allows one image per request)."""
    (a,) = vectors(post_embed(http, fake, [first]))
    (b,) = vectors(post_embed(http, fake, [second]))
    return cosine(a, b)


def upload(http: httpx.Client, fake: FakeDashScope, data: bytes, model: str = V1) -> str:
    policy = http.get(
        f"{fake.base_url}/uploads",
        params={"action": "getPolicy", "model": model},
        headers={"Authorization": f"Bearer {fake.api_key}"},
    ).json()["data"]
    key = f"{policy['upload_dir']}/clip.mp4"
    response = http.post(policy["upload_host"], data=oss_fields(policy, key), files={"file": ("clip.mp4", data)})
    assert response.status_code == 200, response.text
    return f"oss://{key}"


def oss_fields(policy: dict[str, Any], key: str) -> dict[str, str]:
    return {
        "OSSAccessKeyId": policy["oss_access_key_id"],
        "Signature": policy["signature"],
        "policy": policy["policy"],
        "key": key,
        "x-oss-object-acl": policy["x_oss_object_acl"],
        "x-oss-forbid-overwrite": policy["x_oss_forbid_overwrite"],
        "success_action_status": "200",
    }


# -- answers on the wire ---------------------------------------------------------------------------------


def test_answer_has_one_shuffled_embedding_per_content_with_usage(fake: FakeDashScope, http: httpx.Client) -> None:
    contents = [{"text": "one two three"}, {"image": picture_uri(RED)}, "bare string", {"text": "x"}]
    response = post_embed(http, fake, contents)

    payload = response.json()
    items = payload["output"]["embeddings"]
    assert [item["index"] for item in items] != [0, 1, 2, 3]
    assert sorted(item["index"] for item in items) == [0, 1, 2, 3]
    assert {item["index"]: item["type"] for item in items} == {0: "text", 1: "image", 2: "text", 3: "text"}
    assert all(len(item["embedding"]) == 1024 for item in items)
    assert payload["usage"] == {"input_tokens": 6, "image_tokens": 896, "image_count": 1, "duration": 0}
    assert payload["request_id"] == response.headers["x-request-id"]


def test_each_request_records_when_it_arrived(fake: FakeDashScope, http: httpx.Client) -> None:
    before = time.monotonic()
    post_embed(http, fake, [{"text": "first"}])
    between = time.monotonic()
    post_embed(http, fake, [{"text": "second"}])
    first, second = fake.embed_requests
    assert before <= first.at <= between <= second.at <= time.monotonic()


@pytest.mark.parametrize(
    ("model", "dimension"),
    [("tongyi-embedding-vision-plus", 1152), ("tongyi-embedding-vision-flash", 768)],
)
def test_vision_models_have_their_dimension_and_total_tokens(
    fake: FakeDashScope, http: httpx.Client, model: str, dimension: int
) -> None:
    response = post_embed(http, fake, [{"text": "hello"}, {"image": picture_uri(RED)}], model=model)

    assert [len(v) for v in vectors(response)] == [dimension, dimension]
    assert response.json()["usage"]["total_tokens"] == 1 + 896


def test_multi_images_is_the_mean_of_its_images(fake: FakeDashScope, http: httpx.Client) -> None:
    model = "tongyi-embedding-vision-plus"
    red, blue = picture_uri(RED, "noise"), picture_uri(BLUE, "noise")
    response = post_embed(http, fake, [{"multi_images": [red, blue]}, {"image": red}, {"image": blue}], model=model)

    multi, red_vector, blue_vector = vectors(response)
    assert cosine(multi, red_vector + blue_vector) > 0.999
    assert response.json()["output"]["embeddings"][0]["type"] == "multi_images"
    assert response.json()["usage"]["image_count"] == 4


def test_model_dims_override(http: httpx.Client) -> None:
    with FakeDashScope(model_dims={"tiny-model": 64}) as fake:
        (vector,) = vectors(post_embed(http, fake, [{"text": "hi"}], model="tiny-model"))
    assert len(vector) == 64


# -- validation ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "Bearer sk-wrong", "sk-test"])
def test_wrong_or_missing_key_is_401(fake: FakeDashScope, http: httpx.Client, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = http.post(fake.base_url + EMBED_PATH.removeprefix("/api/v1"), json={}, headers=headers)

    assert response.status_code == 401
    assert response.json()["code"] == "InvalidApiKey"
    assert response.json()["message"] == "Invalid API-key provided."
    assert response.json()["request_id"] == response.headers["x-request-id"]


def _png_declared_jpeg() -> str:
    return image_uri(encode_picture(sample_picture(RED), "png"), "jpeg")


def _huge_bmp() -> str:
    return image_uri(encode_picture(sample_picture(RED, size=(1100, 1000)), "bmp"), "bmp")


@pytest.mark.parametrize(
    ("contents", "message_part"),
    [
        ([], "non-empty"),
        ([{"text": "a", "image": "b"}], "exactly one"),
        ([{"audio": "x"}], "exactly one"),
        ([{"text": ""}], "non-empty string"),
        ([{"text": str(i)} for i in range(21)], "limit of 20"),
        ([{"image": picture_uri(RED)}, {"image": picture_uri(BLUE)}], "images exceeds"),
        ([{"video": "oss://a"}, {"video": "oss://b"}], "videos exceeds"),
        ([{"multi_images": [picture_uri(RED)]}], "not supported"),
        ([{"image": "data:image/gif;base64,R0lGOD"}], "data URIs"),
        ([{"image": "data:image/jpeg;base64,%%%"}], "base64"),
        ([{"image": image_uri(b"not a picture")}], "decoded"),
        ([{"image": _png_declared_jpeg()}], "does not match"),
        ([{"image": _huge_bmp()}], "exceeds"),
        ([{"video": "data:video/mp4;base64,AAAA"}], "data URIs"),
        ([{"video": "oss://dashscope-instant/never/uploaded.mp4"}], "url error"),
        ([{"image": "https://api.telegram.org/file/bot123:ABC/photos/file_1.jpg"}], "url error"),
    ],
)
def test_invalid_requests_are_400_invalid_parameter(
    fake: FakeDashScope, http: httpx.Client, contents: list[Any], message_part: str
) -> None:
    response = post_embed(http, fake, contents)

    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParameter"
    assert message_part in response.json()["message"]


def test_unknown_model_and_dimension_parameter_are_refused(fake: FakeDashScope, http: httpx.Client) -> None:
    unknown = post_embed(http, fake, [{"text": "a"}], model="text-embedding-v9")
    dimension = post_embed(http, fake, [{"text": "a"}], parameters={"dimension": 512})
    same_dimension = post_embed(http, fake, [{"text": "a"}], parameters={"dimension": 1024})

    assert (unknown.status_code, unknown.json()["message"]) == (400, "Model not exist.")
    assert (dimension.status_code, dimension.json()["code"]) == (400, "InvalidParameter")
    assert same_dimension.status_code == 200


def test_body_must_be_json(fake: FakeDashScope, http: httpx.Client) -> None:
    response = http.post(
        fake.base_url + EMBED_PATH.removeprefix("/api/v1"),
        content=b"model=x",
        headers={"Authorization": "Bearer sk-test", "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (response.status_code, response.json()["code"]) == (400, "InvalidParameter")


def test_http_urls_are_recorded_and_never_fetched(fake: FakeDashScope, http: httpx.Client) -> None:
    url = "https://api.telegram.org/file/bot123:ABC/videos/file_2.mp4"
    response = post_embed(http, fake, [{"video": url}])

    assert response.json()["message"] == "url error, please check url"
    assert fake.download_attempts == [url]


# -- upload policy, OSS and videos -----------------------------------------------------------------------


def test_policy_requires_the_key_and_points_at_the_fake_oss(fake: FakeDashScope, http: httpx.Client) -> None:
    params = {"action": "getPolicy", "model": V1}
    refused = http.get(f"{fake.base_url}/uploads", params=params)
    answer = http.get(f"{fake.base_url}/uploads", params=params, headers={"Authorization": "Bearer sk-test"})

    assert refused.status_code == 401
    data = answer.json()["data"]
    assert data["upload_host"] == f"{fake.root_url}/oss"
    assert data["upload_dir"].startswith("dashscope-instant/")
    assert (data["expire_in_seconds"], data["x_oss_forbid_overwrite"]) == (300, "true")


def test_uploaded_video_embeds_only_with_the_resolve_header(fake: FakeDashScope, http: httpx.Client) -> None:
    url = upload(http, fake, sample_video(RED, seconds=2))

    without = post_embed(http, fake, [{"video": url}])
    with_header = post_embed(http, fake, [{"video": url}], headers={"X-DashScope-OssResourceResolve": "enable"})

    assert (without.status_code, without.json()["message"]) == (400, "url error, please check url")
    assert with_header.status_code == 200
    assert with_header.json()["output"]["embeddings"][0]["type"] == "video"
    assert with_header.json()["usage"]["duration"] == 2


def test_video_matches_a_photo_of_its_colour(fake: FakeDashScope, http: httpx.Client) -> None:
    resolve = {"X-DashScope-OssResourceResolve": "enable"}
    red_video = upload(http, fake, sample_video(RED))
    contents = [{"video": red_video}, {"image": picture_uri(RED, "hstripes")}]
    video, red_photo = vectors(post_embed(http, fake, contents, headers=resolve))
    (blue_photo,) = vectors(post_embed(http, fake, [{"image": picture_uri(BLUE, "noise")}]))

    assert cosine(video, red_photo) >= 0.85
    assert cosine(video, blue_photo) <= 0.5


def test_undecodable_video_is_unsupported_format(fake: FakeDashScope, http: httpx.Client) -> None:
    url = upload(http, fake, b"\x00" * 1000)
    response = post_embed(http, fake, [{"video": url}], headers={"X-DashScope-OssResourceResolve": "enable"})

    assert (response.status_code, response.json()["code"]) == (415, "BadRequest.UnsupportedFileFormat")


def _policy(http: httpx.Client, fake: FakeDashScope) -> dict[str, Any]:
    answer = http.get(
        f"{fake.base_url}/uploads",
        params={"action": "getPolicy", "model": V1},
        headers={"Authorization": "Bearer sk-test"},
    )
    data: dict[str, Any] = answer.json()["data"]
    return data


def test_oss_refuses_file_not_last(fake: FakeDashScope, http: httpx.Client) -> None:
    policy = _policy(http, fake)
    fields = oss_fields(policy, policy["upload_dir"] + "/a.mp4")
    boundary = "b0undary"
    parts = [("file", "x"), *fields.items()]
    body = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n' for name, value in parts
    )
    response = http.post(
        policy["upload_host"],
        content=(body + f"--{boundary}--\r\n").encode(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )

    assert response.status_code == 400
    assert "<Code>InvalidArgument</Code>" in response.text
    assert fake.uploads == {}


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"headers": {"Authorization": "Bearer sk-test"}}, 400, "InvalidArgument"),
        ({"key": "elsewhere/a.mp4"}, 403, "AccessDenied"),
        ({"Signature": "forged"}, 403, "SignatureDoesNotMatch"),
        ({"drop": "policy"}, 400, "InvalidArgument"),
    ],
)
def test_oss_enforces_the_policy(
    fake: FakeDashScope, http: httpx.Client, change: dict[str, Any], status: int, code: str
) -> None:
    policy = _policy(http, fake)
    fields = oss_fields(policy, change.get("key", policy["upload_dir"] + "/a.mp4"))
    fields.update({k: v for k, v in change.items() if k == "Signature"})
    fields.pop(change.get("drop", ""), None)

    response = http.post(
        policy["upload_host"], data=fields, files={"file": ("a.mp4", b"data")}, headers=change.get("headers")
    )

    assert response.status_code == status
    assert f"<Code>{code}</Code>" in response.text
    assert fake.uploads == {}


def test_oss_refuses_overwrite(fake: FakeDashScope, http: httpx.Client) -> None:
    policy = _policy(http, fake)
    fields = oss_fields(policy, policy["upload_dir"] + "/a.mp4")
    first = http.post(policy["upload_host"], data=fields, files={"file": ("a.mp4", b"one")})
    second = http.post(policy["upload_host"], data=fields, files={"file": ("a.mp4", b"two")})

    assert (first.status_code, second.status_code) == (200, 409)
    assert fake.uploads == {policy["upload_dir"] + "/a.mp4": b"one"}


# -- scripted faults -------------------------------------------------------------------------------------


def test_faults_are_served_in_order_then_normal_answers(fake: FakeDashScope, http: httpx.Client) -> None:
    fake.fail_next(429, "Throttling.RateQuota", "Requests rate limit exceeded.", times=2, retry_after=3)
    fake.fail_next(500, "InternalError")

    answers = [post_embed(http, fake, [{"text": "a"}]) for _ in range(4)]

    assert [a.status_code for a in answers] == [429, 429, 500, 200]
    assert answers[0].json()["code"] == "Throttling.RateQuota"
    assert answers[0].headers["retry-after"] == "3"
    assert "retry-after" not in answers[2].headers
    assert all("x-request-id" in a.headers for a in answers)
    assert len(fake.embed_requests) == 4


def test_fault_can_be_a_200_with_code_or_a_raw_body(fake: FakeDashScope, http: httpx.Client) -> None:
    fake.fail_next(200, "InternalError.Algo", "Algorithm error.")
    fake.fail_next(200, "", body=b"<html>oops</html>")

    with_code = post_embed(http, fake, [{"text": "a"}])
    raw = post_embed(http, fake, [{"text": "a"}])

    assert (with_code.status_code, with_code.json()["code"]) == (200, "InternalError.Algo")
    assert (raw.status_code, raw.content) == (200, b"<html>oops</html>")


def test_down_drops_connections_and_reset_restores(fake: FakeDashScope, http: httpx.Client) -> None:
    fake.down = True
    with pytest.raises(httpx.RemoteProtocolError):
        post_embed(http, fake, [{"text": "a"}])
    fake.fail_next(500, "InternalError")

    fake.reset()

    assert post_embed(http, fake, [{"text": "a"}]).status_code == 200
    assert len(fake.requests) == 1


def test_requests_are_recorded_with_lowercase_headers_and_json(fake: FakeDashScope, http: httpx.Client) -> None:
    post_embed(http, fake, [{"text": "hello"}])

    (recorded,) = fake.embed_requests
    assert recorded.method == "POST"
    assert recorded.headers["authorization"] == "Bearer sk-test"
    assert recorded.json == {"model": V1, "input": {"contents": [{"text": "hello"}]}, "parameters": {}}
    assert json.loads(recorded.body) == recorded.json


# -- semantics -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["plain", "hstripes", "noise"])
def test_same_picture_reencoded_or_resized_is_near_identical(
    fake: FakeDashScope, http: httpx.Client, pattern: str
) -> None:
    original = {"image": picture_uri(RED, pattern)}
    reencoded = {"image": picture_uri(RED, pattern, quality=40, scale=0.5)}
    as_png = {"image": image_uri(encode_picture(sample_picture(RED, pattern), "png", scale=1.5), "png")}

    assert similarity(http, fake, original, reencoded) >= 0.97
    assert similarity(http, fake, original, as_png) >= 0.97


@pytest.mark.parametrize(("first", "second"), [("hstripes", "vstripes"), ("noise", "hstripes"), ("plain", "noise")])
def test_different_pictures_of_one_colour_are_a_scene_not_a_repost(
    fake: FakeDashScope, http: httpx.Client, first: str, second: str
) -> None:
    value = similarity(http, fake, {"image": picture_uri(GREEN, first)}, {"image": picture_uri(GREEN, second)})
    assert 0.80 <= value <= 0.90


def test_faint_structure_still_tells_pictures_apart(fake: FakeDashScope, http: httpx.Client) -> None:
    """Shapes only a few shades off the background (luminance std ~4) are content, not re-encoding noise."""
    faint = (205, 45, 45)
    horizontal = encode_picture(sample_picture(RED, "hstripes", accent=faint))
    vertical = encode_picture(sample_picture(RED, "vstripes", accent=faint))
    resized = encode_picture(sample_picture(RED, "hstripes", accent=faint), quality=50, scale=0.6)

    assert 0.80 <= similarity(http, fake, {"image": image_uri(horizontal)}, {"image": image_uri(vertical)}) <= 0.90
    assert similarity(http, fake, {"image": image_uri(horizontal)}, {"image": image_uri(resized)}) >= 0.97


def test_different_seeds_of_noise_differ_like_different_pictures(fake: FakeDashScope, http: httpx.Client) -> None:
    first = image_uri(encode_picture(sample_picture(RED, "noise", seed=1)))
    second = image_uri(encode_picture(sample_picture(RED, "noise", seed=2)))
    assert 0.80 <= similarity(http, fake, {"image": first}, {"image": second}) <= 0.90


@pytest.mark.parametrize("pattern", ["plain", "hstripes"])
def test_different_colours_are_unrelated(fake: FakeDashScope, http: httpx.Client, pattern: str) -> None:
    red, blue = {"image": picture_uri(RED, pattern)}, {"image": picture_uri(BLUE, pattern)}
    assert similarity(http, fake, red, blue) <= 0.5


@pytest.mark.parametrize(
    ("text", "colour", "other"),
    [("red", RED, BLUE), ("a Blue car", BLUE, RED), ("绿色的草地", GREEN, RED), ("蓝天", BLUE, GREEN)],
)
def test_colour_words_find_pictures_of_that_colour(
    fake: FakeDashScope, http: httpx.Client, text: str, colour: RGB, other: RGB
) -> None:
    for pattern in ("plain", "noise"):
        assert similarity(http, fake, {"text": text}, {"image": picture_uri(colour, pattern)}) >= 0.35
        assert similarity(http, fake, {"text": text}, {"image": picture_uri(other, pattern)}) <= 0.15


@pytest.mark.parametrize("text", ["hello world", "bored cat", "a photo of my holiday"])
def test_other_text_is_far_from_every_picture(fake: FakeDashScope, http: httpx.Client, text: str) -> None:
    for colour in (RED, GREEN, BLUE):
        assert similarity(http, fake, {"text": text}, {"image": picture_uri(colour, "noise")}) <= 0.15


def test_text_similarities(fake: FakeDashScope, http: httpx.Client) -> None:
    same, shared, unrelated, spaced = vectors(
        post_embed(http, fake, ["a red car", "red apple on a table", "the weather today", "a  red car "])
    )
    assert cosine(same, spaced) == pytest.approx(1.0)
    assert cosine(same, shared) >= 0.6
    assert cosine(same, unrelated) < 0.5


def test_vector_for_text_matches_the_wire(fake: FakeDashScope, http: httpx.Client) -> None:
    (wire,) = vectors(post_embed(http, fake, ["blue sky"]))
    assert cosine(wire, fake.vector_for_text("blue sky")) == pytest.approx(1.0)


def test_stop_closes_kept_alive_connections(fake: FakeDashScope, http: httpx.Client) -> None:
    url = fake.base_url + EMBED_PATH.removeprefix("/api/v1")
    assert post_embed(http, fake, [{"text": "a"}]).status_code == 200

    fake.stop()

    with pytest.raises(httpx.TransportError):
        http.post(url, json={}, headers={"Authorization": f"Bearer {fake.api_key}"})
