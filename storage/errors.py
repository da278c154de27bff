"""Errors of the storage layer that callers above it act on, whichever backend raised them."""

from __future__ import annotations


class StoreUnavailable(ConnectionError):
    """The database did not answer: its server is down or restarting, or the connections to it were lost. The same
    operation may well succeed a moment later (the pool reconnects by itself), so callers wait and try again rather
    than drop what they were storing."""


class DatabaseUnavailable(Exception):
    """The database cannot be used at start (unreachable, refusing the login, missing, or without pgvector): unlike
    `StoreUnavailable` in the middle of work, nothing is in hand to wait for, so the process stops with one line
    saying where (host, port, database: never the password) and why."""
