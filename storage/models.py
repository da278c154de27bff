"""Plain records that cross the storage boundary; no SQL, Telegram or HTTP types leak out of `storage/`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

FACET_MEDIA = 0
"""The vector of the media itself (image, video, clip, keyframes or thumbnail); every media item has one."""
FACET_CAPTION = 1
"""The vector of the caption text; only items with a caption have one."""
FACET_TEXT = 2
"""The vector of a text message (an item of kind `text`, its text in `caption`): its only vector. Apart from
captions, so copypasta compares messages with messages, and apart from media, so media searches never meet it."""
ALL_FACETS = (FACET_MEDIA, FACET_CAPTION, FACET_TEXT)
TEXT_KIND = "text"
"""The kind of a text message's item; its one vector is FACET_TEXT."""


@dataclass(frozen=True)
class NewItem:
    """A media message to store.

    `(chat_id, message_id)` is the Telegram address of the message: the chat it was posted in. It stays the
    item's identity after a group→supergroup migration moves the item to the new chat.
    """

    chat_id: int
    message_id: int
    sender_id: int | None
    sender_name: str | None
    date: int
    kind: str
    file_id: str
    file_unique_id: str
    caption: str | None
    model: str
    route: str
    media_group_id: str | None = None
    source_path: str | None = None
    """An imported item's file, relative to its export folder: read again when the chat changes model."""


@dataclass(frozen=True, kw_only=True)
class Item(NewItem):
    """A stored media message. `chat_id` is the chat whose index holds it (after a migration: the supergroup).

    `origin_chat_id` is set only for items moved from an older chat: their `message_id` belongs to that chat,
    so the message cannot be replied to or linked from `chat_id`.
    """

    id: int
    origin_chat_id: int | None = None


@dataclass(frozen=True)
class ChatSettings:
    repost_threshold: float | None = None
    """Cosine similarity from which a post counts as a repost; None means the operator's global default."""
    alert_stickers: bool = False
    alert_animations: bool = True
    retention_days: int | None = None
    """Items older than this many days are deleted by the daily sweep; None keeps them forever."""
    alert_style: str = "reply"
    """How a repost is called out: `reply` (a text reply), `reaction` (an emoji on the repost), `off` (index only)."""
    own_repost_hours: int = 24
    """No alert when the same person reposts their own media within this many hours."""
    language: str = "auto"
    """Language of group alerts: `en`, `zh`, or `auto` (each poster's or asker's own)."""
    text_indexing: bool = False
    """Text messages of the chat are embedded and stored (opt-in: it stores the chat's conversation)."""


@dataclass(frozen=True)
class ChatStats:
    items_by_kind: dict[str, int]
    items_by_route: dict[str, int]
    reposts_called: int
    top_posters: list[tuple[int | None, str | None, int]]
    api_requests: float
    input_tokens: int
    image_tokens: int
    jobs_failed: int
    jobs_pending: int
    skipped_over_cap: int
    replies_failed: int = 0
    """Replies (alerts, answers) given up after their retries; the item itself was stored."""
    originals_gone: int = 0
    """Items Telegram no longer serves (deleted message or file): never shown again."""
    alerts_dismissed: int = 0
    ignored: int = 0
    """Size of the chat's ignore list."""
    top_reposters: list[tuple[int | None, str | None, int]] = field(default_factory=list)
    vectors: int = 0
    """Stored vectors (media and captions): more than the items when captions have their own."""


@dataclass(frozen=True)
class Dismissal:
    """A pair people said is not a repost: neither side is called out against the other again."""

    id: int
    chat_id: int
    file_a: str
    file_b: str
    vector_a: Any
    vector_b: Any
    by_name: str | None
    at: int


@dataclass(frozen=True)
class Ignored:
    """Media on a chat's ignore list: nothing similar to it above the threshold is called out."""

    id: int
    chat_id: int
    file_unique_id: str
    vector: Any
    kind: str
    by_name: str | None
    at: int


@dataclass(frozen=True)
class NearestRecord:
    """An item's closest earlier item when it was stored, and their similarity."""

    item_id: int
    neighbour_id: int
    score: float


class JobState(StrEnum):
    """The life of a job: pending → running → done | failed; a retry sends a running job back to pending."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class Job:
    id: int
    key: str
    chat_id: int
    kind: str
    payload: dict[str, Any]
    state: str
    attempts: int
    next_attempt_at: int
    error: str | None
    reply_state: str | None
    created_at: int


@dataclass(frozen=True)
class Confirmation:
    """A destructive command waiting for its button. `user_id` asked; `target_chat_id` is the chat concerned when
    it is not `chat_id` (an operator purging a chat from a private chat)."""

    id: int
    action: str
    chat_id: int
    user_id: int
    target_chat_id: int | None
    created_at: int


@dataclass(frozen=True)
class ChatBacklog:
    """One chat's re-embedding towards `model`: items not on it, how many are staged, how many are kept old."""

    chat_id: int
    total: int
    staged: int
    kept: int

    @property
    def done(self) -> int:
        return self.staged + self.kept

    @property
    def remaining(self) -> int:
        return self.total - self.done


@dataclass(frozen=True)
class AlbumEntry:
    """One item of an album awaiting its alert: announced when queued, then reported with its verdict (the earlier
    item it repeats, if any), by whichever process embedded it."""

    message_id: int
    reported: bool = False
    hit_item_id: int | None = None
    score: float = 0.0
    identical: bool = False
    copies: int = 0
