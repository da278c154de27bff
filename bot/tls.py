"""One TLS configuration for every HTTPS client of the process (Telegram's two connections, DashScope's).

httpx builds a fresh SSL context, reading the whole CA bundle, for each client it creates: ~40 ms of CPU each time.
The bot creates three per start, and the test suite starts hundreds of bots, so the context is built once and shared.
It is the same as httpx's default (certifi's CA bundle, certificates verified); an SSL context is safe to share.
"""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()
