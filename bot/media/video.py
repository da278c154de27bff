"""Probe videos and shrink them into what the embedding API takes: a small clip or keyframes.

The API downloads videos itself (at most 10 MB, a fixed list of containers), so anything bigger or odder is
cut down to a short, low-resolution H.264 MP4 here. Videos come from strangers: every decode loop is bounded,
decoder failures become CorruptMedia, and nothing is written to disk (PyAV reads and writes memory buffers).
Everything is synchronous and CPU-bound: callers run it in ``asyncio.to_thread``.
"""

from __future__ import annotations

import functools
import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image

from bot.media.errors import CorruptMedia, MediaTooLarge, UnsupportedMedia
from bot.media.images import PreparedImage, prepare_pil_image
from bot.media.sniff import SNIFF_BYTES, sniff_mime

logger = logging.getLogger(__name__)

VideoSource = bytes | Path

API_VIDEO_MAX_BYTES = 10 * 1024 * 1024
API_VIDEO_CONTAINERS: frozenset[str] = frozenset({"mp4", "mpeg", "mpg", "webm", "avi", "flv", "mkv", "mov"})

_API_VIDEO_SAFE_BYTES = int(min(API_VIDEO_MAX_BYTES, 10_000_000) * 0.95)
"""The docs say "10 MB" without saying MB or MiB: stay 5 % under the smaller reading (9.5 decimal MB)."""

_CONTAINER_BY_MIME = {
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
    "video/x-matroska": "mkv",
    "video/x-msvideo": "avi",
    "video/x-flv": "flv",
    "video/mpeg": "mpeg",
    "video/mp2t": "mpegts",
    "video/3gpp": "3gp",
    "video/x-ms-asf": "asf",
    "audio/mp4": "m4a",
}

_MAX_DECODED_FRAMES = 10_000
"""Frames decoded per pass at most: 30 s of 240 fps slow motion fit; broken timestamps cannot make us spin."""

_SEEK_MIN_GAP = 2.0
"""Seconds ahead of the decoder beyond which seeking beats decoding forward (typical GOPs are 1-2 s long)."""

_CLIP_ENCODERS = ("libx264", "mpeg4")  # not plain "h264": it may resolve to a hardware encoder
_CLIP_ATTEMPTS = 3
_CLIP_SHRINK = 0.6
_CLIP_BITRATE_SHARE = 0.8  # of max_bytes over the clip's length, leaving room for the MP4 index
_X264_OPTIONS = {"preset": "veryfast", "crf": "28"}

_PIL_ROTATIONS = {
    90: Image.Transpose.ROTATE_90,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_270,
}


@dataclass(frozen=True)
class VideoInfo:
    """What a cheap look at a video tells: its container, length and upright size."""

    container: str
    duration: float | None
    width: int
    height: int
    has_video: bool
    codec: str | None = None


def probe_video(source: VideoSource) -> VideoInfo:
    """Open the container and decode its first frame; CorruptMedia when that is impossible.

    An audio-only file is reported with ``has_video=False``; the other functions raise UnsupportedMedia.
    """
    container_name = _container_name(_head(source))
    with _open_input(source) as container:
        name = container_name or container.format.name.split(",")[0]
        stream = _video_stream(container)
        if stream is None:
            if not container.streams.audio:
                raise CorruptMedia("no audio or video stream")
            return VideoInfo(name, _known_duration(container, None), 0, 0, has_video=False)
        width, height = _upright_size(_first_frame(container, stream))
        duration = _known_duration(container, stream)
        return VideoInfo(name, duration, width, height, has_video=True, codec=stream.codec_context.name)


def video_fits_api(info: VideoInfo, size: int) -> bool:
    """Whether the original file can be handed to the API as is."""
    return info.has_video and info.container in API_VIDEO_CONTAINERS and size <= _API_VIDEO_SAFE_BYTES


def make_clip(
    source: VideoSource,
    *,
    max_bytes: int = 9_000_000,
    max_side: int = 480,
    max_seconds: float = 30.0,
    fps: float = 8.0,
) -> bytes:
    """Re-encode the first ``max_seconds`` as a silent yuv420p H.264 MP4 (MPEG-4 Part 2 if no H.264 encoder).

    The bit rate is capped from ``max_bytes``; should the result still be too big, the clip is redone smaller.
    Raises MediaTooLarge when even that fails.
    """
    side = max_side
    for _ in range(_CLIP_ATTEMPTS):
        clip = _encode_clip(source, max_side=side, max_seconds=max_seconds, fps=fps, max_bytes=max_bytes)
        if len(clip) <= max_bytes:
            return clip
        logger.info("clip over budget, shrinking", extra={"clip_bytes": len(clip), "max_side": side})
        side = int(side * _CLIP_SHRINK)
    raise MediaTooLarge(f"cannot fit a clip within {max_bytes} bytes", reason="too_large")


