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
from storage.models import ChatBacklog, ChatSettings, ChatStats, Confirmation, Item, Job, NewItem


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


class OriginalGone(GatewayError):
    """Telegram no longer serves an original the answer shows (the message or the file is gone)."""

    disposition = Disposition.ORIGINAL_GONE

    def __init__(self, message: str, file_ids: Sequence[str]) -> None:
        super().__init__(message)
        self.file_ids = tuple(file_ids)


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
    async def is_forgotten(self, chat_id: int, message_id: int) -> bool: ...
    async def by_sender(self, sender_id: int, chat_id: int | None = None) -> list[Item]: ...
    async def older_than(self, chat_id: int, before: int) -> list[Item]: ...
    async def forget(self, items: Sequence[Item], *, now: int) -> int: ...
    async def forget_unstored(self, chat_id: int, message_id: int, *, now: int) -> bool: ...
    async def mark_unavailable(self, chat_id: int, file_ids: Sequence[str]) -> list[Item]: ...


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
    async def with_retention(self) -> list[tuple[int, int]]: ...


class ConfirmationStore(Protocol):
    """Destructive commands waiting for their button (storage.confirmations.ConfirmationRepository)."""

    async def create(self, action: str, *, chat_id: int, user_id: int, target_chat_id: int | None,
                     now: int) -> Confirmation: ...
    async def get(self, confirmation_id: int) -> Confirmation | None: ...
    async def take(self, confirmation_id: int) -> bool: ...
    async def expire(self, created_before: int) -> int: ...


class SpaceReclaimer(Protocol):
    """Gives the space of deleted rows back (storage.db.Database.reclaim)."""

    async def reclaim(self) -> None: ...


class ChatAdmins(Protocol):
    """Whether a person is an admin of a chat (the Telegram adapter asks getChatMember)."""

    async def is_chat_admin(self, chat_id: int, user_id: int) -> bool: ...


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


class SpaceStore(Protocol):
    """Where each chat's vectors live (storage.reembedding.ReembeddingRepository)."""

    async def chat_model(self, chat_id: int, active: str) -> str: ...


class ReembedStore(Protocol):
    """Re-embedding progress (storage.reembedding.ReembeddingRepository)."""

    async def backlog(self, model: str, chat_id: int | None = None) -> list[ChatBacklog]: ...
    async def next_items(self, chat_id: int, model: str, limit: int) -> list[Item]: ...
    async def stage(self, item: Item, model: str, media: npt.ArrayLike, caption: npt.ArrayLike | None) -> None: ...
    async def keep(self, item: Item, model: str, reason: str) -> None: ...
    async def switch(self, chat_id: int, model: str) -> int: ...
    async def forget_other_targets(self, model: str) -> None: ...
    async def forget_other_models_cache(self, model: str) -> None: ...
