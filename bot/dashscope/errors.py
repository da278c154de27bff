"""Every way an embedding call can fail, as types the core can decide on.

The class says what to do: `retryable` errors are retried by the client; `account_level` errors mean no
request will succeed until an operator acts (key, billing, model access), so the pipeline pauses all
embedding instead of failing media one by one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from bot.errors import Disposition, Failure

MAX_MESSAGE_CHARS = 300
"""Error bodies are logged; an HTML error page should not flood the log."""


class EmbeddingError(Failure):
    retryable: bool = False
    account_level: bool = False
    disposition = Disposition.FAIL_ITEM
    message_key = "rejected"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        details = [
            f"{label}={value}"
            for label, value in (
                ("status", self.status),
                ("code", self.code),
                ("request_id", self.request_id),
            )
            if value is not None
        ]
        return f"{self.message} ({', '.join(details)})" if details else self.message

    def message_values(self) -> dict[str, str]:
        return {"reason": str(self.code or self.status)}


class ServiceUnavailable(EmbeddingError):
    """DashScope cannot serve now but may soon: retried by the client, then by the queue."""

    retryable = True
    disposition = Disposition.RETRY_SERVICE
    message_key = "service_down"


class TransportError(ServiceUnavailable):
    """No answer at all: timeout, refused or reset connection."""


class RateLimited(ServiceUnavailable):
    pass


class ServerError(ServiceUnavailable):
    pass


class MalformedResponse(ServiceUnavailable):
    """A 200 we cannot use; usually a transient glitch, so worth another try."""


class DimensionMismatch(MalformedResponse):
    """Vectors of another length than configured: the model does not honour EMBEDDING_DIMENSION (the provider's docs
    disagree on what is offered). The client retries it like any malformed answer (one truncated answer may be a
    glitch); if it persists, nothing may be stored and only an operator can fix it, so embedding pauses and operators
    are told, like an account problem."""

    account_level = True
    disposition = Disposition.PAUSE_ACCOUNT


class InvalidInput(EmbeddingError):
    """This media or text will never be accepted; skip it."""


class ContentRejected(EmbeddingError):
    """Content moderation refused the input; skip it without retrying."""


class AccountError(EmbeddingError):
    """Billing, purchase or model access problems: only an operator can fix them."""

    account_level = True
    disposition = Disposition.PAUSE_ACCOUNT
    message_key = "service_down"


class AuthError(AccountError):
    """The key itself is rejected."""


_CODE_PREFIXES: tuple[tuple[str, type[EmbeddingError]], ...] = (
    # Order matters: the billing codes come with status 429 but must not be retried like throttling.
    ("InvalidApiKey", AuthError),
    ("Arrearage", AccountError),
    ("AccessDenied", AccountError),
    ("Model.AccessDenied", AccountError),
    ("PrepaidBillOverdue", AccountError),
    ("PostpaidBillOverdue", AccountError),
    ("CommodityNotPurchased", AccountError),
    ("ModelNotFound", AccountError),
    ("DataInspectionFailed", ContentRejected),
    ("Throttling", RateLimited),
    ("InvalidParameter", InvalidInput),
    ("InvalidURL", InvalidInput),
    ("BadRequest", InvalidInput),
    ("RequestTimeOut", ServerError),
    ("InternalError", ServerError),
    ("SystemError", ServerError),
    ("ModelUnavailable", ServerError),
)

_RETRYABLE_STATUSES = frozenset({408, 409, 500, 502, 503, 504})


def classify(status: int, code: str | None) -> type[EmbeddingError]:
    """Pick the error class: the code is more precise than the status, which is the fallback."""
    if code:
        for prefix, error_class in _CODE_PREFIXES:
            if code.startswith(prefix):
                return error_class
    return _class_for_status(status)


def _class_for_status(status: int) -> type[EmbeddingError]:
    if status == 401:
        return AuthError
    if status in (403, 404):
        return AccountError
    if status == 429:
        return RateLimited
    if status in _RETRYABLE_STATUSES or status >= 500:
        return ServerError
    if 400 <= status < 500:
        return InvalidInput
    return MalformedResponse


def error_from_response(status: int, body: bytes, headers: Mapping[str, str]) -> EmbeddingError:
    """Build the typed error for a DashScope error answer (any status, including a 200 carrying `code`)."""
    payload = _json_object(body)
    code = _optional_str(payload.get("code"))
    message = _optional_str(payload.get("message")) or _body_excerpt(body) or f"HTTP {status}"
    request_id = _optional_str(payload.get("request_id")) or header_value(headers, "x-request-id")
    error_class = classify(status, code)
    return error_class(
        message,
        status=status,
        code=code,
        request_id=request_id,
        retry_after=parse_retry_after(header_value(headers, "retry-after")),
    )


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive lookup that also works for plain dicts, not only httpx.Headers."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: either delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, moment.timestamp() - current)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return payload if isinstance(payload, dict) else {}


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _body_excerpt(body: bytes) -> str:
    return body.decode("utf-8", errors="replace").strip()[:MAX_MESSAGE_CHARS]
