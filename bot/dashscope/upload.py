"""DashScope's temporary file upload: get a signed OSS policy, post the file to OSS, use `oss://key`.

Videos cannot be sent inline, and Telegram file URLs carry the bot token, so media that must be a URL
goes through this upload instead.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from bot.dashscope.errors import (
    EmbeddingError,
    InvalidInput,
    MalformedResponse,
    RateLimited,
    ServerError,
    error_from_response,
    header_value,
)
from bot.dashscope.wire import OSS_SCHEME

MEGABYTE = 1024 * 1024
_SAFE_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,8}$")


@dataclass(frozen=True)
class UploadPolicy:
    """The `data` of a getPolicy answer: a signed permission to post one file under `upload_dir`."""

    policy: str
    signature: str
    upload_dir: str
    upload_host: str
    oss_access_key_id: str
    x_oss_object_acl: str
    x_oss_forbid_overwrite: str
    max_file_size_mb: float


async def upload_file(
    http: httpx.AsyncClient,
    *,
    base_url: str,
    api_key: str,
    model: str,
    data: bytes,
    filename: str,
    content_type: str,
    request_timeout: float,
) -> str:
    """Upload `data` for use with `model` and return its `oss://` URL (valid 48 hours)."""
    policy = await fetch_policy(http, base_url=base_url, api_key=api_key, model=model, request_timeout=request_timeout)
    if len(data) > policy.max_file_size_mb * MEGABYTE:
        raise InvalidInput(f"file of {len(data)} bytes exceeds the upload limit of {policy.max_file_size_mb} MB")
    key = object_key(policy.upload_dir, filename)
    await post_to_oss(
        http,
        policy,
        key=key,
        data=data,
        filename=filename,
        content_type=content_type,
        request_timeout=request_timeout,
    )
    return f"{OSS_SCHEME}{key}"


async def fetch_policy(
    http: httpx.AsyncClient, *, base_url: str, api_key: str, model: str, request_timeout: float
) -> UploadPolicy:
    response = await http.get(
        f"{base_url}/uploads",
        params={"action": "getPolicy", "model": model},
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=request_timeout,
    )
    if response.status_code != 200:
        raise error_from_response(response.status_code, response.content, response.headers)
    return _parse_policy(response)


def _parse_policy(response: httpx.Response) -> UploadPolicy:
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict) and payload.get("code"):
        raise error_from_response(200, response.content, response.headers)
    data = payload.get("data") if isinstance(payload, dict) else None
    try:
        return _policy_from(data)
    except (KeyError, TypeError, ValueError):
        raise MalformedResponse(
            "upload policy answer lacks required fields",
            status=response.status_code,
            request_id=header_value(response.headers, "x-request-id"),
        ) from None


def _policy_from(data: Any) -> UploadPolicy:
    return UploadPolicy(
        policy=_required_str(data, "policy"),
        signature=_required_str(data, "signature"),
        upload_dir=_required_str(data, "upload_dir").rstrip("/"),
        upload_host=_required_str(data, "upload_host"),
        oss_access_key_id=_required_str(data, "oss_access_key_id"),
        x_oss_object_acl=_required_str(data, "x_oss_object_acl"),
        x_oss_forbid_overwrite=_required_str(data, "x_oss_forbid_overwrite"),
        max_file_size_mb=float(data["max_file_size_mb"]),
    )


def _required_str(data: Any, name: str) -> str:
    value = data[name]
    if not isinstance(value, str) or not value:
        raise ValueError(name)
    return value


def object_key(upload_dir: str, filename: str) -> str:
    """A fresh name under the policy's directory; keeps the extension, which OSS uses to guess the type."""
    match = _SAFE_SUFFIX.search(filename)
    suffix = match.group(0).lower() if match else ""
    return f"{upload_dir}/{uuid.uuid4().hex}{suffix}"


async def post_to_oss(
    http: httpx.AsyncClient,
    policy: UploadPolicy,
    *,
    key: str,
    data: bytes,
    filename: str,
    content_type: str,
    request_timeout: float,
) -> None:
    """Multipart POST to OSS: form fields first and `file` last, as OSS requires.

    The policy's signature is the credential; the DashScope key must not travel to OSS, so any
    Authorization header a shared client might add is stripped.
    """
    fields = {
        "OSSAccessKeyId": policy.oss_access_key_id,
        "Signature": policy.signature,
        "policy": policy.policy,
        "key": key,
        "x-oss-object-acl": policy.x_oss_object_acl,
        "x-oss-forbid-overwrite": policy.x_oss_forbid_overwrite,
        "success_action_status": "200",
        "x-oss-content-type": content_type,
    }
    request = http.build_request(
        "POST",
        policy.upload_host,
        data=fields,
        files={"file": (filename, data, content_type)},
        timeout=request_timeout,
    )
    request.headers.pop("Authorization", None)
    response = await http.send(request)
    if response.status_code != 200:
        raise oss_error(response.status_code, response.content, response.headers)


def oss_error(status: int, body: bytes, headers: Mapping[str, str]) -> EmbeddingError:
    """Map an OSS XML error. OSS codes such as AccessDenied concern the signed policy, not the
    DashScope account, so they must not trip the account-level circuit breaker."""
    code, message, request_id = _oss_error_fields(body)
    request_id = request_id or header_value(headers, "x-oss-request-id")
    error_class: type[EmbeddingError] = InvalidInput
    if status == 429:
        error_class = RateLimited
    elif status in (408, 409) or status >= 500:
        error_class = ServerError
    message = message or f"HTTP {status}"
    return error_class(f"OSS upload failed: {message}", status=status, code=code, request_id=request_id)


def _oss_error_fields(body: bytes) -> tuple[str | None, str | None, str | None]:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None, None, None
    return root.findtext("Code"), root.findtext("Message"), root.findtext("RequestId")
