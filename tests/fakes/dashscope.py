"""A faithful fake of DashScope's multimodal-embedding API, its upload-policy endpoint and OSS upload host.

It runs a real HTTP server on 127.0.0.1 in a background thread, so it serves an in-process asyncio app and a
bot started as a subprocess alike. Answers follow /work/shared/dashscope-multimodal-embedding.md: statuses and
error codes from the doc's table, `X-Request-ID` on every answer, embeddings shuffled (clients must sort by
`index`), usage fields per model.

Embeddings are deterministic and carry meaning, so end-to-end tests can reason about similarity:

* an image's vector is mostly its colour histogram over a small palette (squared, so the dominant colour
  rules), plus a modality direction shared by all images and videos, plus a "structure" part projected from
  a 16x16 luminance thumbnail (flat pictures share one fixed structure vector);
* a video is seen like a picture averaged over up to 16 sampled frames (decoded with PyAV), its structure
  weighted lower; `multi_images` is the mean of its images' vectors; pixels are taken as stored (EXIF
  orientation is not applied, so a client that forgets to fix it gets a different vector);
* a text's vector is the colour words it names, a text modality direction and a hash of the text itself;
* the colour directions are shared between texts and images, which is what makes "/search red" find red
  pictures; the modality directions keep text-vs-image similarity moderate, as with real models.

The cosine similarities this gives are listed in `SIMILARITY_TARGETS` (checked by test_fake_dashscope.py).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import io
import json
import math
import random
import re
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import av
import numpy as np
from PIL import Image, ImageDraw, UnidentifiedImageError

V1_MODEL = "multimodal-embedding-v1"
EMBED_PATH = "/api/v1/services/embeddings/multimodal-embedding/multimodal-embedding"
POLICY_PATH = "/api/v1/uploads"
OSS_PATH = "/oss"
OSS_RESOLVE_HEADER = "x-dashscope-ossresourceresolve"
URL_ERROR = "url error, please check url"

V1_MAX_ELEMENTS = 20
MAX_MULTI_IMAGES = 8
MAX_IMAGE_BYTES = 3 * 1024 * 1024
MAX_VIDEO_BYTES = 10 * 1024 * 1024
IMAGE_TOKENS = 896
V1_TEXT_TOKENS = 512
POLICY_SECONDS = 300
MAX_UPLOAD_MB = 1024
OSS_ACCESS_KEY_ID = "LTAI5tFakeDashScopeKey"
_OSS_SECRET = b"fake-oss-secret"
OSS_REQUIRED_FIELDS = (
    "OSSAccessKeyId",
    "Signature",
    "policy",
    "key",
    "x-oss-object-acl",
    "x-oss-forbid-overwrite",
    "success_action_status",
    "file",
)

# --------------------------------------------------------------------------------------------------
# Embedding semantics
# --------------------------------------------------------------------------------------------------

PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (230, 30, 30),
    "orange": (245, 140, 20),
    "yellow": (240, 220, 30),
    "green": (40, 170, 50),
    "cyan": (30, 200, 210),
    "blue": (30, 60, 220),
    "purple": (140, 50, 170),
    "pink": (240, 140, 180),
    "brown": (130, 80, 40),
    "black": (15, 15, 15),
    "gray": (128, 128, 128),
    "white": (240, 240, 240),
}
"""Colours an image is histogrammed over (nearest palette entry per pixel)."""

COLOUR_WORDS: dict[str, str] = {
    "red": "red",
    "green": "green",
    "blue": "blue",
    "yellow": "yellow",
    "black": "black",
    "white": "white",
    "红": "red",
    "绿": "green",
    "蓝": "blue",
    "黄": "yellow",
    "黑": "black",
    "白": "white",
}
"""Words in a text that point at a palette colour (English as whole words, Chinese as characters)."""

_ENGLISH_COLOUR_RE = re.compile(r"\b(" + "|".join(w for w in COLOUR_WORDS if w.isascii()) + r")\b", re.I)
_TOKEN_RE = re.compile(r"[\u3400-\u9fff]|[^\s\u3400-\u9fff]+")

# Squared weights of each part; each modality's weights sum to 1, so parts combine into unit vectors.
VISUAL_MODALITY_W2 = 0.25
IMAGE_COLOUR_W2 = 0.62
IMAGE_STRUCTURE_W2 = 0.13
# A video's structure is an average over moving frames and says less than a photo's: weighted lower, a video
# still matches a photo of its colour (>= 0.85) while two different videos of one colour stay apart (~0.93).
VIDEO_COLOUR_W2 = 0.68
VIDEO_STRUCTURE_W2 = 0.07
TEXT_COLOUR_W2 = 0.36
TEXT_MODALITY_W2 = 0.34
TEXT_CONTENT_W2 = 0.30

THUMB_SIDE = 16
HISTOGRAM_SIDE = 32
FLAT_STD = 1.5
"""Luminance standard deviation (0-255 scale) from which a picture counts as fully structured.

