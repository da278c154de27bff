"""Turn any picture people post into a JPEG/PNG/BMP the embedding API accepts.

The API takes only JPEG, PNG and BMP, at most 3 MB each (undocumented whether before or after base64),
so every other format, every oversized file and every picture whose pixels need fixing (EXIF rotation, alpha,
CMYK, 16-bit) is re-encoded here. Everything is synchronous and CPU-bound: callers run it in
``asyncio.to_thread``.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from bot.media.errors import CorruptMedia, MediaTooLarge, UnsupportedMedia
from bot.media.sniff import sniff_mime

logger = logging.getLogger(__name__)

MAX_API_IMAGE_BYTES = 2_200_000
"""The API's limit is 3 MB, and whether base64 counts is unclear (x4/3 makes 2.25 MB raw): stay under both."""

DEFAULT_MAX_SIDE = 1280
"""Longest side we send. The embedding models look at a few hundred pixels per side, so more detail buys
nothing; 1280 px is also the size of a Telegram photo, so the same picture posted as a photo and as a file
reaches the API at the same resolution (and the photo passes through untouched)."""

MIN_SIDE = 32
"""Shortest side we send: extreme strips (20000x20) are padded to this rather than squashed to 1-px images."""

MAX_PIXELS = 64_000_000
"""Pixel count above which a file is refused as a decompression bomb, checked from the header before
decoding. Below Pillow's own 89 Mpx warning threshold, so Pillow's process-wide guard (not thread-safe to
adjust) never has to fire first. 64 Mpx admits 50 Mpx cameras; 108/200 Mpx phone modes, sent as files, are
refused."""

ImageFormat = Literal["jpeg", "png", "bmp"]

_PASS_THROUGH_FORMATS: dict[str, ImageFormat] = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "BMP": "bmp"}
_PASS_THROUGH_MODES = frozenset({"RGB", "L"})
_HIGH_DEPTH_GRAY_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N"})
_EXIF_ORIENTATION_TAG = 0x0112
_WHITE = (255, 255, 255)

_JPEG_QUALITIES = (90, 80, 70, 55, 40)
_SHRINK_FACTOR = 0.7
_MAX_SHRINKS = 3
_DRAFT_OVERSAMPLING = 2  # decode JPEGs at >= 2x the target, as Image.thumbnail does: resampling stays sharp


@dataclass(frozen=True)
class PreparedImage:
    """An image ready for a ``data:image/<format>;base64,...`` URI."""

    data: bytes
    format: ImageFormat
    width: int
    height: int
    source_format: str | None

    @property
    def mime(self) -> str:
        return f"image/{self.format}"


def prepare_image(
    data: bytes, *, max_bytes: int = MAX_API_IMAGE_BYTES, max_side: int = DEFAULT_MAX_SIDE
) -> PreparedImage:
    """Decode ``data`` and return it upright, flattened to RGB, within ``max_side`` and ``max_bytes``.

    A JPEG/PNG/BMP that already meets every constraint is returned byte for byte, saving a lossy re-encode.
    Raises CorruptMedia, UnsupportedMedia or MediaTooLarge (reason ``"bomb"`` for decompression bombs).
    """
    with _opened(data) as image:
        source_format = image.format.lower() if image.format else None
        passed = _pass_through(image, data, max_bytes, max_side, source_format)
        if passed is not None:
            return passed
        _draft(image, max_side)
        _load(image)
        if _exif_orientation(image) != 1:
            ImageOps.exif_transpose(image, in_place=True)
        return prepare_pil_image(image, max_bytes=max_bytes, max_side=max_side, source_format=source_format)


def prepare_pil_image(
    image: Image.Image,
    *,
    max_bytes: int = MAX_API_IMAGE_BYTES,
    max_side: int = DEFAULT_MAX_SIDE,
    source_format: str | None = None,
) -> PreparedImage:
    """Normalise an already decoded, upright picture (also a video frame) into a JPEG within the limits.

    Always JPEG: it is the one format whose size we can steer by quality, and the embedding gains nothing from
    lossless pixels.
    """
    fitted = _fit(_to_rgb(image), max_side)
    for _ in range(_MAX_SHRINKS + 1):
        encoded = _smallest_jpeg_within(fitted, max_bytes)
        if encoded is not None:
            return PreparedImage(encoded, "jpeg", fitted.width, fitted.height, source_format)
        fitted = _fit(fitted, int(max(fitted.size) * _SHRINK_FACTOR))
    raise MediaTooLarge(f"cannot encode the image within {max_bytes} bytes", reason="too_large")


@contextmanager
def _opened(data: bytes) -> Iterator[Image.Image]:
    """Open lazily (header only) and refuse bombs before a single pixel is decoded."""
    if not data:
        raise CorruptMedia("empty file")
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise MediaTooLarge(str(exc), reason="bomb") from exc
    except UnidentifiedImageError as exc:
        raise _unidentified(data) from exc
    except Exception as exc:  # Pillow's parsers raise many types on hostile input; all mean the same here
        raise CorruptMedia(f"cannot parse the image header: {exc}") from exc
    with image:
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise MediaTooLarge(f"{width}x{height} exceeds {MAX_PIXELS} pixels", reason="bomb")
        yield image


