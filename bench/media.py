"""Media normalisation figures: what each photo and video route costs in bytes sent and CPU time.

Run ``python -m bench.media``. Inputs are generated (tests/media_samples.py), so the figures are reproducible
without any media on disk; each timing is the best wall time of a few runs (PyAV and x264 use threads).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from bot.media.images import PreparedImage, prepare_image
from bot.media.video import extract_keyframes, make_clip, probe_video, video_fits_api
from tests import media_samples as samples

T = TypeVar("T")

RUNS = 3


@dataclass(frozen=True)
class Row:
    case: str
    input_bytes: int
    sent_bytes: int | None
    size: str
    seconds: float


def best_time(function: Callable[[], T], runs: int = RUNS) -> tuple[T, float]:
    """The result of ``function`` and its fastest wall time over ``runs`` calls."""
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        timings.append(time.perf_counter() - started)
    return result, min(timings)


def photo_rows() -> list[Row]:
    photos = {
        "12 MP camera JPEG": samples.camera_like_jpeg(),
        "12 MB noise PNG": samples.noise_png(),
        "small JPEG (800x600)": samples.camera_like_jpeg(800, 600),
    }
    rows = []
    for name, data in photos.items():
        prepared, seconds = best_time(functools.partial(prepare_image, data))
        passed = " (unchanged)" if prepared.data is data else ""
        size = f"{prepared.width}x{prepared.height} {prepared.format}{passed}"
        rows.append(Row(name, len(data), len(prepared.data), size, seconds))
    return rows


def frames_size(frames: list[PreparedImage]) -> str:
    return f"{len(frames)} x {frames[0].width}x{frames[0].height} jpeg" if frames else "none"


def video_rows() -> list[Row]:
    source = samples.video(size=(1280, 720), seconds=10, fps=25, texture=True)
    info, probe_seconds = best_time(functools.partial(probe_video, source))
    direct = video_fits_api(info, len(source))
    verdict = "fits the API" if direct else "over the limits"
    rows = [
        Row(
            f"(a) direct {info.container}",
            len(source),
            len(source) if direct else None,
            f"{info.width}x{info.height} {info.duration:.1f}s {verdict}",
            probe_seconds,
        )
    ]
    clip, clip_seconds = best_time(functools.partial(make_clip, source))
    clip_info = probe_video(clip)
    clip_size = f"{clip_info.width}x{clip_info.height} {clip_info.duration or 0:.1f}s {clip_info.codec}"
    rows.append(Row("(b) make_clip", len(source), len(clip), clip_size, clip_seconds))
    frames, frames_seconds = best_time(functools.partial(extract_keyframes, source))
    sent = sum(len(frame.data) for frame in frames)
    rows.append(Row("(c) keyframes (8)", len(source), sent, frames_size(frames), frames_seconds))
    # Telegram sends a video's thumbnail as a JPEG of at most 320 px; the middle frame at that size stands in for it.
    # The bot downloads it and prepares it like any photo, so the row times prepare_image on it.
    telegram_thumbnail = extract_keyframes(source, count=1, max_side=320)[0].data
    thumbnail, thumbnail_seconds = best_time(functools.partial(prepare_image, telegram_thumbnail))
    rows.append(
        Row("(d) Telegram thumbnail", len(telegram_thumbnail), len(thumbnail.data), frames_size([thumbnail]),
            thumbnail_seconds)
    )
    return rows


def render(title: str, rows: list[Row]) -> str:
    header = f"{'case':<24} {'input':>12} {'sent':>12} {'ms':>8}  result"
    lines = [title, header, "-" * len(header)]
    for row in rows:
        sent = f"{row.sent_bytes:,}" if row.sent_bytes is not None else "-"
        lines.append(
            f"{row.case:<24} {row.input_bytes:>12,} {sent:>12} {row.seconds * 1000:>8.1f}  {row.size}"
        )
    return "\n".join(lines)


def main() -> None:
    print(render("Photos: prepare_image (bytes, best of 3)", photo_rows()))
    print()
    print(
        render(
            "Video: generated 10 s 1280x720 25 fps H.264, panning texture (bytes, best of 3)", video_rows()
        )
    )


if __name__ == "__main__":
    main()
