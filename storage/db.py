"""The one SQLite connection of the process, and the rules every repository follows to use it safely.

aiosqlite runs a single connection on its own thread, shared by all asyncio tasks. A transaction on that
connection is visible to every statement sent meanwhile, so both writes (`transaction`) and reads
(`read`) hold an asyncio lock for their whole duration: no task ever sees another task's uncommitted
work, and writes are applied in one order. Callbacks registered with `after_commit` run after COMMIT but
before the lock is released, so listeners (the in-memory indexes) observe commits in exactly the order SQLite
applied them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Self

import aiosqlite

from storage.migrations import migrate

log = logging.getLogger(__name__)

PAGE_SIZE = 32768
"""Large pages make a 4 MiB vector segment a short chain of overflow pages: a 100k x 1024 chat loads in ~75 ms
at 32 KiB vs ~115 ms at 4 KiB. 64 KiB reads slightly faster still, but makes every small write (a job row, a
counter) a 64 KiB WAL frame. Applies to new database files only: SQLite fixes it with the first table."""
BUSY_TIMEOUT_MS = 5000
INCREMENTAL = 2
"""`PRAGMA auto_vacuum` value of INCREMENTAL."""

AfterCommit = Callable[[], None]


class Database:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self._lock = asyncio.Lock()
        self._after_commit: list[AfterCommit] | None = None

    @classmethod
    async def open(cls, path: Path) -> Self:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
        try:
            conn.row_factory = aiosqlite.Row
            await _configure(conn)
            await migrate(conn)
            await _ensure_incremental_vacuum(conn)
        except BaseException:
            await conn.close()
            raise
        log.info("database open", extra={"db_path": str(path)})
        return cls(conn)

    async def close(self) -> None:
        async with self._lock:
            await self.conn.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any exception (including cancellation)."""
        async with self._lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            self._after_commit = []
            try:
                yield self.conn
            except BaseException:
                self._after_commit = None
                await self.conn.execute("ROLLBACK")
                raise
            callbacks, self._after_commit = self._after_commit, None
            await self.conn.execute("COMMIT")
            for callback in callbacks:
                callback()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[aiosqlite.Connection]:
        """A consistent snapshot for reads of several statements; never sees a half-done transaction."""
        async with self._lock:
            await self.conn.execute("BEGIN")
            try:
                yield self.conn
            finally:
                await self.conn.execute("COMMIT")

    async def ping(self) -> None:
        """Raises when the database cannot answer (health checks)."""
        async with self.read() as conn:
            await conn.execute_fetchall("SELECT 1")

    async def reclaim(self) -> None:
        """After a deletion: hand the freed pages back to the file system and fold the WAL into the database.

        Deleted rows are already zeroed in their pages (secure_delete); `incremental_vacuum` truncates the file by
        the free pages, and the TRUNCATE checkpoint empties the WAL, whose frames still held the old pages."""
        async with self._lock:
            # As a script: the pragma frees one page per step, and sqlite3's execute() steps a row-less statement
            # only once. No transaction is open here (the lock is held), so the script's implicit COMMIT is a no-op.
            await self.conn.executescript("PRAGMA incremental_vacuum;")
            await self.conn.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)")

    def after_commit(self, callback: AfterCommit) -> None:
        """Run `callback` once the current transaction has committed; dropped if it rolls back."""
        if self._after_commit is None:
            raise RuntimeError("after_commit() is only valid inside Database.transaction()")
        self._after_commit.append(callback)


async def _configure(conn: aiosqlite.Connection) -> None:
    # page_size first: it is fixed as soon as the first table exists, and cannot change once in WAL mode.
    await conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
    # Also fixed by the first table: free pages can then be given back without a full VACUUM (see reclaim).
    await conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    await conn.execute("PRAGMA journal_mode = WAL")
    await conn.execute("PRAGMA synchronous = NORMAL")
    await conn.execute("PRAGMA foreign_keys = ON")
    await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    # People's deleted captions and vectors must not linger in free pages or in the WAL.
    await conn.execute("PRAGMA secure_delete = ON")


async def _ensure_incremental_vacuum(conn: aiosqlite.Connection) -> None:
    """A database created before incremental vacuum was on is rebuilt once (a full VACUUM) to switch it on."""
    rows = list(await conn.execute_fetchall("PRAGMA auto_vacuum"))
    if int(rows[0][0]) == INCREMENTAL:
        return
    log.info("rebuilding the database once to enable incremental vacuum")
    await conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    await conn.execute("VACUUM")