def _unidentified(data: bytes) -> CorruptMedia | UnsupportedMedia:
    """Pillow knows no decoder: a damaged file of a format we recognise, or no picture at all."""
    mime = sniff_mime(data)
    if mime is None or not mime.startswith("image/"):
        return UnsupportedMedia(f"not an image (sniffed {mime})")
    if mime == "image/heic":
        return UnsupportedMedia("HEIC cannot be decoded here")
    return CorruptMedia(f"damaged {mime}")


def _load(image: Image.Image) -> None:
    """Decode the pixels, turning Pillow's many failure types into CorruptMedia."""
    try:
        image.load()
    except Image.DecompressionBombError as exc:
        raise MediaTooLarge(str(exc), reason="bomb") from exc
    except Exception as exc:  # truncation raises OSError, broken streams SyntaxError/ValueError/EOFError...
        raise CorruptMedia(f"cannot decode the image: {exc}") from exc


def _pass_through(
    image: Image.Image, data: bytes, max_bytes: int, max_side: int, source_format: str | None
) -> PreparedImage | None:
    """Return the original bytes when the API would see exactly what a re-encode would give it."""
    api_format = _PASS_THROUGH_FORMATS.get(image.format or "")
    fits = len(data) <= max_bytes and min(image.size) >= MIN_SIDE and max(image.size) <= max_side
    if api_format is None or not fits or image.mode not in _PASS_THROUGH_MODES:
        return None
    # Decode first: a truncated upload must fail here, not at the API, and a PNG's EXIF may follow its pixels.
    _load(image)
    if _exif_orientation(image) != 1 or image.has_transparency_data:
        return None
    return PreparedImage(data, api_format, image.width, image.height, source_format)


def _exif_orientation(image: Image.Image) -> int:
    """The EXIF orientation, 1 (upright) when absent or unreadable: edited photos often carry broken EXIF."""
    try:
        return int(image.getexif().get(_EXIF_ORIENTATION_TAG, 1))
    except Exception:  # Pillow's EXIF parser raises assorted types on damaged blocks
        return 1


def _draft(image: Image.Image, max_side: int) -> None:
    """Let libjpeg decode at 1/2..1/8 scale: a 12 MP photo then costs a fraction of the time and memory."""
    scale = _DRAFT_OVERSAMPLING * max_side / max(image.size)
    if scale < 1:
        image.draft(None, (max(1, int(image.width * scale)), max(1, int(image.height * scale))))


def _to_rgb(image: Image.Image) -> Image.Image:
    """Flatten to 8-bit RGB: transparency onto white (as chats show it), 16-bit grey scaled, not clipped."""
    if image.mode in _HIGH_DEPTH_GRAY_MODES:
        image = _gray_to_8bit(image)
    try:
        if image.has_transparency_data:
            rgba = image.convert("RGBA")
            flat = Image.new("RGB", rgba.size, _WHITE)
            flat.paste(rgba, mask=rgba.getchannel("A"))
            return flat
        return image if image.mode == "RGB" else image.convert("RGB")
    except ValueError as exc:  # modes Pillow cannot convert (e.g. LAB in some builds)
        raise UnsupportedMedia(f"cannot convert image mode {image.mode}: {exc}") from exc


def _gray_to_8bit(image: Image.Image) -> Image.Image:
    """Pillow's own conversion clips 16-bit grey at 255 (a white picture); keep the top 8 bits instead."""
    samples = np.asarray(image.convert("I"), dtype=np.int32)
    return Image.fromarray((np.clip(samples, 0, 0xFFFF) >> 8).astype(np.uint8))


def _fit(image: Image.Image, max_side: int) -> Image.Image:
    """Downscale so the longest side is at most ``max_side``, then pad a too-thin strip to ``MIN_SIDE``."""
    scale = min(1.0, max_side / max(image.size))
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    if size != image.size:
        image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if min(image.size) >= MIN_SIDE:
        return image
    canvas = Image.new("RGB", (max(image.width, MIN_SIDE), max(image.height, MIN_SIDE)), _WHITE)
    canvas.paste(image, ((canvas.width - image.width) // 2, (canvas.height - image.height) // 2))
    return canvas


def _smallest_jpeg_within(image: Image.Image, max_bytes: int) -> bytes | None:
    """Encode at the best quality on the ladder that fits, or None when even the lowest does not."""
    for quality in _JPEG_QUALITIES:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        if buffer.tell() <= max_bytes:
            return buffer.getvalue()
    logger.debug("jpeg over budget at every quality", extra={"size": image.size, "max_bytes": max_bytes})
    return None


def sent_size(path: Path, *, max_side: int = DEFAULT_MAX_SIDE) -> tuple[int, int]:
    """The size `prepare_image` would send for this file, from its header alone (EXIF rotation aside: the area is
    the same): estimates cost without decoding a single pixel."""
    try:
        with Image.open(path) as image:
            width, height = image.size
    except (OSError, Image.DecompressionBombError) as exc:
        raise CorruptMedia(f"not a readable picture: {exc}") from exc
    scale = min(1.0, max_side / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))
