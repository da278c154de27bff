"""Files the fake Telegram knows: their ids, bytes, download paths and what kind of media they are.

Telegram checks the kind when a file_id is re-sent (a photo's id cannot be sent as a video: "type of file
mismatch"), so each file remembers it. Files registered through ``add_file`` have no kind and fit anywhere.
"""

from __future__ import annotations

import itertools
import secrets
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from tests.fakes.telegram_models import FileInfo

MAX_CLOUD_DOWNLOAD: Final = 20 * 1024 * 1024
_FOLDERS: Final = {
    "photo": "photos",
    "thumbnail": "thumbnails",
    "video": "videos",
    "animation": "animations",
    "document": "documents",
    "sticker": "stickers",
    "video_note": "video_notes",
    "audio": "music",
}
_ID_PREFIXES: Final = {
    "photo": "AgAC",
    "video": "BAAC",
    "animation": "CgAC",
    "sticker": "CAAC",
    "video_note": "DQAC",
}


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    data: bytes
    file_size: int
    file_path: str
    kind: str | None
    # The Bot API object this file was delivered as (a video's Video, a photo's list of PhotoSize), so that
    # re-sending its file_id yields the same metadata, as Telegram does.
    media: Any = None
    local_path: str | None = None

    def info(self) -> FileInfo:
        return FileInfo(self.file_id, self.file_unique_id, self.file_size, self.file_path)

    def ids(self) -> dict[str, Any]:
        """The id fields every Bot API file object starts with."""
        return {"file_id": self.file_id, "file_unique_id": self.file_unique_id, "file_size": self.file_size}


class FileStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self._by_id: dict[str, StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}
        self._local_dir: tempfile.TemporaryDirectory[str] | None = None

    def add(
        self,
        data: bytes,
        *,
        kind: str | None = None,
        extension: str = "",
        file_unique_id: str | None = None,
        file_size: int | None = None,
    ) -> StoredFile:
        with self._lock:
            number = next(self._counter)
            folder = _FOLDERS.get(kind or "document", "documents")
            stored = StoredFile(
                file_id=f"{_ID_PREFIXES.get(kind or '', 'BQAC')}AgIAAxkBAAI{number:06d}{secrets.token_urlsafe(12)}",
                file_unique_id=file_unique_id or f"AQAD{number:06d}{secrets.token_urlsafe(6)}",
                data=data,
                file_size=len(data) if file_size is None else file_size,
                file_path=f"{folder}/file_{number}{extension}",
                kind=kind,
            )
            self._by_id[stored.file_id] = stored
            self._by_path[stored.file_path] = stored
            return stored

    def get(self, file_id: str) -> StoredFile | None:
        with self._lock:
            return self._by_id.get(file_id)

    def remove(self, file_id: str) -> None:
        """Telegram no longer serves the file: every method naming it answers as for an unknown file id."""
        with self._lock:
            stored = self._by_id.pop(file_id)
            self._by_path.pop(stored.file_path, None)

    def by_path(self, file_path: str) -> StoredFile | None:
        with self._lock:
            return self._by_path.get(file_path)

    def local_copy(self, stored: StoredFile) -> str:
        """Write the bytes to disk once, as ``telegram-bot-api --local`` does, and return the absolute path."""
        with self._lock:
            if stored.local_path is None:
                if self._local_dir is None:
                    self._local_dir = tempfile.TemporaryDirectory(prefix="fake-telegram-")
                target = Path(self._local_dir.name) / stored.file_path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(stored.data)
                stored.local_path = str(target.resolve())
            return stored.local_path

    def cleanup(self) -> None:
        with self._lock:
            if self._local_dir is not None:
                self._local_dir.cleanup()
                self._local_dir = None
            for stored in self._by_id.values():
                stored.local_path = None
