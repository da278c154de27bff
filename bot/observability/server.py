"""`METRICS_LISTEN`: GET /metrics (Prometheus text format) and GET /healthz (200 healthy, 503 not), nothing else.

A few lines of asyncio instead of a web framework: two read-only endpoints, one request per connection, served on
the bot's own event loop so that /healthz can ask the database with the bot's own connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.observability.metrics import REGISTRY

log = logging.getLogger(__name__)

HealthCheck = Callable[[], Awaitable[bool]]
Refresh = Callable[[], Awaitable[None]]

REQUEST_TIMEOUT_SECONDS = 5.0
MAX_REQUEST_BYTES = 8192


class MetricsServer:
    def __init__(self, host: str, port: int, healthy: HealthCheck, refresh: Refresh) -> None:
        self._host = host
        self._port = port
        self._healthy = healthy
        self._refresh = refresh
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The bound port (the configured one, or the one the OS chose for port 0)."""
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._port)
        log.info("metrics served", extra={"host": self._host, "port": self.port})

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_SECONDS):
                head = await reader.readuntil(b"\r\n\r\n")
                status, content_type, body = await self._answer(head[:MAX_REQUEST_BYTES])
            writer.write(_response(status, content_type, body))
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass  # a client that hangs up or dawdles gets nothing
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, head: bytes) -> tuple[str, str, bytes]:
        method, _, rest = head.decode("latin-1").partition(" ")
        path = rest.partition(" ")[0].partition("?")[0]
        if method != "GET":
            return "405 Method Not Allowed", "text/plain", b"GET only\n"
        if path == "/metrics":
            await self._refresh()
            return "200 OK", CONTENT_TYPE_LATEST, generate_latest(REGISTRY)
        if path == "/healthz":
            ok = await self._checked()
            return ("200 OK", "text/plain", b"ok\n") if ok else ("503 Service Unavailable", "text/plain", b"down\n")
        return "404 Not Found", "text/plain", b"/metrics or /healthz\n"

    async def _checked(self) -> bool:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_SECONDS - 1):
                return await self._healthy()
        except Exception:
            log.warning("health check failed", exc_info=True)
            return False


def _response(status: str, content_type: str, body: bytes) -> bytes:
    head = (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n")
    return head.encode("latin-1") + body
