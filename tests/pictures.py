"""Test pictures with a known dominant colour: the fake DashScope's embedding follows the dominant colour and the
content, so 'same picture', 'same scene' and 'different' are things a test can construct."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw

COLOURS = {
    "red": (200, 30, 30),
    "green": (30, 170, 40),
    "blue": (30, 50, 200),
    "yellow": (230, 210, 40),
}


def picture(colour: str, seed: int = 0, size: tuple[int, int] = (640, 480), fmt: str = "JPEG") -> bytes:
    """A scene: a background of `colour` with a few seeded shapes (distinct content, same dominant colour)."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, COLOURS[colour])
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        w, h = rng.randrange(20, size[0] // 5), rng.randrange(20, size[1] // 5)
        shade = tuple(max(0, min(255, c + rng.randrange(-60, 60))) for c in COLOURS[colour])
        draw.ellipse((x, y, x + w, y + h), fill=shade)  # type: ignore[arg-type]
    return encode(image, fmt)


def encode(image: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def reencoded(data: bytes, scale: float = 0.8, quality: int = 70) -> bytes:
    """The same picture as another upload of it would arrive: resized and recompressed (a new file_unique_id)."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    size = (int(image.width * scale), int(image.height * scale))
    return encode(image.resize(size), "JPEG", quality=quality)
