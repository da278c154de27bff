"""sniff_mime and media_family: the bytes decide what a file is, whatever its sender's app claimed."""

from __future__ import annotations

import pytest

from bot.media.sniff import SNIFF_BYTES, media_family, sniff_mime
from tests import media_samples as samples


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = b"ftyp" + major + b"\x00\x00\x02\x00" + b"".join(compatible)
    return (len(body) + 4).to_bytes(4, "big") + body + b"\x00\x00\x00\x08free"


def ebml(doctype: bytes) -> bytes:
    body = b"\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82" + bytes([0x80 | len(doctype)]) + doctype
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(body)]) + body + b"\x18\x53\x80\x67"


def bmp_header(dib_size: int) -> bytes:
    return b"BM" + b"\x00" * 12 + dib_size.to_bytes(4, "little") + b"\x00" * 40


CRAFTED = [
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
    (b"GIF87a\x01\x00", "image/gif"),
    (b"GIF89a\x01\x00", "image/gif"),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
    (bmp_header(40), "image/bmp"),
    (bmp_header(124), "image/bmp"),
    (b"II*\x00\x08\x00\x00\x00", "image/tiff"),
    (b"MM\x00*\x00\x00\x00\x08", "image/tiff"),
    (ftyp(b"heic", b"mif1", b"heic"), "image/heic"),
    (ftyp(b"mif1", b"heic"), "image/heic"),
    (ftyp(b"avif", b"mif1", b"miaf"), "image/avif"),
    (ftyp(b"mif1", b"avif"), "image/avif"),
    (ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41"), "video/mp4"),
    (ftyp(b"mp42", b"isom"), "video/mp4"),
    (ftyp(b"avc1"), "video/mp4"),
    (ftyp(b"M4V ", b"M4V ", b"mp42"), "video/mp4"),
    (ftyp(b"qt  ", b"qt  "), "video/quicktime"),
    (ftyp(b"3gp4", b"isom"), "video/3gpp"),
    (ftyp(b"M4A ", b"isom"), "audio/mp4"),
    (ebml(b"webm"), "video/webm"),
    (ebml(b"matroska"), "video/x-matroska"),
    (b"RIFF\x00\x10\x00\x00AVI LIST", "video/x-msvideo"),
    (b"FLV\x01\x05\x00\x00\x00\x09", "video/x-flv"),
    (b"\x00\x00\x01\xba\x44\x00\x04", "video/mpeg"),
    (b"\x00\x00\x01\xb3\x14\x00\xf0", "video/mpeg"),
    ((b"\x47" + b"\x00" * 187) * 4, "video/mp2t"),
    (bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c") + b"\x00" * 8, "video/x-ms-asf"),
    (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "application/x-tgsticker"),
    (b"%PDF-1.7\n%\xe2\xe3", "application/pdf"),
]


@pytest.mark.parametrize(("head", "mime"), CRAFTED, ids=[mime for _, mime in CRAFTED])
def test_magic_bytes(head: bytes, mime: str) -> None:
    assert sniff_mime(head) == mime


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"\xff\xd8",
        b"BM this is text, not a bitmap",
        b"RIFF\x00\x00\x00\x00WAVEfmt ",
        b"hello",
        b"\x47" * 10,
    ],
    ids=["empty", "short-jpeg", "bm-text", "riff-wave", "text", "short-ts"],
)
def test_unknown_or_too_short_heads_are_none(head: bytes) -> None:
    assert sniff_mime(head) is None


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (samples.encode(samples.solid((8, 8)), "JPEG"), "image/jpeg"),
        (samples.encode(samples.solid((8, 8)), "PNG"), "image/png"),
        (samples.encode(samples.solid((8, 8)), "WEBP"), "image/webp"),
        (samples.encode(samples.solid((8, 8)), "BMP"), "image/bmp"),
        (samples.encode(samples.solid((8, 8)), "TIFF"), "image/tiff"),
        (samples.encode(samples.solid((8, 8)), "AVIF"), "image/avif"),
        (samples.animated("GIF"), "image/gif"),
        (samples.video(seconds=0.2), "video/mp4"),
        (samples.video(format="matroska", seconds=0.2), "video/x-matroska"),
        (samples.video(format="webm", codec="libvpx", seconds=0.2), "video/webm"),
        (samples.video(format="avi", codec="mpeg4", seconds=0.2), "video/x-msvideo"),
        (samples.video(format="flv", codec="flv", seconds=0.2), "video/x-flv"),
        (samples.video(format="mov", seconds=0.2), "video/quicktime"),
        (samples.video(format="mpegts", codec="mpeg2video", seconds=0.2), "video/mp2t"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_real_files_from_encoders(data: bytes, mime: str) -> None:
    assert sniff_mime(data[:SNIFF_BYTES]) == mime


PNG = samples.encode(samples.solid((8, 8)), "PNG")
MP4_HEAD = ftyp(b"isom", b"isom", b"avc1")


@pytest.mark.parametrize(
    ("declared", "head", "family"),
    [
        ("video/mp4", PNG, "image"),  # a PNG named .mp4
        ("image/jpeg", MP4_HEAD, "video"),  # a video sent as a "photo" file
        ("video/webm", b"\x1f\x8b\x08\x00", "other"),  # an animated sticker passed off as WEBM
        ("image/jpeg", b"%PDF-1.4", "other"),  # a PDF with a picture's name
        ("video/mp4", ftyp(b"M4A "), "other"),  # audio only
        ("image/png", ftyp(b"heic"), "image"),
        (None, ebml(b"webm"), "video"),
        ("application/octet-stream", PNG, "image"),
    ],
)
def test_bytes_win_over_a_lying_mime(declared: str | None, head: bytes, family: str) -> None:
    assert media_family(declared, head) == family


@pytest.mark.parametrize(
    ("declared", "family"),
    [("video/ogg", "video"), ("image/x-icon", "image"), ("application/zip", "other"), (None, "other")],
)
def test_declared_mime_decides_only_when_the_bytes_say_nothing(declared: str | None, family: str) -> None:
    assert media_family(declared, b"OggS\x00\x02 unknown to the sniffer") == family
