"""The JSON that goes to and comes from the multimodal-embedding endpoint, and the checks around it.

Kept apart from the HTTP client so the exact wire format can be read (and tested) in one place.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bot.dashscope.errors import (
    DimensionMismatch,
    InvalidInput,
    MalformedResponse,
    error_from_response,
    header_value,
)
from bot.dashscope.models import ModelChoice, ModelSpec
from bot.dashscope.types import (
    IMAGE_FORMATS,
    ContentInput,
    EmbedResult,
    ImageInput,
    MultiImageInput,
    TextInput,
    Usage,
    Vector,
    VideoInput,
)

EMBEDDING_PATH = "/services/embeddings/multimodal-embedding/multimodal-embedding"
OSS_SCHEME = "oss://"
VIDEO_URL_SCHEMES = (OSS_SCHEME, "https://", "http://")
MAX_MULTI_IMAGES = 8
MAX_IMAGE_BYTES = 3 * 1024 * 1024
"""The documented 3 MB per image; anything larger is refused locally instead of by a paid round trip."""

_USAGE_FIELDS = ("input_tokens", "image_tokens", "image_count", "duration", "total_tokens")


def validate_contents(contents: Sequence[ContentInput], spec: ModelSpec) -> None:
    """Raise InvalidInput for what the model would refuse, before anything is sent."""
    if not contents:
        raise InvalidInput("no contents to embed")
    if len(contents) > spec.max_elements:
        raise InvalidInput(f"{len(contents)} elements exceed {spec.name}'s limit of {spec.max_elements}")
    _check_count(contents, ImageInput, spec.max_images, "images", spec)
    _check_count(contents, VideoInput, spec.max_videos, "videos", spec)
    for content in contents:
        _validate_content(content, spec)


def _check_count(contents: Sequence[ContentInput], kind: type, limit: int | None, label: str, spec: ModelSpec) -> None:
    count = sum(isinstance(content, kind) for content in contents)
    if limit is not None and count > limit:
        raise InvalidInput(f"{count} {label} exceed {spec.name}'s limit of {limit} per request")


def _validate_content(content: ContentInput, spec: ModelSpec) -> None:
    if isinstance(content, TextInput):
        if not content.text.strip():
            raise InvalidInput("empty text")
    elif isinstance(content, ImageInput):
        _validate_image(content)
    elif isinstance(content, VideoInput):
        if not content.url.startswith(VIDEO_URL_SCHEMES):
            raise InvalidInput("video must be an oss:// or http(s) URL")
    else:
        _validate_multi_images(content, spec)


def _validate_image(image: ImageInput) -> None:
    if image.format not in IMAGE_FORMATS:
        raise InvalidInput(f"image format {image.format!r} is not one of {', '.join(IMAGE_FORMATS)}")
    if not image.data:
        raise InvalidInput("empty image")
    if len(image.data) > MAX_IMAGE_BYTES:
        raise InvalidInput(f"image of {len(image.data)} bytes exceeds {MAX_IMAGE_BYTES}")


def _validate_multi_images(content: MultiImageInput, spec: ModelSpec) -> None:
    if not spec.supports_multi_images:
        raise InvalidInput(f"{spec.name} does not accept multi_images")
    if not 1 <= len(content.images) <= MAX_MULTI_IMAGES:
        raise InvalidInput(f"multi_images takes 1 to {MAX_MULTI_IMAGES} images, got {len(content.images)}")
    for image in content.images:
        _validate_image(image)


def build_request(choice: ModelChoice, contents: Sequence[ContentInput]) -> dict[str, Any]:
    """The request body. `parameters.dimension` only for a non-default dimension: the older models refuse it, and
    the parameter itself is known only from third-party clients, so a default setup never depends on it."""
    parameters: dict[str, Any] = {}
    if choice.non_default_dimension is not None:
        parameters["dimension"] = choice.non_default_dimension
    return {
        "model": choice.name,
        "input": {"contents": [encode_content(content, choice.spec) for content in contents]},
        "parameters": parameters,
    }


def encode_content(content: ContentInput, spec: ModelSpec) -> dict[str, Any]:
    if isinstance(content, TextInput):
        return {"text": content.text[: spec.max_text_chars]}
    if isinstance(content, ImageInput):
        return {"image": image_data_uri(content)}
    if isinstance(content, VideoInput):
        return {"video": content.url}
    return {"multi_images": [image_data_uri(image) for image in content.images]}


def image_data_uri(image: ImageInput) -> str:
    return f"data:image/{image.format};base64,{base64.b64encode(image.data).decode('ascii')}"


def needs_oss_resolve(contents: Sequence[ContentInput]) -> bool:
    """True when the service must resolve `oss://` URLs (it then needs X-DashScope-OssResourceResolve)."""
    return any(isinstance(content, VideoInput) and content.url.startswith(OSS_SCHEME) for content in contents)


def parse_response(body: bytes, headers: Mapping[str, str], expected: int, choice: ModelChoice) -> EmbedResult:
    """Turn a 200 answer into vectors in request order, or raise the error it really carries."""
    request_id = header_value(headers, "x-request-id")
    payload = _load_object(body, request_id)
    if payload.get("code"):
        raise error_from_response(200, body, headers)
    request_id = payload.get("request_id") if isinstance(payload.get("request_id"), str) else request_id
    embeddings = _embeddings_by_index(payload, expected, request_id)
    return EmbedResult(
        vectors=[_vector(item.get("embedding"), choice, request_id) for item in embeddings],
        types=[str(item.get("type", "")) for item in embeddings],
        usage=parse_usage(payload.get("usage")),
        request_id=request_id,
    )


def _load_object(body: bytes, request_id: str | None) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _malformed("response is not JSON", request_id) from None
    if not isinstance(payload, dict):
        raise _malformed("response is not a JSON object", request_id)
    return payload


def _embeddings_by_index(payload: dict[str, Any], expected: int, request_id: str | None) -> list[dict[str, Any]]:
    """The service does not promise answer order, only an `index` per element: sort and check it."""
    output = payload.get("output")
    items = output.get("embeddings") if isinstance(output, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise _malformed("response has no output.embeddings list", request_id)
    indexes = sorted(item.get("index") for item in items if isinstance(item.get("index"), int))
    if indexes != list(range(expected)):
        raise _malformed(f"expected embeddings for indexes 0..{expected - 1}, got {indexes}", request_id)
    return sorted(items, key=lambda item: int(item["index"]))


def _vector(values: object, choice: ModelChoice, request_id: str | None) -> Vector:
    if not isinstance(values, list):
        raise _malformed(f"expected a vector of {choice.dimension} floats, got none", request_id)
    if len(values) != choice.dimension:
        raise DimensionMismatch(
            f"{choice.name} returned vectors of {len(values)} dimensions, not the configured {choice.dimension}: "
            "check EMBEDDING_DIMENSION against what this model really offers",
            status=200, code="DimensionMismatch", request_id=request_id,
        )
    try:
        vector = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError):
        raise _malformed("vector holds non-numbers", request_id) from None
    if vector.ndim != 1 or not np.isfinite(vector).all():
        raise _malformed("vector holds non-finite values", request_id)
    return vector


def parse_usage(raw: object) -> Usage:
    """Every usage field is optional and model-specific; absent or odd values count as 0."""
    fields = raw if isinstance(raw, dict) else {}
    return Usage(**{name: _as_int(fields.get(name)) for name in _USAGE_FIELDS})


def _as_int(value: object) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _malformed(message: str, request_id: str | None) -> MalformedResponse:
    return MalformedResponse(message, status=200, request_id=request_id)
