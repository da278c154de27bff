"""Recognise media by their first bytes.

Telegram documents carry whatever MIME type the sender's client guessed, and people post PNGs named
``.mp4`` or videos sent as "files". Routing on the magic bytes keeps a lying MIME type from sending a video to
Pillow or a sticker archive to FFmpeg. Only the head of the file is needed (``SNIFF_BYTES``), so callers can
sniff large files without reading them whole.
"""

from __future__ import annotations

from typing import Literal

SNIFF_BYTES = 4096
"""How many leading bytes the sniffer looks at; enough for an ftyp box and an EBML header."""

MediaFamily = Literal["image", "video", "other"]

_PREFIXES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"FLV\x01", "video/x-flv"),
    (b"\x00\x00\x01\xba", "video/mpeg"),  # MPEG program stream pack header
    (b"\x00\x00\x01\xb3", "video/mpeg"),  # MPEG-1/2 elementary video sequence header
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9\x00\xaa\x00\x62\xce\x6c", "video/x-ms-asf"),
    (b"\x1f\x8b", "application/x-tgsticker"),  # animated stickers are gzipped Lottie JSON
    (b"%PDF-", "application/pdf"),
)

_RIFF_KINDS = {b"WEBP": "image/webp", b"AVI ": "video/x-msvideo"}

# Sizes of the BITMAPINFOHEADER variants; checking one keeps a text file starting "BM" from passing as BMP.
_BMP_DIB_HEADER_SIZES = frozenset({12, 16, 40, 52, 56, 64, 108, 124})

_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})
_MAJOR_BRAND_MIMES = {
    b"qt  ": "video/quicktime",
    b"3gp4": "video/3gpp",
    b"3gp5": "video/3gpp",
    b"3gp6": "video/3gpp",
    b"3g2a": "video/3gpp",
    b"M4A ": "audio/mp4",
    b"M4B ": "audio/mp4",
}

_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_EBML_DOCTYPE_ID = b"\x42\x82"
_TS_PACKET = 188


def sniff_mime(data: bytes) -> str | None:
    """Return the MIME type the leading bytes prove, or None when they match nothing we know."""
    for prefix, mime in _PREFIXES:
        if data.startswith(prefix):
            return mime
    if data.startswith(b"RIFF") and len(data) >= 12:
        return _RIFF_KINDS.get(data[8:12])
    if data.startswith(b"BM") and len(data) >= 18:
        return "image/bmp" if int.from_bytes(data[14:18], "little") in _BMP_DIB_HEADER_SIZES else None
    if data[4:8] == b"ftyp":
        return _iso_bmff_mime(data)
    if data.startswith(_EBML_MAGIC):
        return "video/webm" if _ebml_doctype(data) == b"webm" else "video/x-matroska"
    if _is_mpeg_ts(data):
        return "video/mp2t"
    return None


def media_family(declared_mime: str | None, data_head: bytes) -> MediaFamily:
    """Decide which normaliser gets the file: the bytes win; the declared MIME only breaks a tie of silence.

    When the bytes match nothing, the declared type is still worth a try because Pillow and FFmpeg read more
    formats than this sniffer knows, and both raise typed errors on garbage.
    """
    mime = sniff_mime(data_head) or declared_mime or ""
    if mime.startswith("image/"):
        return "image"
    if mime.startswith("video/"):
        return "video"
    return "other"


def _iso_bmff_mime(data: bytes) -> str:
    """Tell HEIC/AVIF stills, QuickTime, 3GP and audio-only MP4 apart by the ftyp box's brands."""
    box_size = int.from_bytes(data[0:4], "big")
    major = data[8:12]
    compatible = data[16 : min(box_size, len(data))]
    brands = {major, *(compatible[i : i + 4] for i in range(0, len(compatible) - 3, 4))}
    if brands & _AVIF_BRANDS:
        return "image/avif"
    if brands & _HEIF_BRANDS:
        return "image/heic"
    return _MAJOR_BRAND_MIMES.get(major, "video/mp4")


def _ebml_doctype(data: bytes) -> bytes | None:
    """Read the DocType ("webm" or "matroska") from the EBML header, if it is in the head we were given."""
    at = data.find(_EBML_DOCTYPE_ID, len(_EBML_MAGIC), 64)
    if at < 0 or at + 2 >= len(data):
        return None
    size_byte = data[at + 2]
    if size_byte & 0x80 == 0:  # only the one-byte size form occurs for such short strings
        return None
    start = at + 3
    return data[start : start + (size_byte & 0x7F)]


def _is_mpeg_ts(data: bytes) -> bool:
    """MPEG transport streams have no magic, only a 0x47 sync byte every 188 bytes: require three in a row."""
    return len(data) > 2 * _TS_PACKET and all(data[i * _TS_PACKET] == 0x47 for i in range(3))
