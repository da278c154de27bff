"""The socket side of the fake Bot API: a threaded HTTP/1.1 server on 127.0.0.1 in a background thread.

Threads matter: a long-polling getUpdates blocks its connection while the bot sends messages on others.
Keep-alive connections are tracked so ``stop`` can cut them instead of waiting for clients to hang up.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from tests.fakes.telegram_dispatch import Dispatcher, Response

logger = logging.getLogger(__name__)

MAX_REQUEST_BYTES: Final = 50 * 1024 * 1024  # the cloud Bot API's upload limit
_TOO_LARGE: Final = Response.json(413, {"ok": False, "error_code": 413, "description": "Request Entity Too Large"})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeHttpServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            self.close_connection = True
            self._write(_TOO_LARGE)
            return
        body = (
            self._read_chunked() if "chunked" in self.headers.get("Transfer-Encoding", "") else self.rfile.read(length)
        )
        headers = {name.lower(): value for name, value in self.headers.items()}
        self._write(self.server.dispatcher.handle(self.command, self.path, headers, body))

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return bytes(body)
            body += self.rfile.read(size)
            self.rfile.readline()

    def _write(self, response: Response) -> None:
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up, e.g. a long poll cancelled at shutdown

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake telegram: " + format, *args)


class FakeHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, dispatcher: Dispatcher) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.dispatcher = dispatcher
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def root(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def start_background(self) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-telegram", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
