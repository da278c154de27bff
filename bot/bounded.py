"""In-memory maps keyed by chat or user must not grow with every chat the bot ever saw.

`ExpiringMap` forgets an entry `ttl` seconds after it was last written and never holds more than `max_size`
entries. It is ordered by write time, so the expired entries are always the oldest: each write drops them from the
front, and when the map is still full it drops the entry nearest to expiry. Memory is bounded by `max_size`
whatever the traffic, and by the entries written in the last `ttl` seconds when traffic is light.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ExpiringMap(Generic[K, V]):
    def __init__(self, ttl: float, max_size: int, clock: Callable[[], float] = time.monotonic) -> None:
        if ttl <= 0 or max_size < 1:
            raise ValueError("ttl must be positive and max_size at least 1")
        self._ttl = ttl
        self._max_size = max_size
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    @property
    def max_size(self) -> int:
        return self._max_size

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        """The value written within the last `ttl` seconds, or None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires <= self._clock():
            del self._entries[key]
            return None
        return value

    def pop(self, key: K) -> None:
        """Forget `key` now (its value went stale before its time)."""
        self._entries.pop(key, None)

    def put(self, key: K, value: V) -> None:
        """Store (or refresh) `key`; it expires `ttl` seconds from now."""
        now = self._clock()
        self._entries[key] = (now + self._ttl, value)
        self._entries.move_to_end(key)
        while self._entries:
            oldest_key, (expires, _) = next(iter(self._entries.items()))
            if expires > now and len(self._entries) <= self._max_size:
                break
            del self._entries[oldest_key]
