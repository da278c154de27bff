"""The bot's Prometheus metrics, defined once; every layer records into them and `METRICS_LISTEN` serves them.

Counters only ever go up, per process: Prometheus sums replicas. Gauges that read the database (queue depth, age of
the oldest pending job) are refreshed by the serving side just before each scrape.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

UPDATES = Counter("mediabot_updates_received", "Telegram updates received, by type.", ["type"], registry=REGISTRY)
ITEMS_STORED = Counter("mediabot_items_stored", "Media items stored, by kind and embedding route.",
                       ["kind", "route"], registry=REGISTRY)
API_REQUESTS = Counter("mediabot_api_requests", "DashScope embedding requests (a batched text counts its share).",
                       registry=REGISTRY)
API_TOKENS = Counter("mediabot_api_tokens", "DashScope tokens billed, by type.", ["type"], registry=REGISTRY)
API_ERRORS = Counter("mediabot_api_errors", "DashScope calls that failed after the client's retries, by error code.",
                     ["code"], registry=REGISTRY)
QUEUE_DEPTH = Gauge("mediabot_queue_depth", "Jobs pending or running.", registry=REGISTRY)
QUEUE_OLDEST_AGE = Gauge("mediabot_queue_oldest_pending_age_seconds", "Age of the oldest pending job (0: none).",
                         registry=REGISTRY)
BREAKER_OPEN = Gauge("mediabot_embedding_paused", "1 while embedding is paused, by cause (account, outage).",
                     ["cause"], registry=REGISTRY)
SEARCH_SECONDS = Histogram("mediabot_search_seconds", "Time of one nearest-neighbour search in a chat.",
                           buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
                           registry=REGISTRY)
REPLIES_SENT = Counter("mediabot_replies_sent", "Replies, alerts and notices sent.", registry=REGISTRY)
REPLIES_FAILED = Counter("mediabot_replies_failed", "Replies given up after their retries.", registry=REGISTRY)
ALERTS_DROPPED = Counter("mediabot_alerts_dropped_by_pacing", "Repost alerts dropped by the per-group budget.",
                         registry=REGISTRY)


def set_paused(cause: str | None) -> None:
    for each in ("account", "outage"):
        BREAKER_OPEN.labels(cause=each).set(1 if cause == each else 0)
