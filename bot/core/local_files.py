"""A folder as the media routes' file source: an exported chat's files, read from disk instead of from Telegram.

The routes ask a source for a file by its `file_id`; for an export that id is the path the export wrote, relative to
the export folder. A path that resolves outside that folder (`../`, an absolute path, a symlink out) is refused:
an export is input from someone else, and must not make the bot read (and send to an API) any other file.
"""

from __future__ import annotations

from pathlib import Path

from bot.core.types import FileRef
from bot.errors import Disposition, Failure


class PathOutsideExport(Failure):
    disposition = Disposition.FAIL_ITEM
    message_key = "corrupt"


class ExportFileMissing(Failure):
    disposition = Disposition.FAIL_ITEM
    message_key = "corrupt"


class FolderFiles:
    def __init__(self, folder: Path) -> None:
        self._folder = folder.resolve()

    def resolve(self, relative: str) -> Path:
        """The file's place inside the folder; refused when it lies outside, missing when it is not there."""
        path = (self._folder / relative).resolve()
        if not path.is_relative_to(self._folder):
            raise PathOutsideExport(f"{relative!r} points outside the export folder: refused")
        if not path.is_file():
            raise ExportFileMissing(f"{relative!r} is missing from the export")
        return path

    async def download(self, file: FileRef) -> Path:
        return self.resolve(file.file_id)
