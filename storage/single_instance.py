"""One serving process per SQLite database.

SQLite keeps the job queue, the embedding cache and the counters of one process: a second bot on the same file would
claim the same jobs and answer twice. The serving process holds an exclusive advisory lock on a file beside the
database for as long as it runs; the operating system releases it when the process ends in any way (kill -9
included), so there is nothing stale to clean up. Tools that only add to the database (an import) do not take it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class AlreadyServing(RuntimeError):
    """Another process serves this database."""


class InstanceLock:
    def __init__(self, fd: int, path: Path) -> None:
        self._fd = fd
        self.path = path

    @classmethod
    def acquire(cls, database_path: Path) -> InstanceLock:
        path = database_path.with_name(database_path.name + ".serving.lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AlreadyServing(str(database_path)) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return cls(fd, path)

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
