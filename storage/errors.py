"""Errors of the storage layer that callers above it act on, whichever backend raised them."""

from __future__ import annotations


class StoreUnavailable(ConnectionError):
    """The database did not answer: its server is down or restarting, or the connections to it were lost. The same
    operation may well succeed a moment later (the pool reconnects by itself), so callers wait and try again rather
    than drop what they were storing."""
