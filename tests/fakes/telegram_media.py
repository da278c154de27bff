"""Building the Bot API media objects (PhotoSize lists, Video, Animation, Document, Sticker, ...).

Photos are real: Telegram delivers several sizes of one photo, so the fake renders downscaled JPEG copies
with Pillow and registers each as its own file; the largest size is the original bytes. Every object is
stored on its file so a bot re-sending the file_id gets the same metadata back.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any, Final

from PIL import Image, UnidentifiedImageError

from tests.fakes.telegram_files import FileStore, StoredFile
from tests.fakes.telegram_models import JSON

# Telegram's photo size classes s, m, x, y, w: the longest side of each generated copy.
PHOTO_SIDES: Final = (90, 320, 800, 1280, 2560)
THUMBNAIL_SIDE: Final = 320


def image_dimensions(data: bytes) -> tuple[int, int] | None:
    try:
        with Image.open(BytesIO(data)) as image:
            return image.size
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def _scaled_jpeg(data: bytes, side: int) -> tuple[bytes, int, int]:
    with Image.open(BytesIO(data)) as image:
        copy = image.convert("RGB")
        copy.thumbnail((side, side))
        buffer = BytesIO()
        copy.save(buffer, format="JPEG", quality=80)
        return buffer.getvalue(), copy.width, copy.height


def _photo_size(stored: StoredFile, width: int, height: int) -> JSON:
    return {**stored.ids(), "width": width, "height": height}


def register_photo(
    files: FileStore, image: bytes, *, file_unique_id: str | None = None, file_size: int | None = None
) -> list[JSON]:
    """Register all sizes of a photo and return them smallest first; ValueError if ``image`` is no image."""
    dimensions = image_dimensions(image)
    if dimensions is None:
        raise ValueError("photo bytes are not an image Pillow can decode")
    width, height = dimensions
    stored_sizes: list[tuple[StoredFile, JSON]] = []
    for side in PHOTO_SIDES:
        if side >= max(width, height):
            break
        data, scaled_width, scaled_height = _scaled_jpeg(image, side)
        unique = f"{file_unique_id}-{side}" if file_unique_id else None
        stored = files.add(data, kind="photo", extension=".jpg", file_unique_id=unique)
        stored_sizes.append((stored, _photo_size(stored, scaled_width, scaled_height)))
    original = files.add(image, kind="photo", extension=".jpg", file_unique_id=file_unique_id, file_size=file_size)
    stored_sizes.append((original, _photo_size(original, width, height)))
    sizes = [size for _, size in stored_sizes]
    for stored, _ in stored_sizes:
        stored.media = sizes
    return sizes


def register_thumbnail(files: FileStore, image: bytes) -> JSON:
    """A thumbnail as Telegram stores it: a small JPEG PhotoSize. ValueError if ``image`` is no image."""
    if image_dimensions(image) is None:
        raise ValueError("thumbnail bytes are not an image Pillow can decode")
    data, width, height = _scaled_jpeg(image, THUMBNAIL_SIDE)
    stored = files.add(data, kind="thumbnail", extension=".jpg")
    size = _photo_size(stored, width, height)
    stored.media = size
    return size


def _with_optional(base: JSON, **optional: Any) -> JSON:
    base.update({key: value for key, value in optional.items() if value is not None})
    return base


def video_object(
    stored: StoredFile,
    *,
    width: int,
    height: int,
    duration: int,
    mime_type: str | None,
    file_name: str | None = None,
    thumbnail: JSON | None = None,
) -> JSON:
    return _with_optional(
        {**stored.ids(), "width": width, "height": height, "duration": duration},
        mime_type=mime_type,
        file_name=file_name,
        thumbnail=thumbnail,
    )


def document_object(
    stored: StoredFile, *, mime_type: str | None, file_name: str | None, thumbnail: JSON | None = None
) -> JSON:
    return _with_optional({**stored.ids()}, file_name=file_name, mime_type=mime_type, thumbnail=thumbnail)


def sticker_object(
    stored: StoredFile, *, is_animated: bool, is_video: bool, emoji: str | None, thumbnail: JSON | None = None
) -> JSON:
    return _with_optional(
        {
            **stored.ids(),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": is_animated,
            "is_video": is_video,
        },
        emoji=emoji,
        thumbnail=thumbnail,
    )


def video_note_object(stored: StoredFile, *, length: int, duration: int, thumbnail: JSON | None = None) -> JSON:
    return _with_optional({**stored.ids(), "length": length, "duration": duration}, thumbnail=thumbnail)


def audio_object(stored: StoredFile, *, duration: int, mime_type: str | None, file_name: str | None) -> JSON:
    return _with_optional({**stored.ids(), "duration": duration}, mime_type=mime_type, file_name=file_name)


def animation_document(animation: JSON) -> JSON:
    """An animation is also delivered as a document of the same file (Telegram sends both fields)."""
    keys = ("file_id", "file_unique_id", "file_size", "file_name", "mime_type", "thumbnail")
    return {key: animation[key] for key in keys if key in animation}


def remember(stored: StoredFile, media: JSON) -> JSON:
    stored.media = media
    return media
