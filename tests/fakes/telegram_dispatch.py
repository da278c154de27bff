"""Routing one HTTP request of the fake Bot API to a method or a file, recording it, answering like Telegram.

Kept apart from the socket code so the routing rules (token checks, case-insensitive method names, error
injection, file downloads with a percent-quoted path) read in one place.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from tests.fakes.telegram_methods_bot import BotMethods
from tests.fakes.telegram_methods_chat import ChatMethods
from tests.fakes.telegram_methods_send import SendMethods
from tests.fakes.telegram_models import ApiError, RecordedRequest
from tests.fakes.telegram_outgoing import Outbox
from tests.fakes.telegram_wire import Call, parse_request
from tests.fakes.telegram_world import World

_NOT_FOUND: Final = ApiError(404, "Not Found")
_UNAUTHORIZED: Final = ApiError(401, "Unauthorized")
# Telegram answers 404 to a token that is not even shaped like one, 401 to a well-formed unknown token.
_TOKEN_SHAPE: Final = re.compile(r"\d+:[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"

    @classmethod
    def json(cls, status: int, payload: Any) -> Response:
        return cls(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))


@dataclass
class InjectedError:
    method: str
    error: ApiError
    times: int
    chat_id: int | None

    def matches(self, method: str, call: Call) -> bool:
        return (
            self.times > 0
            and self.method == method.lower()
            and (self.chat_id is None or call.arg("chat_id") == str(self.chat_id))
        )


class Dispatcher:
    def __init__(self, world: World, *, token: str, local_mode: bool) -> None:
        self.world = world
        self.token = token
        self.local_mode = local_mode
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._injected: list[InjectedError] = []
        outbox = Outbox(world, local_mode=local_mode)
        handlers = {
            **BotMethods(world, local_mode=local_mode).handlers(),
            **ChatMethods(world).handlers(),
            **SendMethods(world, outbox).handlers(),
        }
        self._handlers = {name.lower(): (name, handler) for name, handler in handlers.items()}

    def canonical(self, method: str) -> str:
        """``sendMessage`` for any spelling Telegram accepts (``sendmessage``, ``SENDMESSAGE``)."""
        known = self._handlers.get(method.lower())
        return known[0] if known else method

    def inject(self, method: str, error: ApiError, *, times: int, chat_id: int | None) -> None:
        with self._lock:
            self._injected.append(InjectedError(method.lower(), error, times, chat_id))

    def recorded(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self.requests)

    def handle(self, http_method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Response:
        path = urlsplit(raw_path).path
        if path.startswith("/file/bot"):
            return self._download(http_method, raw_path, headers, path.removeprefix("/file/bot"))
        if path.startswith("/bot"):
            return self._method(http_method, raw_path, headers, body)
        return Response.json(404, _NOT_FOUND.to_json())

    def _record(self, request: RecordedRequest) -> RecordedRequest:
        with self._lock:
            self.requests.append(request)
        return request

    def _check_token(self, token: str) -> None:
        if token != self.token:
            raise _UNAUTHORIZED if _TOKEN_SHAPE.fullmatch(token) else _NOT_FOUND

    def _method(self, http_method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Response:
        split = urlsplit(raw_path)
        token, _, name = unquote(split.path.removeprefix("/bot")).partition("/")
        method = self.canonical(name)
        record = self._record(RecordedRequest(method, http_method, raw_path, headers, {}))
        try:
            args, files = parse_request(headers.get("content-type", ""), body, split.query)
            call = Call(method, args, files)
            record.params, record.files = call.params, files
            self._check_token(token)
            known = self._handlers.get(name.lower())
            if known is None:
                raise _NOT_FOUND
            self._raise_injected(method, call)
            status, payload = 200, {"ok": True, "result": known[1](call)}
        except ApiError as error:
            status, payload = error.code, error.to_json()
        record.status, record.response = status, payload
        return Response.json(status, payload)

    def _raise_injected(self, method: str, call: Call) -> None:
        with self._lock:
            injected = next((item for item in self._injected if item.matches(method, call)), None)
            if injected is not None:
                injected.times -= 1
        if injected is not None:
            raise injected.error

    def _download(self, http_method: str, raw_path: str, headers: dict[str, str], rest: str) -> Response:
        """``GET /file/bot<token>/<file_path>``; clients percent-quote the path (the token's ``:`` too)."""
        record = self._record(RecordedRequest(None, http_method, raw_path, headers, {}))
        token, _, file_path = unquote(rest).partition("/")
        # A ``telegram-bot-api --local`` server serves no files over HTTP: clients read the local path.
        stored = None if self.local_mode else self.world.files.by_path(file_path)
        if token != self.token or stored is None:
            error = _UNAUTHORIZED if token != self.token else _NOT_FOUND
            record.status, record.response = error.code, error.to_json()
            return Response.json(error.code, error.to_json())
        record.status = 200
        return Response(200, stored.data, "application/octet-stream")