Below it, the structure part leans towards one shared "flat" vector, so re-encoding noise on a plain
picture cannot make two copies of it look different.
"""
VIDEO_SAMPLE_FRAMES = 16

SIMILARITY_TARGETS = {
    "same picture re-encoded or resized": ">= 0.97",
    "different pictures, same dominant colour": "about 0.87 (0.80-0.90)",
    "pictures of different colours": "<= 0.5 (about 0.25-0.40)",
    "text naming a colour vs a picture of it": "about 0.47 (>= 0.35)",
    "text naming a colour vs a picture of another colour": "about 0 (<= 0.15)",
    "text without colour words vs any picture": "about 0",
    "texts naming the same colour": "about 0.70 (>= 0.6)",
    "video vs photo of the same colour": "about 0.90 (>= 0.85)",
    "different videos of the same colour": "about 0.93",
}


@dataclass(frozen=True)
class Space:
    """The fixed directions of one embedding dimension; models of different dimensions are unrelated."""

    dimension: int
    colours: dict[str, np.ndarray]
    image_modality: np.ndarray
    text_modality: np.ndarray
    flat: np.ndarray
    projection: np.ndarray


@lru_cache(maxsize=8)
def space(dimension: int) -> Space:
    """Orthonormal colour, modality and flatness directions, and a random projection for structure."""
    names = [*PALETTE, "<image>", "<text>", "<flat>"]
    if dimension < len(names):
        raise ValueError(f"dimension {dimension} is too small for the fake's semantics")
    rng = np.random.default_rng(dimension)
    basis, _ = np.linalg.qr(rng.standard_normal((dimension, len(names))))
    directions = dict(zip(names, basis.T, strict=True))
    projection = rng.standard_normal((dimension, THUMB_SIDE * THUMB_SIDE)) / math.sqrt(dimension)
    return Space(
        dimension=dimension,
        colours={name: directions[name] for name in PALETTE},
        image_modality=directions["<image>"],
        text_modality=directions["<text>"],
        flat=directions["<flat>"],
        projection=projection,
    )


def unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(unit(np.asarray(a, dtype=np.float64)), unit(np.asarray(b, dtype=np.float64))))


@dataclass(frozen=True)
class Appearance:
    """What the fake "sees" in a picture or video: palette histogram and luminance thumbnail."""

    histogram: np.ndarray
    thumbnail: np.ndarray


def appearance(picture: Image.Image) -> Appearance:
    rgb = picture.convert("RGB")
    return Appearance(histogram=palette_histogram(rgb), thumbnail=luminance_thumbnail(rgb))


def palette_histogram(picture: Image.Image) -> np.ndarray:
    """Fraction of pixels nearest to each palette colour (on a 32x32 downscale)."""
    pixels = np.asarray(picture.resize((HISTOGRAM_SIDE, HISTOGRAM_SIDE), Image.Resampling.BOX), dtype=np.float64)
    palette = np.array(list(PALETTE.values()), dtype=np.float64)
    distances = ((pixels.reshape(-1, 1, 3) - palette.reshape(1, -1, 3)) ** 2).sum(axis=2)
    counts = np.bincount(distances.argmin(axis=1), minlength=len(PALETTE))
    return np.asarray(counts / counts.sum(), dtype=np.float64)


def luminance_thumbnail(picture: Image.Image) -> np.ndarray:
    return np.asarray(picture.convert("L").resize((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BOX), dtype=np.float64)


def mean_appearance(appearances: list[Appearance]) -> Appearance:
    """A video is seen as the average of its sampled frames."""
    return Appearance(
        histogram=np.mean([a.histogram for a in appearances], axis=0),
        thumbnail=np.mean([a.thumbnail for a in appearances], axis=0),
    )


def colour_direction(histogram: np.ndarray, sp: Space) -> np.ndarray:
    """Squaring the fractions lets the dominant colour outweigh small accents."""
    return unit(sum(weight**2 * sp.colours[name] for name, weight in zip(PALETTE, histogram, strict=True)))


def structure_direction(thumbnail: np.ndarray, sp: Space) -> np.ndarray:
    """Random projection of the centred thumbnail (keeps correlations); plain pictures fade into `flat`."""
    centred = (thumbnail - thumbnail.mean()).ravel()
    strength = min(1.0, float(centred.std()) / FLAT_STD)
    projected = unit(sp.projection @ centred)
    return unit(strength * projected + (1.0 - strength) * sp.flat)


def visual_vector(seen: Appearance, sp: Space, *, video: bool = False) -> np.ndarray:
    colour_w2, structure_w2 = (VIDEO_COLOUR_W2, VIDEO_STRUCTURE_W2) if video else (IMAGE_COLOUR_W2, IMAGE_STRUCTURE_W2)
    return unit(
        math.sqrt(colour_w2) * colour_direction(seen.histogram, sp)
        + math.sqrt(VISUAL_MODALITY_W2) * sp.image_modality
        + math.sqrt(structure_w2) * structure_direction(seen.thumbnail, sp)
    )


def text_colours(text: str) -> list[str]:
    found = {COLOUR_WORDS[m.lower()] for m in _ENGLISH_COLOUR_RE.findall(text)}
    found |= {colour for word, colour in COLOUR_WORDS.items() if not word.isascii() and word in text}
    return sorted(found)


def normalise_text(text: str) -> str:
    return " ".join(text.split()).lower()


def word_vector(word: str, dimension: int) -> np.ndarray:
    """Bag of words: texts sharing words share content, so a caption is found by the words it contains."""
    digest = hashlib.sha256(word.strip(".,!?;:\"'()").encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big")).standard_normal(dimension)


def text_vector(text: str, sp: Space) -> np.ndarray:
    colours = text_colours(text)
    content = unit(sum((word_vector(w, sp.dimension) for w in normalise_text(text).split()), np.zeros(sp.dimension)))
    colour_part = unit(sum((sp.colours[c] for c in colours), np.zeros(sp.dimension)))
    return unit(
        math.sqrt(TEXT_COLOUR_W2) * colour_part
        + math.sqrt(TEXT_MODALITY_W2) * sp.text_modality
        + math.sqrt(TEXT_CONTENT_W2) * content
    )


def text_tokens(text: str, limit: int) -> int:
    """Rough token count (words, and one per CJK character), truncated like the service does."""
    return min(limit, len(_TOKEN_RE.findall(text)))


# --------------------------------------------------------------------------------------------------
# Sample media the semantics above understand (for tests of the fake, the client and the pipeline)
# --------------------------------------------------------------------------------------------------

RGB = tuple[int, int, int]
WHITE: RGB = (250, 250, 250)


def sample_picture(
    colour: RGB,
    pattern: str = "plain",
    *,
    accent: RGB = WHITE,
    size: tuple[int, int] = (320, 240),
    seed: int = 0,
) -> Image.Image:
    """A picture dominated by `colour`: "plain", "hstripes"/"vstripes" (accent stripes on ~1/3 of the area)
    or "noise" (blocky random shading, different per `seed`). Different patterns share no structure."""
    width, height = size
    if pattern == "noise":
        rng = np.random.default_rng(seed)
        blocks = np.array(colour, dtype=np.float64) + rng.normal(0, 40, (max(1, height // 20), max(1, width // 20), 3))
        small = Image.fromarray(np.clip(blocks, 0, 255).astype(np.uint8))
        return small.resize(size, Image.Resampling.NEAREST)
    picture = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(picture)
    stripes = 6
    for i in range(stripes):
        if pattern == "hstripes":
            top = i * height // stripes
            draw.rectangle((0, top, width, top + height // (3 * stripes)), fill=accent)
        elif pattern == "vstripes":
            left = i * width // stripes
            draw.rectangle((left, 0, left + width // (3 * stripes), height), fill=accent)
    return picture


def encode_picture(picture: Image.Image, fmt: str = "jpeg", *, quality: int = 90, scale: float = 1.0) -> bytes:
    """Encoded bytes, optionally rescaled: the "same picture, re-encoded" a repost usually is."""
    if scale != 1.0:
        picture = picture.resize((max(1, round(picture.width * scale)), max(1, round(picture.height * scale))))
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt.upper(), **({"quality": quality} if fmt == "jpeg" else {}))
    return buffer.getvalue()


def sample_video(colour: RGB, *, seconds: float = 2.0, fps: int = 10, size: tuple[int, int] = (96, 64)) -> bytes:
    """An MP4 (MPEG-4 part 2, fast to encode) of a `colour` scene with a small white square moving across."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        frame_count = max(1, round(seconds * fps))
        for index in range(frame_count):
            picture = Image.new("RGB", size, colour)
            left = index * (size[0] - 16) // frame_count
            ImageDraw.Draw(picture).rectangle((left, 8, left + 12, 20), fill=WHITE)
            container.mux(stream.encode(av.VideoFrame.from_image(picture)))
        container.mux(stream.encode(None))
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------------
# Recorded traffic, scripted faults, answers
# --------------------------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any = None
    at: float = 0.0
    """When the request arrived (time.monotonic), so tests can check request rates across processes."""


