"""Typed settings, read once at start-up from the environment (and a `.env` file).

The variable names are a contract with operators, deployment files and acceptance tests (the README's configuration
table lists them), so they are spelled out here literally. Every other module receives a `Settings` and never reads
the environment itself.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from dotenv import dotenv_values

from bot.dashscope.models import ModelChoice, choose_model, model_spec

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")

T = TypeVar("T")


class ConfigError(Exception):
    """A missing or malformed variable; the message names it and is shown to the operator as one line."""


class Secret:
    """A credential that never shows itself: repr, str and f-strings print a mask; only `reveal()` gives the value.

    Settings are logged, printed in tracebacks with locals and compared in tests; none of these may leak the token or
    the key. Deliberately not a dataclass, so `dataclasses.asdict(settings)` cannot unpack it either.
    """

    __slots__ = ("_value",)
    MASK = "**********"

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value itself, for the one place that must send it (an HTTP header, the Bot API URL)."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.MASK!r})"

    def __str__(self) -> str:
        return self.MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Settings:
    telegram_bot_token: Secret
    dashscope_api_key: Secret
    telegram_api_url: str = "https://api.telegram.org"
    dashscope_base_url: str = "https://dashscope.aliyuncs.com/api/v1"
    embedding_model: str = "multimodal-embedding-v1"
    embedding_dimension: int | None = None
    """None: the model's default dimension."""
    database_path: Path = Path("data/mediabot.db")
    """The SQLite file (the default backend); unused when `postgres_dsn` is set."""
    postgres_dsn: Secret | None = None
    """DATABASE_URL=postgresql://…: PostgreSQL with pgvector instead of SQLite. A Secret: it may hold a password."""
    bot_admin_ids: frozenset[int] = frozenset()
    log_level: str = "INFO"
    # Similarity policy (cosine). No official thresholds exist, so they are conservative and configurable.
    repost_threshold: float = 0.95
    similar_min_score: float = 0.5
    search_min_score: float = 0.2
    search_caption_min_score: float = 0.6
    # A chat message at or above this text-to-text cosine with an earlier one by someone else is copypasta
    # (calibrated on the fake: same words 1.0, one word of 14 changed 0.97, two changed 0.94, unrelated <= 0.8).
    text_repost_threshold: float = 0.96
    # DashScope budget: v1 allows 120 requests/minute per account.
    dashscope_rpm: int = 120
    dashscope_concurrency: int = 4
    dashscope_timeout: float = 60.0
    # import-history's share of the budget (None: half of DASHSCOPE_RPM, the rest stays for the live bot).
    import_rpm: int | None = None
    # Ingestion queue.
    workers: int = 4
    job_max_attempts: int = 8
    shutdown_grace_seconds: float = 20.0
    # Spend caps: API requests per day.
    daily_chat_request_cap: int = 2000
    daily_user_request_cap: int = 500
    admin_cache_seconds: float = 60.0
    album_debounce_seconds: float = 2.0
    retention_days: int = 30
    # Done and failed jobs (each holding its update's payload) are deleted this long after they finished.
    job_retention_days: int = 7
    group_alerts_per_minute: int = 20
    # How long a person waiting on /similar or /search waits at most before "the service is slow or down".
    command_deadline_seconds: float = 20.0
    # Memory for the vectors held in RAM for search, all chats together; least recently used chats go first.
    index_memory_mb: int = 1024
    # Re-embed chats in the background when EMBEDDING_MODEL or EMBEDDING_DIMENSION changed; off: chats stay on their
    # old vectors (searchable, with the old model's query embeddings) until it is turned on.
    reembedding: bool = True
    # A self-hosted `telegram-bot-api --local` server has no 20 MB download limit and answers local paths.
    telegram_local_mode: bool = False
    # Set: Telegram posts updates to this public HTTPS URL (webhook mode) instead of the bot polling for them.
    webhook_url: str | None = None
    webhook_listen: tuple[str, int] = ("0.0.0.0", 8080)
    webhook_secret: Secret | None = None
    # Set: /metrics (Prometheus) and /healthz are served on this host:port.
    metrics_listen: tuple[str, int] | None = None

    @property
    def secrets(self) -> tuple[str, ...]:
        """What the logs must never show: the token, the key, and the database password if DATABASE_URL has one
        (a driver's error may quote its connection string)."""
        password = urlsplit(self.postgres_dsn.reveal()).password if self.postgres_dsn is not None else None
        webhook = (self.webhook_secret.reveal(),) if self.webhook_secret is not None else ()
        return (self.telegram_bot_token.reveal(), self.dashscope_api_key.reveal(), *webhook,
                *((password,) if password else ()))

    @property
    def import_requests_per_minute(self) -> int:
        return self.import_rpm if self.import_rpm is not None else max(1, self.dashscope_rpm // 2)

    @property
    def embedding(self) -> ModelChoice:
        """The configured model at the configured dimension (checked at load time, so this cannot fail then)."""
        return choose_model(self.embedding_model, self.embedding_dimension)

    @property
    def download_limit_bytes(self) -> int | None:
        """The cloud Bot API refuses downloads over 20 MB; asking anyway only wastes a call."""
        return None if self.telegram_local_mode else 20 * 1024 * 1024


def _parse_database_url(value: str) -> Path | Secret:
    """`sqlite:///rel/path.db` is relative to the working directory, `sqlite:////abs/path.db` absolute;
    `postgresql://user:password@host:port/dbname` (or `postgres://`) selects PostgreSQL."""
    if re.match(r"^postgres(ql)?://[^/\s]+/[^/\s]+", value):
        return Secret(value)
    prefix = "sqlite:///"
    if not value.startswith(prefix) or len(value) == len(prefix):
        raise ValueError("expected sqlite:///relative/path.db, sqlite:////absolute/path.db or "
                         "postgresql://user:password@host:port/dbname")
    return Path(value[len(prefix):])


def _database(url: Path | Secret) -> dict[str, Any]:
    if isinstance(url, Secret):
        return {"postgres_dsn": url}
    return {"database_path": url}


def _parse_admin_ids(value: str) -> frozenset[int]:
    parts = [p.strip() for p in value.split(",") if p.strip()]
    return frozenset(int(p) for p in parts)


def _parse_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError("expected an http(s) URL")
    return value.rstrip("/")


def _parse_https_url(value: str) -> str:
    if not re.match(r"^https://[^/\s]+", value):
        raise ValueError("expected an https:// URL (Telegram posts webhooks over HTTPS only)")
    return value


def _parse_host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("expected host:port, e.g. 0.0.0.0:8080")
    return host.strip("[]"), int(port)


def _parse_webhook_secret(value: str) -> Secret:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value):
        raise ValueError("expected 1-256 characters A-Z, a-z, 0-9, _ and - (Telegram's rule for secret tokens)")
    return Secret(value)


