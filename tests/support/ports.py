"""Local TCP ports for the servers tests start, and for addresses that must refuse connections."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nothing listens on right now: a server of the test's may bind it, or, left alone, connections to it are
    refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
