"""What both backends' result rows offer, so one function turns a row into a model for either of them."""

from __future__ import annotations

from typing import Any, Protocol


class Row(Protocol):
    """A row addressed by column name: `aiosqlite.Row` and `asyncpg.Record` alike."""

    def __getitem__(self, key: str, /) -> Any: ...
