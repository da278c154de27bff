"""Plain values going into and coming out of the embedding client (no HTTP, no Telegram)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]
ImageFormat = Literal["jpeg", "png", "bmp"]
IMAGE_FORMATS: tuple[ImageFormat, ...] = ("jpeg", "png", "bmp")


@dataclass(frozen=True)
class TextInput:
    text: str


@dataclass(frozen=True)
class ImageInput:
    """Encoded image bytes; sent inline as a data URI so no public URL is ever needed."""

    data: bytes
    format: ImageFormat


@dataclass(frozen=True)
class VideoInput:
    """A URL the service downloads itself: `oss://` from :meth:`DashScopeClient.upload`, or https."""

    url: str


@dataclass(frozen=True)
class MultiImageInput:
    """Several images embedded as one vector (vision models only, at most 8)."""

    images: tuple[ImageInput, ...]


ContentInput = TextInput | ImageInput | VideoInput | MultiImageInput


@dataclass(frozen=True)
class Usage:
    """Billing counters; every field is optional on the wire and differs per model, hence the zeros."""

    input_tokens: int = 0
    image_tokens: int = 0
    image_count: int = 0
    duration: int = 0
    total_tokens: int = 0

    @property
    def tokens(self) -> int:
        """Tokens billed: vision models report a total, v1 only the parts."""
        return self.total_tokens or self.input_tokens + self.image_tokens


@dataclass(frozen=True)
class EmbedResult:
    """One answer: vectors in the order of the request's contents."""

    vectors: list[Vector]
    types: list[str]
    usage: Usage
    request_id: str | None


@dataclass(frozen=True)
class TextEmbedding:
    """One caller's share of a batched text request.

    `usage` covers the whole batch, so callers that account per text divide by `batch_size`.
    """

    vector: Vector
    usage: Usage
    batch_size: int
