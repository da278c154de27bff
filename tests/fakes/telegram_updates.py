"""The update queue behind getUpdates, with the Bot API server's long-polling rules.

Ported from telegram-bot-api's ``do_get_updates``: ``offset`` confirms (deletes) older updates, a negative
offset keeps only the newest ones, ``allowed_updates`` persists between calls, and a second long poll
terminates the first with 409 Conflict, which is how Telegram reports two running bot instances.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Final

from tests.fakes.telegram_models import JSON, ApiError

UPDATE_TYPES: Final = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "message_reaction",
        "message_reaction_count",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
# Telegram leaves these out unless a bot asks for them explicitly.
DEFAULT_ALLOWED: Final = UPDATE_TYPES - {"chat_member", "message_reaction", "message_reaction_count"}
MAX_LONG_POLL_TIMEOUT: Final = 50
_CONFLICT_OTHER_POLL: Final = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)
_CONFLICT_SET_WEBHOOK: Final = "Conflict: terminated by setWebhook request"
_CONFLICT_WEBHOOK: Final = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)


def parse_allowed_updates(raw: str) -> frozenset[str] | None:
    """The new allowed set, or None when the parameter leaves the stored one unchanged (as the server does)."""
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        return None
    chosen = frozenset(name.lower() for name in value) & UPDATE_TYPES
    return chosen or DEFAULT_ALLOWED


class UpdateQueue:
    def __init__(self, first_update_id: int = 10_000) -> None:
        self._condition = threading.Condition()
        self._updates: list[JSON] = []
        self._next_id = first_update_id
        # Everything below this id is confirmed; nothing exists below the first id, so it starts there.
        self._confirmed_offset = first_update_id
        self._allowed: frozenset[str] = DEFAULT_ALLOWED
        self._poll_generation = 0
        self._termination = _CONFLICT_OTHER_POLL
        self._closed = False
        self.webhook_url = ""

    def push(self, update_type: str, payload: JSON) -> JSON:
        if update_type not in UPDATE_TYPES:
            raise ValueError(f"unknown update type {update_type!r}")
        with self._condition:
            update = {"update_id": self._next_id, update_type: payload}
            self._next_id += 1
            self._updates.append(update)
            self._condition.notify_all()
            return update

    @property
    def closed(self) -> bool:
        with self._condition:
            return self._closed

    @property
    def last_update_id(self) -> int:
        with self._condition:
            return self._next_id - 1

    @property
    def confirmed_offset(self) -> int:
        with self._condition:
            return self._confirmed_offset

    def pending(self) -> list[JSON]:
        with self._condition:
            return list(self._updates)

    def set_allowed(self, raw: str) -> None:
        allowed = parse_allowed_updates(raw)
        if allowed is not None:
            with self._condition:
                self._allowed = allowed

    def drop_pending(self) -> None:
        with self._condition:
            self._updates.clear()

    def set_webhook(self, url: str) -> None:
        with self._condition:
            self.webhook_url = url
            if url:
                self._terminate_waiting_poll(_CONFLICT_SET_WEBHOOK)

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    def poll(self, offset: int, limit: int, timeout: float) -> list[JSON]:
        """Answer one getUpdates call, blocking up to ``timeout`` seconds while nothing is pending."""
        deadline = time.monotonic() + timeout
        with self._condition:
            if self.webhook_url:
                raise ApiError(409, _CONFLICT_WEBHOOK)
            self._confirm(offset)
            ready = self._take(limit)
            if ready or timeout <= 0:
                return ready
            self._terminate_waiting_poll(_CONFLICT_OTHER_POLL)
            generation = self._poll_generation
            while not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._condition.wait(remaining)
                if generation != self._poll_generation:
                    raise ApiError(409, self._termination)
                ready = self._take(limit)
                if ready:
                    return ready
            return []

    def _terminate_waiting_poll(self, reason: str) -> None:
        self._poll_generation += 1
        self._termination = reason
        self._condition.notify_all()

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            del self._updates[: max(len(self._updates) + offset, 0)]
        elif 0 < offset <= self._next_id:
            self._updates = [update for update in self._updates if update["update_id"] >= offset]
            self._confirmed_offset = max(self._confirmed_offset, offset)

    def _take(self, limit: int) -> list[JSON]:
        """Pending updates the bot asked for; Telegram never delivers the others, so they are dropped."""
        self._updates = [update for update in self._updates if self._update_type(update) in self._allowed]
        return [dict(update) for update in self._updates[:limit]]

    @staticmethod
    def _update_type(update: JSON) -> str:
        return next(key for key in update if key != "update_id")
