"""When to try an embedding request again, and how long to wait first."""

from __future__ import annotations

from dataclasses import dataclass

from bot.dashscope.errors import EmbeddingError


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, as the official SDK does (0.5·2^attempt s, max 8 s, +≤25 %).

    Jitter spreads the retries of concurrent requests so they do not trip the per-second limit together.
    """

    max_attempts: int = 4
    base: float = 0.5
    cap: float = 8.0
    jitter: float = 0.25
    max_retry_after: float = 60.0

    def should_retry(self, attempt: int, error: EmbeddingError) -> bool:
        """`attempt` is the 0-based number of the attempt that just failed."""
        return error.retryable and attempt + 1 < self.max_attempts

    def delay(self, attempt: int, error: EmbeddingError, rand: float) -> float:
        """Seconds to sleep after failed attempt `attempt`; `rand` in [0, 1) drives the jitter.

        A server-sent Retry-After wins over the backoff (it knows its own quota window), but is capped
        so one odd header cannot stall the pipeline for an hour.
        """
        if error.retry_after is not None:
            return min(error.retry_after, self.max_retry_after)
        backoff = min(self.cap, self.base * 2.0**attempt)
        return backoff * (1.0 + self.jitter * rand)
