"""Video normalisation: probe, clip, keyframes and first frame, on videos generated with PyAV."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from bot.media import video as video_module
from bot.media.errors import CorruptMedia, MediaTooLarge, UnsupportedMedia
from bot.media.images import PreparedImage
from bot.media.video import (
    VideoInfo,
    extract_keyframes,
    make_clip,
    probe_video,
    video_fits_api,
)
from tests import media_samples as samples

pytestmark = pytest.mark.slow  # heavy media: encodes and decodes real videos


@pytest.fixture(scope="module")
def video_720p() -> bytes:
    """10 s of 1280x720 at 10 fps, one colour per second."""
    return samples.video(size=(1280, 720), seconds=10, fps=10)


@pytest.fixture(scope="module")
def webm() -> bytes:
    return samples.video(format="webm", codec="libvpx", seconds=3)


@pytest.fixture(scope="module")
def portrait_phone_video() -> bytes:
    """Stored landscape with a red top-left corner and a display matrix saying "turn 90 degrees clockwise"."""
    return samples.video(size=(320, 240), seconds=1, rotation=-90, corner=True, colours=(samples.BLUE,))


def image_of(prepared: PreparedImage) -> Image.Image:
    image = Image.open(io.BytesIO(prepared.data))
    image.load()
    assert (image.format, image.size) == ("JPEG", (prepared.width, prepared.height))
    return image


def nearest_second_colour(pixel: tuple[int, ...]) -> samples.RGB:
    return min(
        samples.SECOND_COLOURS, key=lambda c: sum(abs(a - b) for a, b in zip(c, pixel[:3], strict=True))
    )


def test_probe_720p_mp4(video_720p: bytes) -> None:
    info = probe_video(video_720p)

    assert info == VideoInfo("mp4", pytest.approx(10.0, abs=0.2), 1280, 720, has_video=True, codec="h264")


def test_probe_reads_a_path_like_bytes(video_720p: bytes, tmp_path: Path) -> None:
    path = tmp_path / "clip.bin"
    path.write_bytes(video_720p)

    assert probe_video(path) == probe_video(video_720p)


def test_probe_webm(webm: bytes) -> None:
    info = probe_video(webm)

    assert (info.container, info.width, info.height, info.has_video, info.codec) == (
        "webm",
        320,
        240,
        True,
        "vp8",
    )
    assert info.duration == pytest.approx(3.0, abs=0.2)


def test_probe_reports_upright_size(portrait_phone_video: bytes) -> None:
    info = probe_video(portrait_phone_video)

    assert (info.width, info.height) == (240, 320)


def test_make_clip_is_small_decodable_and_keeps_the_content(video_720p: bytes) -> None:
    clip = make_clip(video_720p)

    assert len(clip) <= 9_000_000
    info = probe_video(clip)
    assert (info.container, info.codec, info.width, info.height) == ("mp4", "h264", 480, 270)
    assert info.duration == pytest.approx(10.0, abs=0.3)
    colours = [nearest_second_colour(image_of(frame).getpixel((10, 10))) for frame in extract_keyframes(clip)]
    assert colours == [samples.colour_at(second) for second in (0, 1, 3, 4, 5, 6, 8, 9)]


def test_make_clip_stops_at_max_seconds_and_side(video_720p: bytes) -> None:
    info = probe_video(make_clip(video_720p, max_seconds=3.0, max_side=160, fps=4.0))

    assert (info.width, info.height) == (160, 90)
    assert info.duration == pytest.approx(3.0, abs=0.5)


def test_make_clip_from_webm_and_from_a_path(webm: bytes, tmp_path: Path) -> None:
    path = tmp_path / "sticker.webm"
    path.write_bytes(webm)

    info = probe_video(make_clip(path))

    assert (info.container, info.width, info.height) == ("mp4", 320, 240)


def test_make_clip_turns_a_phone_video_upright(portrait_phone_video: bytes) -> None:
    clip = make_clip(portrait_phone_video)

    frame = image_of(extract_keyframes(clip, count=1)[0])
    assert frame.size == (240, 320)
    assert nearest_second_colour(frame.getpixel((235, 5))) == samples.RED
    assert nearest_second_colour(frame.getpixel((5, 5))) == samples.BLUE


def test_make_clip_falls_back_to_mpeg4(video_720p: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(video_module, "_clip_encoder", lambda: "mpeg4")

    clip = make_clip(video_720p, max_seconds=2.0)

    assert (probe_video(clip).codec, probe_video(clip).width) == ("mpeg4", 480)


def test_make_clip_refuses_an_impossible_budget(video_720p: bytes) -> None:
    with pytest.raises(MediaTooLarge):
        make_clip(video_720p, max_bytes=500, max_seconds=1.0)


def test_keyframes_are_evenly_spaced(video_720p: bytes) -> None:
    frames = extract_keyframes(video_720p, count=8)

    assert len(frames) == 8
    assert all((frame.format, frame.width, frame.height) == ("jpeg", 512, 288) for frame in frames)
    colours = [nearest_second_colour(image_of(frame).getpixel((256, 144))) for frame in frames]
    assert colours == [samples.colour_at(second) for second in (0, 1, 3, 4, 5, 6, 8, 9)]


def test_keyframes_of_a_long_video_land_on_the_right_seconds() -> None:
    long_video = samples.video(size=(160, 120), seconds=60, fps=10, options={"g": "20"})

    frames = extract_keyframes(long_video, count=4)

    colours = [nearest_second_colour(image_of(frame).getpixel((8, 8))) for frame in frames]
    assert colours == [samples.colour_at(second) for second in (7, 22, 37, 52)]


def test_keyframes_of_a_webm_that_states_no_duration() -> None:
    live_webm = samples.video(format="webm", codec="libvpx", seconds=3, container_options={"live": "1"})
    assert probe_video(live_webm).duration is None

    frames = extract_keyframes(live_webm, count=3)

    colours = [nearest_second_colour(image_of(frame).getpixel((8, 8))) for frame in frames]
    assert colours == [samples.colour_at(second) for second in (0, 1, 2)]


def test_a_video_shorter_than_count_frames_gives_each_frame_once() -> None:
    three_frames = samples.video(seconds=0.3, fps=10)

    assert len(extract_keyframes(three_frames, count=8)) == 3


def test_keyframes_are_upright(portrait_phone_video: bytes) -> None:
    image = image_of(extract_keyframes(portrait_phone_video, count=1)[0])
    assert image.size == (240, 320)
    assert nearest_second_colour(image.getpixel((235, 5))) == samples.RED


@pytest.mark.parametrize(
    "data",
    [samples.garbage(), b"", b"\x00" * 4096],
    ids=["random-bytes", "zero-bytes", "zeros"],
)
@pytest.mark.parametrize("function", [probe_video, make_clip, extract_keyframes])
def test_garbage_is_corrupt_media(data: bytes, function: Callable[[bytes], object]) -> None:
    with pytest.raises(CorruptMedia):
        function(data)


def test_truncated_mp4_is_corrupt_media(video_720p: bytes) -> None:
    with pytest.raises(CorruptMedia):
        probe_video(video_720p[: len(video_720p) // 2])  # the index (moov) sits at the end


def test_audio_only_file_has_no_video() -> None:
    audio = samples.audio_only_mp4()

    info = probe_video(audio)

    assert (info.container, info.has_video, info.width, info.height) == ("mp4", False, 0, 0)
    assert not video_fits_api(info, len(audio))
    for function in (make_clip, extract_keyframes):
        with pytest.raises(UnsupportedMedia):
            function(audio)


@pytest.mark.parametrize(
    ("container", "size", "has_video", "fits"),
    [
        ("mp4", 9_000_000, True, True),
        ("webm", 1_000, True, True),
        ("mov", 9_500_000, True, True),
        ("mp4", 10_000_000, True, False),  # inside 10 MiB, but "10 MB" may mean decimal
        ("mpegts", 1_000, True, False),
        ("3gp", 1_000, True, False),
        ("mp4", 1_000, False, False),
    ],
)
def test_video_fits_api(container: str, size: int, has_video: bool, fits: bool) -> None:
    info = VideoInfo(container, 5.0, 640, 360, has_video=has_video)

    assert video_fits_api(info, size) is fits