def extract_keyframes(source: VideoSource, *, count: int = 8, max_side: int = 512) -> list[PreparedImage]:
    """Frames at the middles of ``count`` equal slices of the video, as JPEGs, for ``multi_images``.

    Videos shorter than ``count`` frames give fewer images: the same frame twice would only waste tokens.
    """
    duration = _duration(source)
    with _open_input(source) as container:
        stream = _require_video_stream(container)
        targets = [(index + 0.5) * duration / count for index in range(count)]
        frames = _distinct(_frames_at(container, stream, targets))
        return [_frame_image(frame, max_side) for frame in frames]


@contextmanager
def _open_input(source: VideoSource) -> Iterator[Any]:
    """Open a container from memory or disk; when no demuxer recognises it, the file is corrupt."""
    if isinstance(source, bytes) and not source:
        raise CorruptMedia("empty file")
    target: io.BytesIO | str = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    try:
        container = av.open(target, mode="r", metadata_errors="replace")  # tags in junk are junk too
    except av.FFmpegError as exc:
        raise CorruptMedia(f"not a readable container: {exc}") from exc
    try:
        yield container
    finally:
        container.close()


def _head(source: VideoSource) -> bytes:
    if isinstance(source, bytes):
        return source[:SNIFF_BYTES]
    with source.open("rb") as file:
        return file.read(SNIFF_BYTES)


def _container_name(head: bytes) -> str | None:
    """Name the container by its magic bytes: FFmpeg's demuxer names lump MP4, MOV, 3GP and MKV, WEBM."""
    mime = sniff_mime(head)
    return _CONTAINER_BY_MIME.get(mime) if mime else None


