"""Generate the media files the normalisation tests and the media benchmark feed in.

Everything is built in memory with Pillow and PyAV, so no binary fixtures live in the repository and each
sample states the property it exists for (a coloured corner, a colour per second, a lying header).
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Sequence
from fractions import Fraction

import av
import numpy as np
from PIL import Image

RGB = tuple[int, int, int]

RED: RGB = (255, 0, 0)
GREEN: RGB = (0, 255, 0)
BLUE: RGB = (0, 0, 255)
WHITE: RGB = (255, 255, 255)

SECOND_COLOURS: tuple[RGB, ...] = (
    (255, 0, 0),
    (0, 255, 0),
    (0, 0, 255),
    (255, 255, 0),
    (255, 0, 255),
    (0, 255, 255),
    (255, 255, 255),
    (0, 0, 0),
    (255, 128, 0),
    (128, 0, 255),
)
"""The colour of second ``n`` of a generated video is ``SECOND_COLOURS[n % 10]``: frames can be told apart."""

EXIF_ORIENTATION = 0x0112


def encode(image: Image.Image, format: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **params)
    return buffer.getvalue()


def solid(size: tuple[int, int], colour: RGB = BLUE) -> Image.Image:
    return Image.new("RGB", size, colour)


def cornered(
    size: tuple[int, int], corner: RGB = RED, rest: RGB = BLUE, corner_side: int = 20
) -> Image.Image:
    """A picture whose top-left corner has its own colour, to see where rotations move it."""
    image = solid(size, rest)
    image.paste(corner, (0, 0, corner_side, corner_side))
    return image


def oriented_jpeg(orientation: int = 6, size: tuple[int, int] = (200, 100)) -> bytes:
    """A landscape JPEG stored with a red top-left corner and an EXIF orientation tag.

    Orientation 6 means "turn 90 degrees clockwise to display": upright it is portrait, red at the top right.
    """
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    return encode(cornered(size), "JPEG", quality=95, exif=exif)


def noise_png(width: int = 2400, height: int = 1700, seed: int = 0) -> bytes:
    """Incompressible RGB noise: 2400x1700 makes a PNG of about 12 MB."""
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return encode(Image.fromarray(pixels, "RGB"), "PNG", compress_level=1)


def camera_like_jpeg(width: int = 4000, height: int = 3000, seed: int = 0) -> bytes:
    """A 12 MP photo stand-in: smooth gradients plus sensor-like noise, saved as cameras do (quality 92)."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, width, dtype=np.float32)
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    base = np.stack(
        np.broadcast_arrays(x * 200 + y * 40, y * 180 + 30 + x * 0, (1 - x) * 150 + y * 60), axis=-1
    )
    noise = rng.normal(0, 8, (height, width, 1)).astype(np.float32)
    pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
    return encode(Image.fromarray(pixels, "RGB"), "JPEG", quality=92)


def animated(
    format: str, colours: Sequence[RGB] = (RED, GREEN, BLUE), size: tuple[int, int] = (64, 48)
) -> bytes:
    """An animation (GIF or WEBP) whose frame ``n`` is a solid ``colours[n]``."""
    frames = [solid(size, colour) for colour in colours]
    return encode(frames[0], format, save_all=True, append_images=frames[1:], duration=100, loop=0)


def palette_png_with_transparency(size: tuple[int, int] = (64, 64)) -> bytes:
    """A palette PNG whose left half is fully transparent and whose right half is opaque red."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (size[0] // 2, 0, size[0], size[1]))
    return encode(image.convert("P", palette=Image.Palette.ADAPTIVE), "PNG")


def gray16_png(value: int = 0x8000, size: tuple[int, int] = (64, 64)) -> bytes:
    """A 16-bit greyscale PNG of one value: 0x8000 must come out mid-grey, not clipped to white."""
    return encode(Image.fromarray(np.full(size[::-1], value, dtype=np.uint16)), "PNG")


def png_header(width: int, height: int) -> bytes:
    """A PNG declaring ``width`` x ``height`` with almost no pixel data: a decompression bomb's header."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00"))
        + chunk(b"IEND", b"")
    )


def colour_at(second: float) -> RGB:
    return SECOND_COLOURS[int(second) % len(SECOND_COLOURS)]


def video(
    *,
    format: str = "mp4",
    codec: str = "libx264",
    size: tuple[int, int] = (320, 240),
    seconds: float = 2.0,
    fps: int = 10,
    rotation: int = 0,
    colours: Sequence[RGB] = SECOND_COLOURS,
    corner: bool = False,
    texture: bool = False,
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
) -> bytes:
    """A video whose colour changes every second (``colours``, by default as ``colour_at`` says).

    Optionally with a red top-left corner marker, a display rotation (counter-clockwise degrees, as PyAV
    reports it) and ``texture``: a panning noise pattern that gives the encoder a camera's bit rate (~4 Mbit/s
    at 720p) to chew on.
    """
    width, height = size
    frame_count = round(seconds * fps)
    pattern = _pan_texture(width, height, frame_count) if texture else None
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=format, container_options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=Fraction(fps), options=options or {})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if rotation:
            stream.set_display_rotation(rotation)
        for index in range(frame_count):
            pixels = np.empty((height, width, 3), dtype=np.uint8)
            pixels[:] = colours[index // fps % len(colours)]
            if corner:
                pixels[:40, :40] = RED
            if pattern is not None:
                pixels //= 2
                pixels += pattern[:, index * _PAN_STEP : index * _PAN_STEP + width]
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


_PAN_STEP = 4  # pixels the texture moves per frame


def _pan_texture(width: int, height: int, frame_count: int) -> np.ndarray:
    """Noise wide enough to slide ``_PAN_STEP`` pixels per frame: detail plus motion, like a handheld shot."""
    shape = (height, width + _PAN_STEP * frame_count, 1)
    return np.random.default_rng(0).integers(0, 64, shape, dtype=np.uint8)


def audio_only_mp4(seconds: float = 1.0, rate: int = 16_000) -> bytes:
    """An MP4 (ftyp isom, like any video) holding nothing but an AAC tone."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("aac", rate=rate)
        samples = int(seconds * rate)
        tone = (0.2 * np.sin(np.arange(samples) * 2 * np.pi * 440 / rate)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(tone[None, :], format="flt", layout="mono")
        frame.sample_rate, frame.pts = rate, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def garbage(size: int = 50_000, seed: int = 1) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()
