"""The circuit breaker: pause all embedding when DashScope cannot serve anyone, instead of failing items one by one.

Two things open it. An account-level error (bad key, arrears, no access) fails every request until the operator acts.
An outage (several jobs in a row failing with timeouts, 5xx or throttling, with no success between them) would burn
each queued item's retries and, if it lasts longer than the backoff schedule, lose them. While open, one job is let
through as a probe at growing intervals; its success closes the breaker. Opening is reported once, not per photo.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

Cause = Literal["account", "outage"]

OUTAGE_AFTER_FAILURES = 3
"""Jobs failing in a row (each after the client's own retries) before a service problem counts as an outage. A bad
item fails alone and other items succeed between its attempts, so it never trips the breaker."""


class CircuitBreaker:
    def __init__(self, *, first_probe_after: float = 30.0, max_probe_interval: float = 600.0,
                 outage_after_failures: int = OUTAGE_AFTER_FAILURES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._first = first_probe_after
        self._max = max_probe_interval
        self._outage_after = outage_after_failures
        self._clock = clock
        self._interval = first_probe_after
        self._next_probe = 0.0
        self._failures_in_a_row = 0
        self.cause: Cause | None = None
        """Why the breaker is open (None: closed)."""

    @property
    def is_open(self) -> bool:
        return self.cause is not None

    def allow(self) -> bool:
        """Closed: always. Open: once per probe interval (the caller's job is the probe)."""
        if not self.is_open:
            return True
        now = self._clock()
        if now < self._next_probe:
            return False
        self._next_probe = now + self._interval
        self._interval = min(self._interval * 2, self._max)
        return True

    @property
    def probe_interval(self) -> float:
        """The wait before the probe after next (it grows while probes keep failing)."""
        return self._interval

    def seconds_to_probe(self) -> float:
        return max(0.0, self._next_probe - self._clock()) if self.is_open else 0.0

    def record_account_failure(self) -> bool:
        """Returns True when the operators should be told: the breaker opened, or an outage turned out to be the
        account."""
        if self.cause == "account":
            return False
        self._open("account")
        return True

    def record_transient_failure(self) -> bool:
        """A job failed with a retryable service error. Returns True when this made the breaker open (an outage)."""
        self._failures_in_a_row += 1
        if self.is_open or self._failures_in_a_row < self._outage_after:
            return False
        self._open("outage")
        return True

    def record_success(self) -> bool:
        """Returns True when this success closed an open breaker."""
        was_open = self.is_open
        self.cause = None
        self._failures_in_a_row = 0
        self._interval = self._first
        return was_open

    def _open(self, cause: Cause) -> None:
        """A first opening waits a full interval; a change of cause keeps the probe already scheduled."""
        if not self.is_open:
            self._interval = self._first
            self._next_probe = self._clock() + self._interval
        self.cause = cause
