"""What the core needs from the world outside it, as small protocols, and the failures that world reports.

The chat gateway is Telegram in production (bot.telegram.gateway) and an in-memory fake in fast tests; the
repositories are SQLite today (storage/) and can be another database tomorrow; the presenter is bot.replies. The
core imports none of them: the composition root (bot.wiring) hands them in.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy.typing as npt

from bot.core.types import FileRef, Outgoing
from bot.errors import Disposition, Failure
from storage.models import ChatSettings, ChatStats, Dismissal, Ignored, Item, Job, NearestRecord, NewItem


class GatewayError(Failure):
    """Base of every failure the Telegram side reports; unless a subclass says otherwise, worth a retry."""


class FileTooBig(GatewayError):
    """The Bot API will not hand the file out (cloud API, over 20 MB)."""

    disposition = Disposition.FAIL_ITEM
    message_key = "too_large"


class FileUnavailable(GatewayError):
    """The file id is not (or no longer) downloadable; retrying will not help."""

    disposition = Disposition.FAIL_ITEM
    message_key = "corrupt"


class TransientTelegramError(GatewayError):
    """Network trouble or flood control; worth retrying later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Undeliverable(GatewayError):
    """Telegram refused this particular message (chat not found, bad markup…); sending it again will not help."""


class ChatGone(GatewayError):
    """The bot was kicked or blocked: stop working for this chat."""

    disposition = Disposition.CHAT_GONE


class ChatMoved(GatewayError):
    """The group became a supergroup; everything must follow it to the new id."""

    disposition = Disposition.CHAT_MOVED

    def __init__(self, new_chat_id: int) -> None:
        super().__init__(f"chat migrated to {new_chat_id}")
        self.new_chat_id = new_chat_id


class ChatGateway(Protocol):
    async def download(self, file: FileRef) -> bytes | Path:
        """The file's bytes, or a local path when a `--local` Bot API server hands one out."""
        ...

    async def send(self, message: Outgoing) -> None: ...

    async def show_typing(self, chat_id: int) -> None:
        """A sign of life while a person waits on a command."""
        ...


class ItemStore(Protocol):
    """The stored media items (storage.items.ItemRepository)."""

    async def add(self, item: NewItem, vectors: Any) -> Item: ...
    async def get_many(self, ids: Sequence[int]) -> dict[int, Item]: ...
    async def by_message(self, chat_id: int, message_id: int) -> Item | None: ...
    async def first_with_file(self, chat_id: int, file_unique_id: str, *,
                              exclude_message_id: int | None = None) -> Item | None: ...
    async def set_caption(self, item_id: int, caption: str | None, vector: npt.ArrayLike | None) -> None: ...
    async def replace_media(self, item_id: int, *, kind: str, file_id: str, file_unique_id: str, route: str,
                            vector: npt.ArrayLike) -> None: ...


class JobQueue(Protocol):
    """The durable job queue (storage.jobs.JobRepository)."""

    async def enqueue(self, key: str, chat_id: int, kind: str, payload: dict[str, Any], *, now: int) -> Job | None: ...
    async def claim(self, *, now: int, limit: int) -> list[Job]: ...
    async def complete(self, job_id: int) -> None: ...
    async def retry_later(self, job_id: int, *, at: int, error: str) -> None: ...
    async def postpone(self, job_id: int, *, at: int, error: str) -> None: ...
    async def fail(self, job_id: int, error: str) -> None: ...
    async def set_reply_state(self, job_id: int, state: str) -> None: ...
    async def requeue_running(self) -> int: ...
    async def recent_failures(self, chat_id: int, limit: int = 5) -> list[Job]: ...
    async def prune_finished(self, older_than: int) -> int: ...


class ChatStore(Protocol):
    """Per-chat settings and membership, and the chat as a whole (storage.chats.ChatRepository)."""

    async def settings(self, chat_id: int) -> ChatSettings: ...
    async def update_settings(self, chat_id: int, **changes: Any) -> ChatSettings: ...
    async def mark_removed(self, chat_id: int, at: int) -> None: ...
    async def mark_active(self, chat_id: int) -> None: ...
    async def is_active(self, chat_id: int) -> bool: ...
    async def expired(self, removed_before: int) -> list[int]: ...
    async def move(self, old_chat_id: int, new_chat_id: int) -> None: ...
    async def purge(self, chat_id: int) -> None: ...


class StatsStore(Protocol):
    """Usage and outcome counters (storage.stats.StatsRepository)."""

    async def add_usage(self, chat_id: int, user_id: int | None, *, requests: float, input_tokens: int,
                        image_tokens: int) -> None: ...
    async def add_repost(self, chat_id: int) -> None: ...
    async def add_skipped_over_cap(self, chat_id: int) -> None: ...
    async def add_reply_failed(self, chat_id: int) -> None: ...
    async def requests_today(self, *, chat_id: int | None = None, user_id: int | None = None, day: int) -> float: ...
    async def chat_stats(self, chat_id: int) -> ChatStats: ...
    async def chats_overview(self) -> list[tuple[int, ChatStats]]: ...


class VectorCache(Protocol):
    """Embeddings by file, across chats (storage.cache.EmbeddingCache)."""

    async def get(self, file_unique_id: str, model: str) -> Any: ...
    async def put(self, file_unique_id: str, model: str, vector: npt.ArrayLike, route: str) -> None: ...


class FeedbackStore(Protocol):
    """What people told the bot about a chat's media, and each item's nearest earlier one
    (storage.feedback.FeedbackRepository)."""

    async def dismiss(self, chat_id: int, pair: tuple[tuple[str, Any], tuple[str, Any]],
                      by_name: str | None) -> int: ...
    async def dismissals(self, chat_id: int) -> list[Dismissal]: ...
    async def undo_dismissal(self, chat_id: int, dismissal_id: int) -> bool: ...
    async def ignore(self, chat_id: int, file_unique_id: str, vector: Any, kind: str, by_name: str | None) -> bool: ...
    async def ignored(self, chat_id: int) -> list[Ignored]: ...
    async def unignore(self, chat_id: int, ignored_id: int) -> bool: ...
    async def media_vector(self, item_id: int) -> Any: ...
    async def record_nearest(self, chat_id: int, item_id: int, date: int, neighbour: tuple[int, float] | None, *,
                             called: bool) -> None: ...
    async def nearest_counts(self, chat_id: int, since: int,
                             thresholds: tuple[float, float]) -> tuple[int, int, int]: ...
    async def closest_to(self, chat_id: int, since: int, threshold: float, limit: int) -> list[NearestRecord]: ...
