"""Which file to fetch and what to send the API for it: the media routes.

A photo goes as a base64 image. A video goes through DashScope's temporary upload as `oss://` (never a Telegram URL:
it contains the bot token); when it is over the API's limits a local clip is made, then keyframes (vision models),
then the Telegram thumbnail. The route taken is recorded with the item.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bot.core.ports import FileTooBig
from bot.core.types import FileRef, MediaRef
from bot.dashscope.types import ContentInput, ImageInput, MultiImageInput, VideoInput
from bot.media.errors import MediaError, MediaTooLarge, UnsupportedMedia
from bot.media.images import prepare_image
from bot.media.sniff import SNIFF_BYTES, media_family
from bot.media.video import extract_keyframes, make_clip, probe_video, video_fits_api

log = logging.getLogger(__name__)

# The message's own type, for files that state no MIME type and whose bytes the sniffer does not recognise:
# FFmpeg and Pillow read more formats than the sniffer knows, so they get their chance.
DECLARED_MIME = {"photo": "image/jpeg", "sticker": "image/webp", "video_note": "video/mp4", "video": "video/mp4",
                 "animation": "video/mp4"}


@dataclass(frozen=True)
class Prepared:
    """What to send for a media file, and by which route it was made."""

    content: ContentInput
    route: str


class Uploader(Protocol):
    """DashScope's temporary upload (bot.dashscope.client.DashScopeClient), and whether the model reads keyframes."""

    @property
    def supports_multi_images(self) -> bool: ...

    async def upload(self, data: bytes, filename: str, content_type: str) -> str: ...


class FileSource(Protocol):
    """Where media files come from: Telegram (the chat gateway) for live messages, a folder for an imported export
    (bot.core.local_files); everything after the download is the same route."""

    async def download(self, file: FileRef) -> bytes | Path: ...


class MediaRoutes:
    def __init__(self, client: Uploader, source: FileSource, download_limit: int | None) -> None:
        self._client = client
        self._source = source
        self._download_limit = download_limit

    async def prepare(self, media: MediaRef) -> Prepared:
        """Every file is routed by its bytes, not by the message type or the MIME type the sender's app claimed:
        people send videos as "files" named .jpg and PDFs as image/jpeg. Animated (TGS) and video (WEBM)
        stickers are judged by their thumbnail, as is any file the Bot API will not hand out."""
        if media.kind == "sticker" and media.sticker_format != "static":
            return await self._thumbnail_route(media)
        try:
            source = await self._download(media.file)
        except FileTooBig:
            return await self._thumbnail_route(media)
        family = media_family(media.mime_type or DECLARED_MIME.get(media.kind), await _head(source))
        if family == "image":
            return await self._image_from_source(source)
        if family == "video":
            return await self._video_from_source(media, source)
        raise UnsupportedMedia(f"not a picture or a video: {media.mime_type}")

    async def _image_from_source(self, source: bytes | Path, route: str = "image") -> Prepared:
        image = await asyncio.to_thread(prepare_image, await _read(source))
        return Prepared(ImageInput(image.data, image.format), route)

    async def _video_from_source(self, media: MediaRef, source: bytes | Path) -> Prepared:
        """Direct upload when the API takes the file as it is; otherwise a clip, keyframes, then the thumbnail."""
        info = await asyncio.to_thread(probe_video, source)
        if not info.has_video:
            raise UnsupportedMedia("the file has no video stream")
        size = await asyncio.to_thread(_size, source)
        if video_fits_api(info, size):
            url = await self._client.upload(await _read(source), f"video.{info.container}", _video_mime(media))
            return Prepared(VideoInput(url), "video")
        try:
            clip = await asyncio.to_thread(make_clip, source)
            return Prepared(VideoInput(await self._client.upload(clip, "clip.mp4", "video/mp4")), "clip")
        except MediaError as exc:
            log.info("video clip failed, trying fallbacks", extra={"reason": exc.reason})
        if self._client.supports_multi_images:
            frames = await asyncio.to_thread(extract_keyframes, source)
            images = tuple(ImageInput(f.data, f.format) for f in frames)
            return Prepared(MultiImageInput(images), "keyframes")
        return await self._thumbnail_route(media)

    async def _thumbnail_route(self, media: MediaRef) -> Prepared:
        if media.thumbnail is None:
            raise MediaTooLarge("too large to fetch and no thumbnail to fall back on")
        return await self._image_from_source(await self._download(media.thumbnail), route="thumbnail")

    async def _download(self, file: FileRef) -> bytes | Path:
        if self._download_limit is not None and file.file_size and file.file_size > self._download_limit:
            raise FileTooBig(f"{file.file_size} bytes")
        return await self._source.download(file)


async def _read(source: bytes | Path) -> bytes:
    return await asyncio.to_thread(source.read_bytes) if isinstance(source, Path) else source


async def _head(source: bytes | Path) -> bytes:
    """The first bytes, enough to sniff; a local file (possibly gigabytes) is not read whole for that."""
    if isinstance(source, bytes):
        return source[:SNIFF_BYTES]
    return await asyncio.to_thread(_read_head, source)


def _read_head(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(SNIFF_BYTES)


def _size(source: bytes | Path) -> int:
    return source.stat().st_size if isinstance(source, Path) else len(source)


def _video_mime(media: MediaRef) -> str:
    return media.mime_type if media.mime_type and media.mime_type.startswith("video/") else "video/mp4"
