"""The circuit breaker for account-level DashScope failures (bad key, arrears, no access).

Such an error will fail every request until the operator acts, so embedding pauses for everyone instead of burning
each queued item's retries. One job is let through as a probe at growing intervals; its success closes the breaker.
Opening and closing are reported once each, so the operator gets one message, not one per photo.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class CircuitBreaker:
    def __init__(self, *, first_probe_after: float = 30.0, max_probe_interval: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._first = first_probe_after
        self._max = max_probe_interval
        self._clock = clock
        self._open = False
        self._interval = first_probe_after
        self._next_probe = 0.0
        self.last_code: str | None = None

    @property
    def is_open(self) -> bool:
        return self._open

    def allow(self) -> bool:
        """Closed: always. Open: once per probe interval (the caller's job is the probe)."""
        if not self._open:
            return True
        now = self._clock()
        if now < self._next_probe:
            return False
        self._next_probe = now + self._interval
        self._interval = min(self._interval * 2, self._max)
        return True

    def seconds_to_probe(self) -> float:
        return max(0.0, self._next_probe - self._clock()) if self._open else 0.0

    def record_account_failure(self, code: str | None) -> bool:
        """Returns True when this failure opened the breaker (time to tell the operators)."""
        self.last_code = code
        if self._open:
            return False
        self._open = True
        self._interval = self._first
        self._next_probe = self._clock() + self._interval
        return True

    def record_success(self) -> bool:
        """Returns True when this success closed an open breaker."""
        was_open = self._open
        self._open = False
        self._interval = self._first
        return was_open