def _video_stream(container: Any) -> Any | None:
    """The first real video stream: cover art in audio files is a one-picture "video" stream we must skip."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def _require_video_stream(container: Any) -> Any:
    stream = _video_stream(container)
    if stream is None:
        raise UnsupportedMedia("no video stream")
    stream.thread_type = "AUTO"
    return stream


def _known_duration(container: Any, stream: Any | None) -> float | None:
    """The duration the headers state, if any: container first, then the video stream."""
    if container.duration and container.duration > 0:
        return float(container.duration / av.time_base)
    if stream is not None and stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return None


def _duration(source: VideoSource) -> float:
    """The stated duration, or else the end of the last video packet (WebM from MediaRecorder states none)."""
    with _open_input(source) as container:
        stream = _require_video_stream(container)
        known = _known_duration(container, stream)
        if known is not None:
            return known
        origin = stream.start_time or 0
        end = 0
        try:
            for count, packet in enumerate(container.demux(stream)):
                if packet.pts is not None:
                    end = max(end, packet.pts + (packet.duration or 0) - origin)
                if count >= _MAX_DECODED_FRAMES:
                    break
        except av.FFmpegError as exc:  # a damaged tail: the packets read so far still tell the length
            logger.info("demuxing stopped early", extra={"error": str(exc)})
        return float(end * stream.time_base) if stream.time_base else 0.0


def _timed_frames(container: Any, stream: Any) -> Iterator[tuple[Any, float]]:
    """Decode ``stream`` from the current position, yielding frames with seconds since the stream's start.

    Bounded by ``_MAX_DECODED_FRAMES``. A decoder error before any frame means corruption; after some frames
    (a truncated upload) the frames so far are still worth using.
    """
    origin = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
    rate = float(stream.guessed_rate or stream.average_rate or 25)
    decoded = 0
    try:
        for frame in container.decode(stream):
            seconds = frame.time - origin if frame.time is not None else decoded / rate
            decoded += 1
            yield frame, seconds
            if decoded >= _MAX_DECODED_FRAMES:
                logger.warning("decode bound reached", extra={"frames": decoded})
                return
    except av.FFmpegError as exc:
        if decoded == 0:
            raise CorruptMedia(f"cannot decode video: {exc}") from exc
        logger.info("video decoding stopped early", extra={"frames": decoded, "error": str(exc)})


def _first_frame(container: Any, stream: Any) -> Any:
    for frame, _ in _timed_frames(container, stream):
        return frame
    raise CorruptMedia("video stream has no decodable frame")


def _frames_at(container: Any, stream: Any, targets: list[float]) -> Iterator[Any]:
    """For each ascending target second, the frame on screen at that moment (the first one if none is yet).

    Decodes forward while targets are close and seeks when one is far ahead, so a long video costs about
    ``len(targets)`` GOPs rather than every frame.
    """
    frames = _timed_frames(container, stream)
    shown: tuple[Any, float] | None = None
    upcoming: tuple[Any, float] | None = None
    for target in targets:
        if target - (shown[1] if shown else 0.0) > _SEEK_MIN_GAP and _seek(container, stream, target):
            frames, upcoming = _timed_frames(container, stream), None
        while upcoming is not None or (upcoming := next(frames, None)) is not None:
            if upcoming[1] > target:
                break
            shown, upcoming = upcoming, None
        picked = shown or upcoming
        if picked is None:
            raise CorruptMedia("video stream has no decodable frame")
        yield picked[0]


def _seek(container: Any, stream: Any, seconds: float) -> bool:
    """Jump to the keyframe before ``seconds``; False (keep decoding forward) when the index is unusable."""
    try:
        container.seek(
            (stream.start_time or 0) + int(seconds / stream.time_base), stream=stream, backward=True
        )
    except av.FFmpegError as exc:
        logger.info("seek failed, decoding forward", extra={"error": str(exc)})
        return False
    return True


def _distinct(frames: Iterator[Any]) -> list[Any]:
    """Drop repeats of the same frame (consecutive targets that landed on one frame)."""
    kept: list[Any] = []
    for frame in frames:
        if not kept or frame is not kept[-1]:
            kept.append(frame)
    return kept


def _rotation(frame: Any) -> int:
    """Counter-clockwise degrees (0, 90, 180, 270) the display matrix asks for: how phones store portrait."""
    return round((frame.rotation or 0) / 90) * 90 % 360


def _upright_size(frame: Any) -> tuple[int, int]:
    width, height = frame.width, frame.height
    return (height, width) if _rotation(frame) in (90, 270) else (width, height)


def _scaled(width: int, height: int, max_side: int, *, even: bool = False) -> tuple[int, int]:
    """Fit within ``max_side``; ``even`` rounds to even sizes, which yuv420p chroma subsampling needs."""
    scale = min(1.0, max_side / max(width, height))
    step = 2 if even else 1
    return max(step, round(width * scale / step) * step), max(step, round(height * scale / step) * step)


def _frame_image(frame: Any, max_side: int) -> PreparedImage:
    """Scale with swscale first (cheap), then rotate upright and hand over to the image normaliser."""
    width, height = _scaled(frame.width, frame.height, max_side)
    image = frame.to_image(width=width, height=height)
    rotation = _rotation(frame)
    if rotation:
        image = image.transpose(_PIL_ROTATIONS[rotation])
    return prepare_pil_image(image, max_side=max_side)


def _upright_yuv(frame: Any, width: int, height: int) -> Any:
    """A yuv420p frame of the upright picture at ``width`` x ``height`` (the output size, already upright)."""
    rotation = _rotation(frame)
    if not rotation:
        return frame.reformat(width=width, height=height, format="yuv420p")
    coded_width, coded_height = (height, width) if rotation in (90, 270) else (width, height)
    pixels = frame.to_ndarray(width=coded_width, height=coded_height, format="rgb24")
    upright = np.ascontiguousarray(np.rot90(pixels, rotation // 90))
    return av.VideoFrame.from_ndarray(upright, format="rgb24").reformat(format="yuv420p")


@functools.cache
def _clip_encoder() -> str:
    """The best encoder this PyAV build has (the wheels ship libx264; some distribution builds do not)."""
    for name in _CLIP_ENCODERS:
        try:
            av.Codec(name, "w")
        except av.FFmpegError:
            continue
        return name
    raise UnsupportedMedia("no usable video encoder in this PyAV build")


def _sampled_frames(
    container: Any, stream: Any, *, fps: float, max_seconds: float
) -> Iterator[tuple[Any, int]]:
    """Frames of the first ``max_seconds``, at most one per 1/``fps`` s output slot, with the slot number."""
    last_slot = -1
    for frame, seconds in _timed_frames(container, stream):
        if seconds > max_seconds:
            return
        slot = int(seconds * fps)
        if slot > last_slot:
            last_slot = slot
            yield frame, slot


def _encode_clip(
    source: VideoSource, *, max_side: int, max_seconds: float, fps: float, max_bytes: int
) -> bytes:
    rate = Fraction(fps).limit_denominator(1001)
    bit_rate = int(max_bytes * 8 * _CLIP_BITRATE_SHARE / max_seconds)
    output = io.BytesIO()
    with _open_input(source) as container, av.open(output, mode="w", format="mp4") as muxer:
        stream = _require_video_stream(container)
        encoder: Any | None = None
        for frame, slot in _sampled_frames(container, stream, fps=fps, max_seconds=max_seconds):
            if encoder is None:
                size = _scaled(*_upright_size(frame), max_side, even=True)
                encoder = _add_encoder(muxer, *size, rate, bit_rate)
            clip_frame = _upright_yuv(frame, encoder.width, encoder.height)
            clip_frame.pts, clip_frame.time_base = slot, 1 / rate
            muxer.mux(encoder.encode(clip_frame))
        if encoder is None:
            raise CorruptMedia("video stream has no decodable frame")
        muxer.mux(encoder.encode(None))
    return output.getvalue()


def _add_encoder(muxer: Any, width: int, height: int, rate: Fraction, bit_rate: int) -> Any:
    name = _clip_encoder()
    if name == "mpeg4":
        stream = muxer.add_stream(name, rate=rate)
        stream.bit_rate = bit_rate
    else:
        options = {**_X264_OPTIONS, "maxrate": str(bit_rate), "bufsize": str(2 * bit_rate)}
        stream = muxer.add_stream(name, rate=rate, options=options)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    return stream
