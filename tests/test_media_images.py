"""prepare_image: every picture people post becomes something the embedding API takes, or a typed error."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from bot.media.errors import CorruptMedia, MediaTooLarge, UnsupportedMedia
from bot.media.images import (
    DEFAULT_MAX_SIDE,
    MAX_API_IMAGE_BYTES,
    MIN_SIDE,
    PreparedImage,
    prepare_image,
    prepare_pil_image,
)
from tests import media_samples as samples


def decoded(prepared: PreparedImage) -> Image.Image:
    """Decode the output fully, proving it is a valid file of the format it claims."""
    image = Image.open(io.BytesIO(prepared.data))
    image.load()
    assert image.format is not None
    assert image.format.lower() == prepared.format
    assert image.size == (prepared.width, prepared.height)
    return image


def assert_colour(actual: tuple[int, ...], expected: tuple[int, int, int], tolerance: int = 24) -> None:
    assert all(abs(a - e) <= tolerance for a, e in zip(actual[:3], expected, strict=True)), (actual, expected)


@pytest.fixture(scope="module")
def noise_png() -> bytes:
    return samples.noise_png()


def test_big_noise_png_fits_the_budget_and_keeps_its_aspect(noise_png: bytes) -> None:
    assert len(noise_png) > 12_000_000

    prepared = prepare_image(noise_png)

    image = decoded(prepared)
    assert prepared.format == "jpeg"
    assert prepared.source_format == "png"
    assert len(prepared.data) <= MAX_API_IMAGE_BYTES
    assert max(image.size) == DEFAULT_MAX_SIDE
    assert image.width / image.height == pytest.approx(2400 / 1700, rel=0.01)


def test_a_tight_byte_budget_lowers_quality_and_then_size(noise_png: bytes) -> None:
    prepared = prepare_image(noise_png, max_bytes=60_000)

    decoded(prepared)
    assert len(prepared.data) <= 60_000
    assert max(prepared.width, prepared.height) < DEFAULT_MAX_SIDE


def test_an_impossible_byte_budget_is_refused() -> None:
    with pytest.raises(MediaTooLarge) as caught:
        prepare_image(samples.encode(samples.solid((400, 300)), "WEBP"), max_bytes=100)
    assert caught.value.reason == "too_large"


def test_large_camera_jpeg_is_downscaled() -> None:
    photo = samples.encode(samples.cornered((4000, 3000), corner_side=400), "JPEG", quality=90)

    prepared = prepare_image(photo)

    image = decoded(prepared)
    assert image.size == (1280, 960)
    assert_colour(image.getpixel((20, 20)), samples.RED)
    assert_colour(image.getpixel((1200, 900)), samples.BLUE)


def test_webp_becomes_jpeg() -> None:
    prepared = prepare_image(samples.encode(samples.solid((120, 80), samples.GREEN), "WEBP"))

    image = decoded(prepared)
    assert (prepared.format, prepared.source_format) == ("jpeg", "webp")
    assert image.size == (120, 80)
    assert_colour(image.getpixel((60, 40)), samples.GREEN)


@pytest.mark.parametrize(("format", "source_format"), [("WEBP", "webp"), ("GIF", "gif")])
def test_animations_give_their_first_frame(format: str, source_format: str) -> None:
    prepared = prepare_image(samples.animated(format, colours=(samples.RED, samples.GREEN, samples.BLUE)))

    image = decoded(prepared)
    assert (prepared.format, prepared.source_format) == ("jpeg", source_format)
    assert_colour(image.getpixel((32, 24)), samples.RED)


def test_exif_orientation_is_applied() -> None:
    prepared = prepare_image(samples.oriented_jpeg(orientation=6, size=(200, 100)))

    image = decoded(prepared)
    assert image.size == (100, 200)
    assert_colour(image.getpixel((95, 5)), samples.RED)  # stored top-left is displayed top-right
    assert_colour(image.getpixel((5, 5)), samples.BLUE)


@pytest.mark.parametrize(
    ("data", "source_format"),
    [
        (samples.encode(samples.solid((80, 60), samples.GREEN), "TIFF"), "tiff"),
        (samples.encode(samples.solid((80, 60), samples.GREEN).convert("CMYK"), "JPEG"), "jpeg"),
        (samples.encode(samples.solid((80, 60), samples.GREEN).convert("RGBA"), "PNG"), "png"),
    ],
    ids=["tiff", "cmyk-jpeg", "rgba-png"],
)
def test_other_formats_and_modes_become_rgb_jpeg(data: bytes, source_format: str) -> None:
    prepared = prepare_image(data)

    image = decoded(prepared)
    assert (prepared.format, prepared.source_format, image.mode) == ("jpeg", source_format, "RGB")
    assert_colour(image.getpixel((40, 30)), samples.GREEN)


def test_16_bit_grey_is_scaled_not_clipped() -> None:
    prepared = prepare_image(samples.gray16_png(value=0x8000))

    assert_colour(decoded(prepared).getpixel((32, 32)), (128, 128, 128), tolerance=3)


def test_transparency_is_flattened_onto_white() -> None:
    prepared = prepare_image(samples.palette_png_with_transparency(size=(64, 64)))

    image = decoded(prepared)
    assert prepared.format == "jpeg"
    assert_colour(image.getpixel((8, 32)), samples.WHITE)
    assert_colour(image.getpixel((56, 32)), samples.RED)


def test_small_bmp_passes_through_and_a_big_one_is_compressed() -> None:
    small = samples.encode(samples.solid((64, 48)), "BMP")
    big = samples.encode(samples.solid((1500, 1000)), "BMP")

    assert prepare_image(small) == PreparedImage(small, "bmp", 64, 48, "bmp")
    prepared = prepare_image(big)
    assert (prepared.format, prepared.width, prepared.height) == ("jpeg", 1280, 853)
    assert len(prepared.data) < len(big) / 10


@pytest.mark.parametrize("format", ["JPEG", "PNG"])
def test_small_upright_file_passes_through_unchanged(format: str) -> None:
    data = samples.encode(samples.cornered((640, 480)), format)

    prepared = prepare_image(data)

    assert prepared.data is data
    assert (prepared.format, prepared.width, prepared.height) == (format.lower(), 640, 480)


def test_pass_through_still_proves_the_file_decodes() -> None:
    data = samples.encode(samples.solid((640, 480)), "PNG", compress_level=0)

    with pytest.raises(CorruptMedia):
        prepare_image(data[: len(data) // 2])


@pytest.mark.parametrize(
    "data",
    [
        b"",
        samples.camera_like_jpeg(800, 600)[:5000],
        b"\xff\xd8\xff\xe0" + samples.garbage(2000),
        b"\x89PNG\r\n\x1a\n" + samples.garbage(2000),
        samples.animated("GIF")[:40],
    ],
    ids=[
        "zero-bytes",
        "truncated-jpeg",
        "jpeg-magic-then-garbage",
        "png-magic-then-garbage",
        "truncated-gif",
    ],
)
def test_corrupt_files_raise_corrupt_media(data: bytes) -> None:
    with pytest.raises(CorruptMedia) as caught:
        prepare_image(data)
    assert caught.value.reason == "corrupt"


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.7\n" + b"0" * 500, b"hello, this is text", samples.garbage(3000)],
    ids=["pdf", "text", "random-bytes"],
)
def test_non_images_raise_unsupported_media(data: bytes) -> None:
    with pytest.raises(UnsupportedMedia) as caught:
        prepare_image(data)
    assert caught.value.reason == "unsupported"


@pytest.mark.parametrize(
    ("width", "height"),
    [(9_000, 9_000), (50_000, 50_000)],
    ids=["over-our-limit", "over-pillows-own-error-limit"],
)
def test_decompression_bomb_is_refused_fast(width: int, height: int) -> None:
    started = time.perf_counter()

    with pytest.raises(MediaTooLarge) as caught:
        prepare_image(samples.png_header(width, height))

    assert caught.value.reason == "bomb"
    assert time.perf_counter() - started < 1.0


def test_extreme_aspect_ratio_is_padded_to_a_usable_image() -> None:
    strip = samples.encode(samples.solid((20_000, 20), samples.RED), "PNG")

    prepared = prepare_image(strip)

    image = decoded(prepared)
    assert image.size == (DEFAULT_MAX_SIDE, MIN_SIDE)
    column = [image.getpixel((640, y)) for y in range(MIN_SIDE)]
    assert min(green for _, green, _ in column) < 128  # the strip survives as a red line...
    assert_colour(column[0], samples.WHITE)  # ...on white padding


def test_tiny_image_is_padded_rather_than_passed_through() -> None:
    prepared = prepare_image(samples.encode(samples.solid((10, 10)), "PNG"))

    assert (prepared.format, prepared.width, prepared.height) == ("jpeg", MIN_SIDE, MIN_SIDE)


def test_pil_images_share_the_same_normalisation() -> None:
    prepared = prepare_pil_image(samples.solid((3000, 1000), samples.GREEN).convert("RGBA"), max_side=600)

    image = decoded(prepared)
    assert (prepared.format, prepared.source_format, image.size) == ("jpeg", None, (600, 200))