@dataclass(frozen=True)
class _Fault:
    status: int
    code: str
    message: str
    retry_after: float | None
    body: bytes | None


@dataclass
class _Answer:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Policy:
    upload_dir: str
    signature: str
    expires_at: float
    max_file_size_mb: int


class _ErrorAnswer(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class ApiError(_ErrorAnswer):
    """An error answer in DashScope's JSON shape."""


class OssError(_ErrorAnswer):
    """An error answer in OSS's XML shape."""


def invalid(message: str) -> ApiError:
    return ApiError(400, "InvalidParameter", message)


def _json_answer(status: int, payload: dict[str, Any]) -> _Answer:
    return _Answer(status, json.dumps(payload, ensure_ascii=False).encode())


def _api_error_answer(error: ApiError, request_id: str) -> _Answer:
    return _json_answer(error.status, {"code": error.code, "message": error.message, "request_id": request_id})


def _oss_error_answer(error: OssError, request_id: str) -> _Answer:
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n'
        f"  <Code>{error.code}</Code>\n  <Message>{error.message}</Message>\n"
        f"  <RequestId>{request_id}</RequestId>\n  <HostId>127.0.0.1</HostId>\n</Error>\n"
    )
    return _Answer(error.status, xml.encode(), content_type="application/xml")


# --------------------------------------------------------------------------------------------------
# Parsed request elements
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Element:
    """One element of `input.contents`, resolved to what the service would look at."""

    kind: str  # "text" | "image" | "video" | "multi_images"
    text: str = ""
    seen: tuple[Appearance, ...] = ()
    seconds: int = 0


