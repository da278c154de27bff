"""SQL both backends share: written once with SQLite's `?` placeholders, numbered here for asyncpg's `$n`."""

from __future__ import annotations

import functools
import itertools
import re

_PLACEHOLDER = re.compile(r"\?")


@functools.cache
def numbered(statement: str) -> str:
    """`statement` with its `?` placeholders replaced by `$1`, `$2`, … in order (the shared statements have no `?`
    inside string literals)."""
    counter = itertools.count(1)
    return _PLACEHOLDER.sub(lambda _match: f"${next(counter)}", statement)


def row_count(status: str) -> int:
    """The row count of a command status such as `UPDATE 3` or `DELETE 0`."""
    return int(status.rsplit(" ", 1)[-1])
