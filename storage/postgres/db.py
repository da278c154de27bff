"""A pool of PostgreSQL connections, and the rules every PostgreSQL repository follows to use it.

Unlike the single SQLite connection, each transaction here has a connection of its own, so tasks run truly in
parallel and several processes share the database. Consistency comes from PostgreSQL itself (row locks, `SKIP
LOCKED`, unique constraints, `ON CONFLICT`), never from an in-process lock. `after_commit` callbacks (in-process
listeners) run once the transaction has committed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Self, TypeAlias
from urllib.parse import urlsplit

import asyncpg
from pgvector.asyncpg import register_vector

from storage.errors import DatabaseUnavailable, StoreUnavailable
from storage.postgres.migrations import migrate

log = logging.getLogger(__name__)

POOL_MIN = 1
POOL_MAX = 10
COMMAND_TIMEOUT_SECONDS = 60.0

AfterCommit = Callable[[], None]
Connection: TypeAlias = Any
"""An `asyncpg.Connection` (asyncpg ships no type information)."""


_UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError, TimeoutError, asyncpg.InvalidAuthorizationSpecificationError, asyncpg.InvalidCatalogNameError,
    asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError, asyncpg.ConnectionDoesNotExistError,
)
"""A server that is down, unknown, refusing this login (wrong password included), or without this database."""
_NO_PGVECTOR: tuple[type[BaseException], ...] = (
    asyncpg.FeatureNotSupportedError, asyncpg.UndefinedFileError, asyncpg.InsufficientPrivilegeError,
)
"""`CREATE EXTENSION vector` on a server without pgvector installed (or a role not allowed to create it)."""
CONNECTION_LOST: tuple[type[BaseException], ...] = (
    OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.InternalClientError,
    asyncpg.CannotConnectNowError, asyncpg.AdminShutdownError, asyncpg.CrashShutdownError,
)
"""How asyncpg reports a server that went away while running: a refused or reset socket, a connection closed under
a statement (or a pooled connection found closed), the server's unsolicited FATAL read as an internal client error,
a server starting up or shutting down."""


@contextmanager
def translated() -> Iterator[None]:
    """Driver errors of a lost server become `StoreUnavailable`, the one error the layers above know to wait on."""
    try:
        yield
    except CONNECTION_LOST as exc:
        raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc


def describe(dsn: str) -> str:
    """host:port/database of a DSN, without the user and password."""
    parts = urlsplit(dsn)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or '/'}"


class PgDatabase:
    def __init__(self, pool: asyncpg.Pool, dsn: str) -> None:
        self.pool = pool
        self._dsn = dsn

    @classmethod
    async def open(cls, dsn: str, *, pool_max: int = POOL_MAX) -> Self:
        """Migrates first, on a connection of its own: the pool's connections register the `vector` codec, which
        needs the extension the first migration creates."""
        try:
            conn = await asyncpg.connect(dsn)
            try:
                await migrate(conn)
            finally:
                await conn.close()
            pool = await asyncpg.create_pool(dsn, min_size=POOL_MIN, max_size=pool_max, init=_init_connection,
                                             command_timeout=COMMAND_TIMEOUT_SECONDS)
        except _UNREACHABLE as exc:
            raise DatabaseUnavailable(f"cannot reach the PostgreSQL database {describe(dsn)}: {exc}") from exc
        except _NO_PGVECTOR as exc:
            raise DatabaseUnavailable(f"the PostgreSQL database {describe(dsn)} has no pgvector extension and this "
                                      f"login cannot create it ({exc}): install pgvector, or run "
                                      "CREATE EXTENSION vector as its owner") from exc
        log.info("database open", extra={"backend": "postgresql"})
        return cls(pool, dsn)

    async def close(self) -> None:
        await self.pool.close()

    async def connect(self) -> Connection:
        """A connection of its own, outside the pool, for state that lives as long as a session (a session-level
        advisory lock): the caller closes it. Pool connections are shared and recycled, so they cannot hold one."""
        with translated():
            return await asyncpg.connect(self._dsn)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """One transaction on a connection of its own; COMMIT, then the `after_commit` callbacks; ROLLBACK on any
        exception (including cancellation)."""
        with translated():
            async with self.pool.acquire() as conn:
                work = Transaction(conn)
                async with conn.transaction():
                    yield work
        for callback in work.callbacks:
            callback()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Connection]:
        """A consistent snapshot for reads of several statements."""
        with translated():
            async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
                yield conn

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        """One statement on its own (autocommit)."""
        with translated():
            async with self.pool.acquire() as conn:
                return list(await conn.fetch(query, *args))

    async def fetchval(self, query: str, *args: Any) -> Any:
        with translated():
            async with self.pool.acquire() as conn:
                return await conn.fetchval(query, *args)

    async def execute(self, query: str, *args: Any) -> str:
        with translated():
            async with self.pool.acquire() as conn:
                return str(await conn.execute(query, *args))

    async def ping(self) -> None:
        """Raises when the database cannot answer (health checks)."""
        await self.fetchval("SELECT 1")

    async def reclaim(self) -> None:
        """Deleted rows' space is PostgreSQL's autovacuum's to reuse; nothing to do by hand."""


async def answers(conn: Connection) -> bool:
    """Whether a connection of its own (`PgDatabase.connect`) still reaches its server session, and so still holds
    its session's advisory locks: a terminated backend is noticed only on use, and asyncpg may then report the
    server's unsolicited FATAL as an internal client error instead of a closed link."""
    if conn.is_closed():
        return False
    try:
        await conn.fetchval("SELECT 1")
    except (asyncpg.PostgresError, *CONNECTION_LOST):
        return False
    return True


class Transaction:
    """The connection of one open transaction, and what to run once it commits."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.callbacks: list[AfterCommit] = []

    def after_commit(self, callback: AfterCommit) -> None:
        self.callbacks.append(callback)


async def _init_connection(conn: Connection) -> None:
    await register_vector(conn)