_DATA_URI_RE = re.compile(r"^data:image/(jpeg|png|bmp);base64,(.*)$", re.S)
_PILLOW_FORMATS = {"jpeg": "JPEG", "png": "PNG", "bmp": "BMP"}


def decode_image(data: bytes, declared: str | None) -> Image.Image:
    """Decode like the service: at most 3 MB, and a data URI's declared format must match the bytes."""
    if len(data) > MAX_IMAGE_BYTES:
        raise invalid(f"The image size exceeds the limit of {MAX_IMAGE_BYTES // (1024 * 1024)}MB.")
    try:
        picture = Image.open(io.BytesIO(data))
        picture.load()
    except (UnidentifiedImageError, OSError, ValueError):
        raise invalid("The image could not be decoded, please check the image data.") from None
    if picture.format not in _PILLOW_FORMATS.values():
        raise invalid(f"The image format {picture.format} is not supported; use JPEG, PNG or BMP.")
    if declared is not None and picture.format != _PILLOW_FORMATS[declared]:
        raise invalid(f"The image format {picture.format} does not match the declared format {declared}.")
    return picture


def decode_video(data: bytes) -> tuple[list[Appearance], int]:
    """Sampled frames' appearances and the duration in whole seconds (at least 1)."""
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            stream = container.streams.video[0]
            small = [
                frame.to_image().resize((HISTOGRAM_SIDE, HISTOGRAM_SIDE), Image.Resampling.BOX)
                for frame in container.decode(stream)
            ]
            seconds = _video_seconds(container, stream, len(small))
    except (av.error.FFmpegError, IndexError, ValueError, OSError):
        raise ApiError(415, "BadRequest.UnsupportedFileFormat", "The video file format is not supported.") from None
    if not small:
        raise ApiError(415, "BadRequest.UnsupportedFileFormat", "The video contains no frames.")
    step = max(1, len(small) // VIDEO_SAMPLE_FRAMES)
    return [appearance(frame) for frame in small[::step][:VIDEO_SAMPLE_FRAMES]], seconds


def _video_seconds(container: Any, stream: Any, frame_count: int) -> int:
    if stream.duration is not None and stream.time_base is not None:
        seconds = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        seconds = container.duration / av.time_base
    else:
        seconds = frame_count / float(stream.average_rate or 25)
    return max(1, math.ceil(seconds - 1e-6))


# --------------------------------------------------------------------------------------------------
# The fake


@dataclass(frozen=True)
class FakeModel:
    """What the fake enforces per model: the provider's tables (incl. the unconfirmed "Newer models" lines), written
    out here independently of the bot's own table, so a mistake in one is caught by the other."""

    dimension: int
    """Answered when no `parameters.dimension` is sent."""
    dimensions: tuple[int, ...] = ()
    """Accepted in `parameters.dimension` (v1: only its one dimension, so the parameter changes nothing)."""
    max_elements: int | None = None
    max_images: int | None = None
    max_videos: int | None = None
    multi_images: bool = False
    text_tokens: int = 1024
    fusion: bool = False
    """`parameters.enable_fusion: true` answers one vector for all elements."""
    v1_usage: bool = False
    """Usage as v1 reports it (no `total_tokens`, no `input_tokens_details`)."""


FAKE_MODELS = {
    V1_MODEL: FakeModel(1024, (1024,), max_elements=V1_MAX_ELEMENTS, max_images=1, max_videos=1,
                        text_tokens=V1_TEXT_TOKENS, v1_usage=True),
    "tongyi-embedding-vision-plus": FakeModel(1152, (1152, 1024, 512, 256, 128, 64), multi_images=True),
    "tongyi-embedding-vision-flash": FakeModel(768, (768, 512, 256, 128, 64), multi_images=True),
    "qwen3-vl-embedding": FakeModel(2560, (2560, 2048, 1536, 1024, 768, 512, 256), max_elements=20, fusion=True),
}
_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")
# --------------------------------------------------------------------------------------------------


class FakeDashScope:
    """See the module docstring. Tests drive it through `fail_next`, `latency`, `down` and inspect
    `requests`, `embed_requests`, `uploads`, `download_attempts` and `max_in_flight`."""

    def __init__(self, api_key: str = "sk-test", model_dims: dict[str, int] | None = None) -> None:
        """`model_dims` replaces the model table by these models answering these dimensions (the table's limits
        kept for known names), e.g. a model that answers another length than its documented default."""
        self.api_key = api_key
        self.models = dict(FAKE_MODELS) if model_dims is None else {
            name: replace(FAKE_MODELS.get(name, FakeModel(dim)), dimension=dim) for name, dim in model_dims.items()}
        self.ignore_dimension = False
        """When set, `parameters.dimension` is accepted but the default dimension answered (a model whose docs lie)."""
        self.latency = 0.0
        self.down = False
        self.requests: list[RecordedRequest] = []
        self.uploads: dict[str, bytes] = {}
        self.download_attempts: list[str] = []
        """http(s) URLs the service was asked to fetch (it never can here)."""
        self.max_in_flight = 0
        """Most embedding requests ever processed at once (for concurrency-cap tests)."""
        self._in_flight = 0
        self._faults: deque[_Fault] = deque()
        self._policies: dict[str, _Policy] = {}
        self._lock = threading.Lock()
        self._shuffle = random.Random(0)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        server = _Server(self)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-dashscope", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.drop_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeDashScope:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeDashScope is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/api/v1"

    # -- test controls -----------------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        code: str,
        message: str = "Fault injected by the test.",
        *,
        times: int = 1,
        retry_after: float | None = None,
        body: bytes | None = None,
    ) -> None:
        """Queue `times` scripted answers for the next embedding requests (FIFO); `body` replaces the JSON."""
        with self._lock:
            self._faults.extend(_Fault(status, code, message, retry_after, body) for _ in range(times))

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.uploads.clear()
            self.download_attempts.clear()
            self._faults.clear()
            self._policies.clear()
            self.latency = 0.0
            self.down = False
            self.max_in_flight = 0

    @property
    def embed_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path == EMBED_PATH]

    def vector_for_text(self, text: str, model: str = V1_MODEL, dimension: int | None = None) -> np.ndarray:
        """The vector the fake answers for `text`, for tests that compare against stored vectors."""
        return text_vector(text, space(dimension or self.models[model].dimension))

    def model(self, name: object) -> FakeModel:
        """The model's row; a dated snapshot (`...-2026-03-06`) is its base model; unknown names are refused."""
        found = self.models.get(name) or self.models.get(_SNAPSHOT.sub("", name)) if isinstance(name, str) else None
        if found is None:
            raise invalid("Model not exist.")
        return found

    # -- request handling (called from server threads) ---------------------------------------------

    def handle(self, request: RecordedRequest) -> _Answer | None:
        """The answer to send, or None to drop the connection without one."""
        with self._lock:
            self.requests.append(request)
            if self.down:
                return None
        request_id = str(uuid.uuid4())
        answer = self._route(request, request_id)
        answer.headers.setdefault("X-Request-ID", request_id)
        return answer

    def _route(self, request: RecordedRequest, request_id: str) -> _Answer:
        route = (request.method, request.path)
        try:
            if route == ("POST", EMBED_PATH):
                return self._embedding_answer(request, request_id)
            if route == ("GET", POLICY_PATH):
                return self._policy_answer(request, request_id)
            if route == ("POST", OSS_PATH):
                return self._oss_answer(request, request_id)
            raise ApiError(404, "NotFound", f"No route for {request.method} {request.path}.")
        except ApiError as error:
            return _api_error_answer(error, request_id)
        except OssError as error:
            return _oss_error_answer(error, request_id)

    def _check_auth(self, request: RecordedRequest) -> None:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            raise ApiError(401, "InvalidApiKey", "Invalid API-key provided.")

    def _embedding_answer(self, request: RecordedRequest, request_id: str) -> _Answer:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            if self.latency:
                time.sleep(self.latency)
            fault = self._next_fault()
            if fault is not None:
                return self._fault_answer(fault, request_id)
            self._check_auth(request)
            return self._embed(request, request_id)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _next_fault(self) -> _Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _fault_answer(self, fault: _Fault, request_id: str) -> _Answer:
        if fault.body is not None:
            answer = _Answer(fault.status, fault.body)
        else:
            answer = _api_error_answer(ApiError(fault.status, fault.code, fault.message), request_id)
        if fault.retry_after is not None:
            answer.headers["Retry-After"] = f"{fault.retry_after:g}"
        return answer

    # -- embeddings --------------------------------------------------------------------------------

    def _embed(self, request: RecordedRequest, request_id: str) -> _Answer:
        payload = _json_body(request)
        name = payload.get("model")
        model = self.model(name)
        parameters = _check_parameters(payload.get("parameters"), model)
        dimension = model.dimension if self.ignore_dimension else parameters.get("dimension", model.dimension)
        raw_contents = _raw_contents(payload)
        _check_model_limits(str(name), model, raw_contents)
        oss_enabled = request.headers.get(OSS_RESOLVE_HEADER, "").lower() == "enable"
        elements = [self._element(raw, oss_enabled) for raw in raw_contents]
        sp = space(dimension)
        vectors = [_element_vector(element, sp) for element in elements]
        if parameters.get("enable_fusion") is True:
            vectors, kinds = [unit(np.sum(vectors, axis=0))], ["fusion"]
        else:
            kinds = [element.kind for element in elements]
        embeddings = [
            {"index": index, "embedding": _wire_vector(vector), "type": kind}
            for index, (vector, kind) in enumerate(zip(vectors, kinds, strict=True))
        ]
        return _json_answer(
            200,
            {
                "output": {"embeddings": self._shuffled(embeddings)},
                "usage": _usage(model, elements),
                "request_id": request_id,
            },
        )

    def _shuffled(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A different order every time (never the request order for 2+ items): clients must use `index`."""
        shuffled = list(items)
        with self._lock:
            self._shuffle.shuffle(shuffled)
        if len(items) > 1 and shuffled == items:
            shuffled.reverse()
        return shuffled

    def _element(self, raw: Any, oss_enabled: bool) -> _Element:
        if isinstance(raw, str):
            raw = {"text": raw}
        keys = [k for k in ("text", "image", "video", "multi_images") if k in raw]
        if len(keys) != 1:
            raise invalid("Each content must contain exactly one of text, image, video or multi_images.")
        kind = keys[0]
        value = raw[kind]
        if kind == "text":
            if not isinstance(value, str) or not value.strip():
                raise invalid("The text content must be a non-empty string.")
            return _Element("text", text=value)
        if kind == "image":
            return _Element("image", seen=(appearance(self._image(value, oss_enabled)),))
        if kind == "video":
            frames, seconds = self._video(value, oss_enabled)
            return _Element("video", seen=(mean_appearance(frames),), seconds=seconds)
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_MULTI_IMAGES:
            raise invalid(f"multi_images must be a list of 1 to {MAX_MULTI_IMAGES} images.")
        return _Element("multi_images", seen=tuple(appearance(self._image(v, oss_enabled)) for v in value))

    def _image(self, value: Any, oss_enabled: bool) -> Image.Image:
        if not isinstance(value, str):
            raise invalid("The image must be a URL or a data URI string.")
        match = _DATA_URI_RE.match(value)
        if match is not None:
            try:
                data = base64.b64decode(match.group(2), validate=True)
            except (binascii.Error, ValueError):
                raise invalid("The image data URI is not valid base64.") from None
            return decode_image(data, match.group(1))
        if value.startswith("data:"):
            raise invalid("Only data:image/(jpeg|png|bmp);base64 data URIs are supported for images.")
        return decode_image(self._fetch(value, oss_enabled), declared=None)

    def _video(self, value: Any, oss_enabled: bool) -> tuple[list[Appearance], int]:
        if not isinstance(value, str) or value.startswith("data:"):
            raise invalid("The video must be a URL; data URIs are not supported for video.")
        data = self._fetch(value, oss_enabled)
        if len(data) > MAX_VIDEO_BYTES:
            raise ApiError(413, "BadRequest.TooLarge", "The video file exceeds the size limit of 10MB.")
        return decode_video(data)

    def _fetch(self, url: str, oss_enabled: bool) -> bytes:
        """Resolve a media URL: only `oss://` keys uploaded here (with the resolve header) can be fetched."""
        if url.startswith("oss://"):
            with self._lock:
                data = self.uploads.get(url.removeprefix("oss://"))
            if data is None or not oss_enabled:
                raise invalid(URL_ERROR)
            return data
        if url.startswith(("http://", "https://")):
            with self._lock:
                self.download_attempts.append(url)
        raise invalid(URL_ERROR)

    # -- upload policy and OSS ---------------------------------------------------------------------

    def _policy_answer(self, request: RecordedRequest, request_id: str) -> _Answer:
        self._check_auth(request)
        if request.query.get("action") != "getPolicy":
            raise invalid("Unsupported action.")
        self.model(request.query.get("model"))
        expires = datetime.now(UTC) + timedelta(seconds=POLICY_SECONDS)
        upload_dir = (
            f"dashscope-instant/{hashlib.md5(self.api_key.encode()).hexdigest()}/{expires:%Y-%m-%d}/{uuid.uuid4()}"
        )
        policy_doc = {
            "expiration": expires.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "conditions": [
                ["content-length-range", 0, MAX_UPLOAD_MB * 1024 * 1024],
                ["starts-with", "$key", upload_dir],
            ],
        }
        policy = base64.b64encode(json.dumps(policy_doc).encode()).decode()
        signature = base64.b64encode(hmac.new(_OSS_SECRET, policy.encode(), hashlib.sha1).digest()).decode()
        with self._lock:
            self._policies[policy] = _Policy(upload_dir, signature, time.monotonic() + POLICY_SECONDS, MAX_UPLOAD_MB)
        data = {
            "policy": policy,
            "signature": signature,
            "upload_dir": upload_dir,
            "upload_host": f"{self.root_url}{OSS_PATH}",
            "expire_in_seconds": POLICY_SECONDS,
            "max_file_size_mb": MAX_UPLOAD_MB,
            "capacity_limit_mb": 999999999,
            "oss_access_key_id": OSS_ACCESS_KEY_ID,
            "x_oss_object_acl": "private",
            "x_oss_forbid_overwrite": "true",
        }
        return _json_answer(200, {"request_id": request_id, "data": data})

    def _oss_answer(self, request: RecordedRequest, request_id: str) -> _Answer:
        if "authorization" in request.headers:
            raise OssError(400, "InvalidArgument", "Authorization header is not allowed with a POST policy.")
        parts = _multipart_parts(request)
        names = [part.name for part in parts]
        missing = [name for name in OSS_REQUIRED_FIELDS if name not in names]
        if missing:
            raise OssError(400, "InvalidArgument", f"Missing form field: {missing[0]}.")
        if names[-1] != "file":
            raise OssError(400, "InvalidArgument", "The file field must be the last field in the form.")
        fields = {part.name: part.value for part in parts}
        key = fields["key"].decode()
        self._check_policy(fields, key)
        with self._lock:
            if fields["x-oss-forbid-overwrite"] == b"true" and key in self.uploads:
                raise OssError(409, "FileAlreadyExists", "The object you specified already exists.")
            self.uploads[key] = fields["file"]
        status = 200 if fields["success_action_status"] == b"200" else 204
        return _Answer(status, b"", headers={"x-oss-request-id": request_id})

    def _check_policy(self, fields: dict[str, bytes], key: str) -> None:
        with self._lock:
            policy = self._policies.get(fields["policy"].decode())
        if fields["OSSAccessKeyId"].decode() != OSS_ACCESS_KEY_ID:
            raise OssError(403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist.")
        if policy is None or fields["Signature"].decode() != policy.signature:
            raise OssError(403, "SignatureDoesNotMatch", "The request signature we calculated does not match.")
        if time.monotonic() > policy.expires_at:
            raise OssError(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
        if not key.startswith(policy.upload_dir + "/") or key == policy.upload_dir + "/":
            raise OssError(403, "AccessDenied", "Invalid according to Policy: Policy Condition failed: key.")
        if len(fields["file"]) > policy.max_file_size_mb * 1024 * 1024:
            raise OssError(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")


# --------------------------------------------------------------------------------------------------
# Request helpers
# --------------------------------------------------------------------------------------------------


def _json_body(request: RecordedRequest) -> dict[str, Any]:
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise invalid("Content-Type must be application/json.")
    if not isinstance(request.json, dict):
        raise invalid("The request body is not a valid JSON object.")
    return request.json


def _check_parameters(parameters: Any, model: FakeModel) -> dict[str, Any]:
    if parameters is None:
        return {}
    if not isinstance(parameters, dict):
        raise invalid("parameters must be an object.")
    if "dimension" in parameters and parameters["dimension"] not in model.dimensions:
        raise invalid(f"Parameter dimension {parameters['dimension']!r} is not supported by this model.")
    if "enable_fusion" in parameters and (not model.fusion or not isinstance(parameters["enable_fusion"], bool)):
        raise invalid("Parameter enable_fusion is not supported by this model.")
    fps = parameters.get("fps", 1.0)
    if not isinstance(fps, int | float) or not 0 <= fps <= 1:
        raise invalid("Parameter fps must be between 0 and 1.")
    return parameters


def _raw_contents(payload: dict[str, Any]) -> list[Any]:
    source = payload.get("input")
    contents = source.get("contents") if isinstance(source, dict) else None
    if not isinstance(contents, list) or not contents:
        raise invalid("input.contents must be a non-empty list.")
    if not all(isinstance(item, dict | str) for item in contents):
        raise invalid("Each content must be an object or a string.")
    return contents


def _check_model_limits(name: str, model: FakeModel, contents: list[Any]) -> None:
    """Elements, images and videos per request, and multi_images, as the model's row says."""
    if model.max_elements is not None and len(contents) > model.max_elements:
        raise invalid(f"The number of contents exceeds the limit of {model.max_elements}.")
    dicts = [item for item in contents if isinstance(item, dict)]
    if not model.multi_images and any("multi_images" in item for item in dicts):
        raise invalid(f"multi_images is not supported by model {name}.")
    for kind, limit in (("image", model.max_images), ("video", model.max_videos)):
        if limit is not None and sum(kind in item for item in dicts) > limit:
            raise invalid(f"The number of {kind}s exceeds the limit of {limit} for model {name}.")


def _element_vector(element: _Element, sp: Space) -> np.ndarray:
    if element.kind == "text":
        return text_vector(element.text, sp)
    video = element.kind == "video"
    return unit(np.mean([visual_vector(seen, sp, video=video) for seen in element.seen], axis=0))


def _wire_vector(vector: np.ndarray) -> list[float]:
    return [float(x) for x in np.round(vector, 6)]


def _usage(model: FakeModel, elements: list[_Element]) -> dict[str, Any]:
    limit = model.text_tokens
    text_tokens_used = sum(text_tokens(e.text, limit) for e in elements if e.kind == "text")
    images = sum(len(e.seen) for e in elements if e.kind in ("image", "multi_images"))
    usage: dict[str, Any] = {
        "input_tokens": text_tokens_used,
        "image_tokens": images * IMAGE_TOKENS,
        "image_count": images,
        "duration": sum(e.seconds for e in elements),
    }
    if not model.v1_usage:
        usage["input_tokens_details"] = {
            "text_tokens": text_tokens_used,
            "image_tokens": images * IMAGE_TOKENS,
        }
        usage["total_tokens"] = text_tokens_used + images * IMAGE_TOKENS
    return usage


@dataclass(frozen=True)
class _Part:
    name: str
    value: bytes


def _multipart_parts(request: RecordedRequest) -> list[_Part]:
    content_type = request.headers.get("content-type", "")
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/form-data") or match is None:
        raise OssError(400, "InvalidArgument", "Content-Type must be multipart/form-data with a boundary.")
    delimiter = b"\r\n--" + match.group(1).encode()
    sections = (b"\r\n" + request.body).split(delimiter)
    parts = []
    for section in sections[1:]:
        if section.startswith(b"--"):
            break
        head, _, value = section.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        name = re.search(rb'content-disposition:[^\r\n]*?\bname="([^"]*)"', head, re.I)
        if name is None:
            raise OssError(400, "InvalidArgument", "A form part has no name.")
        parts.append(_Part(name.group(1).decode(), value))
    return parts


# --------------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    """Tracks open connections so `stop()` really goes away instead of leaving keep-alive threads serving."""

    daemon_threads = True

    def __init__(self, fake: FakeDashScope) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        with self._connections_lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up mid-answer (timeouts, stop()) are expected here; anything else is shown."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "fake-dashscope"
    disable_nagle_algorithm = True  # headers and body go out in two writes; Nagle would add 40 ms to each

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def _serve(self) -> None:
        answer = self.server.fake.handle(self._record())
        if answer is None:
            self.close_connection = True
            return
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer.body)

    def _record(self) -> RecordedRequest:
        split = urlsplit(self.path)
        body = self._read_body()
        parsed = None
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            parsed = json.loads(body) if body else None
        return RecordedRequest(
            method=self.command,
            path=split.path,
            query=dict(parse_qsl(split.query)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            json=parsed,
            at=time.monotonic(),
        )

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return b"".join(self._chunks())
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _chunks(self) -> Iterator[bytes]:
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            yield self.rfile.read(size)
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