def _parse_token(value: str) -> Secret:
    if not _TOKEN_RE.match(value):
        raise ValueError("expected a token like 123456:ABC-DEF")
    return Secret(value)


def _parse_choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in choices:
            raise ValueError("expected one of " + ", ".join(choices))
        return value

    return parse


def _parse_model(value: str) -> str:
    model_spec(value)
    return value


def _dimension(value: str) -> int | None:
    return _positive(int)(value)


def _check_dimension(settings: Settings) -> Settings:
    """The dimension is judged against the model's row, so it is checked once both are read."""
    try:
        settings.embedding  # noqa: B018 - evaluated for its check
    except ValueError as exc:
        raise ConfigError(f"EMBEDDING_DIMENSION is malformed: {exc}") from None
    return settings


def _parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _positive(kind: Callable[[str], T]) -> Callable[[str], T]:
    def parse(value: str) -> T:
        parsed = kind(value)
        if not parsed > 0:  # type: ignore[operator]
            raise ValueError("expected a positive number")
        return parsed

    return parse


def _fraction(value: str) -> float:
    parsed = float(value)
    if not 0.0 < parsed <= 1.0:
        raise ValueError("expected a number in (0, 1]")
    return parsed


class _Reader:
    """Reads variables from a merged mapping and turns any parse failure into a ConfigError naming the variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def required(self, name: str, parse: Callable[[str], T]) -> T:
        raw = self._env.get(name, "").strip()
        if not raw:
            raise ConfigError(f"{name} is required")
        return self._parse(name, raw, parse)

    def optional(self, name: str, parse: Callable[[str], T], default: T) -> T:
        raw = self._env.get(name, "").strip()
        if not raw:
            return default
        return self._parse(name, raw, parse)

    @staticmethod
    def _parse(name: str, raw: str, parse: Callable[[str], T]) -> T:
        try:
            return parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{name} is malformed: {exc}") from None


def merged_environment(environ: Mapping[str, str], dotenv_path: Path) -> dict[str, str]:
    """A `.env` file fills in what the real environment leaves unset; real variables win."""
    merged: dict[str, str] = {}
    if dotenv_path.is_file():
        merged.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    merged.update(environ)
    return merged


def load_settings(environ: Mapping[str, str] | None = None, dotenv_path: Path = Path(".env")) -> Settings:
    env = merged_environment(os.environ if environ is None else environ, dotenv_path)
    r = _Reader(env)
    defaults = Settings(telegram_bot_token=Secret("0:x"), dashscope_api_key=Secret("x"))
    default_database: Path | Secret = defaults.database_path
    return _check_dimension(Settings(
        telegram_bot_token=r.required("TELEGRAM_BOT_TOKEN", _parse_token),
        dashscope_api_key=r.required("DASHSCOPE_API_KEY", Secret),
        telegram_api_url=r.optional("TELEGRAM_API_URL", _parse_url, defaults.telegram_api_url),
        dashscope_base_url=r.optional("DASHSCOPE_BASE_URL", _parse_url, defaults.dashscope_base_url),
        embedding_model=r.optional("EMBEDDING_MODEL", _parse_model, defaults.embedding_model),
        embedding_dimension=r.optional("EMBEDDING_DIMENSION", _dimension, None),
        **_database(r.optional("DATABASE_URL", _parse_database_url, default_database)),
        bot_admin_ids=r.optional("BOT_ADMIN_IDS", _parse_admin_ids, defaults.bot_admin_ids),
        log_level=r.optional("LOG_LEVEL", _parse_choice(LOG_LEVELS), defaults.log_level),
        repost_threshold=r.optional("REPOST_THRESHOLD", _fraction, defaults.repost_threshold),
        similar_min_score=r.optional("SIMILAR_MIN_SCORE", _fraction, defaults.similar_min_score),
        search_min_score=r.optional("SEARCH_MIN_SCORE", _fraction, defaults.search_min_score),
        search_caption_min_score=r.optional(
            "SEARCH_CAPTION_MIN_SCORE", _fraction, defaults.search_caption_min_score
        ),
        text_repost_threshold=r.optional("TEXT_REPOST_THRESHOLD", _fraction, defaults.text_repost_threshold),
        dashscope_rpm=r.optional("DASHSCOPE_RPM", _positive(int), defaults.dashscope_rpm),
        dashscope_concurrency=r.optional("DASHSCOPE_CONCURRENCY", _positive(int), defaults.dashscope_concurrency),
        dashscope_timeout=r.optional("DASHSCOPE_TIMEOUT", _positive(float), defaults.dashscope_timeout),
        workers=r.optional("WORKERS", _positive(int), defaults.workers),
        job_max_attempts=r.optional("JOB_MAX_ATTEMPTS", _positive(int), defaults.job_max_attempts),
        shutdown_grace_seconds=r.optional(
            "SHUTDOWN_GRACE_SECONDS", _positive(float), defaults.shutdown_grace_seconds
        ),
        daily_chat_request_cap=r.optional(
            "DAILY_CHAT_REQUEST_CAP", _positive(int), defaults.daily_chat_request_cap
        ),
        daily_user_request_cap=r.optional(
            "DAILY_USER_REQUEST_CAP", _positive(int), defaults.daily_user_request_cap
        ),
        admin_cache_seconds=r.optional("ADMIN_CACHE_SECONDS", _positive(float), defaults.admin_cache_seconds),
        album_debounce_seconds=r.optional(
            "ALBUM_DEBOUNCE_SECONDS", _positive(float), defaults.album_debounce_seconds
        ),
        retention_days=r.optional("RETENTION_DAYS", _positive(int), defaults.retention_days),
        command_deadline_seconds=r.optional("COMMAND_DEADLINE_SECONDS", _positive(float),
                                            defaults.command_deadline_seconds),
        job_retention_days=r.optional("JOB_RETENTION_DAYS", _positive(int), defaults.job_retention_days),
        index_memory_mb=r.optional("INDEX_MEMORY_MB", _positive(int), defaults.index_memory_mb),
        group_alerts_per_minute=r.optional(
            "GROUP_ALERTS_PER_MINUTE", _positive(int), defaults.group_alerts_per_minute
        ),
        telegram_local_mode=r.optional("TELEGRAM_LOCAL_MODE", _parse_bool, False),
        webhook_url=r.optional("WEBHOOK_URL", _parse_https_url, None),
        webhook_listen=r.optional("WEBHOOK_LISTEN", _parse_host_port, defaults.webhook_listen),
        webhook_secret=r.optional("WEBHOOK_SECRET", _parse_webhook_secret, None),
        metrics_listen=r.optional("METRICS_LISTEN", _parse_host_port, None),
        import_rpm=r.optional("IMPORT_RPM", _positive(int), None),
        reembedding=r.optional("REEMBEDDING", _parse_bool, defaults.reembedding),
    ))
