"""What the use cases decide, as plain data: matches found, a repost called out, an item that failed and why.

The core returns these and never words them; bot.replies turns each into a message (text, album, language). So a
new way of answering (buttons, reactions) changes the replies, not the decisions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.core.types import ChatRef
from bot.errors import Failure
from storage.models import ChatBacklog, ChatSettings, ChatStats, Item, Job


@dataclass(frozen=True)
class Hit:
    """An earlier item and how similar it is; `identical` means the very same Telegram file."""

    item: Item
    score: float
    identical: bool = False


@dataclass(frozen=True)
class Audience:
    """Where an answer goes and in which language: the chat, the message it answers, the asker's language code."""

    chat: ChatRef
    reply_to: int | None
    language: str | None


@dataclass(frozen=True)
class RepostFound:
    """A new post repeats an earlier one (same file, or a vector at or above the chat's threshold).

    `spare`: the next candidates, best first, shown instead when Telegram no longer serves the original."""

    to: Audience
    hit: Hit
    spare: Sequence[Hit] = ()


@dataclass(frozen=True)
class AlbumReposts:
    """The reposted items of one album: (position in the album, evidence); one alert for the whole album."""

    to: Audience
    reposts: Sequence[tuple[int, Hit]]


@dataclass(frozen=True)
class FirstSeen:
    """A private chat's item with nothing similar before it."""

    to: Audience


@dataclass(frozen=True)
class Matches:
    """The most similar earlier items (private answer, /similar), or the best ones for a /search query."""

    to: Audience
    hits: Sequence[Hit]
    query: str | None = None
    spare: Sequence[Hit] = ()
    """The next best items, shown in place of originals Telegram no longer serves."""


@dataclass(frozen=True)
class NoMatches:
    to: Audience
    query: str | None = None


@dataclass(frozen=True)
class ItemFailed:
    """The item (or the command's media or query) could not be served, for this reason."""

    to: Audience
    failure: Failure


CommandProblem = Literal["slow", "account"]


@dataclass(frozen=True)
class CommandFailed:
    """A command that could not be answered: the service was too slow or down, or the key is rejected (the
    operators were told)."""

    to: Audience
    problem: CommandProblem
    command: str


@dataclass(frozen=True)
class QueuedWhilePaused:
    """Embedding is paused (account trouble or an outage): the person's media waits and will be answered later."""

    to: Audience


@dataclass(frozen=True)
class OperatorAlert:
    """For the bot's operators: embedding paused for an account error (with its code), or resumed."""

    operator_id: int
    paused_code: str | None


@dataclass(frozen=True)
class ReembedProgress:
    """One chat's re-embedding as /stats shows it."""

    model: str
    backlog: ChatBacklog
    seconds_left: float
    tokens_left: int


@dataclass(frozen=True)
class ChatReport:
    title: str
    stats: ChatStats
    index_size: int
    failures: Sequence[Job]
    reembedding: ReembedProgress | None = None
    """Set while (or after) the chat's items are re-embedded for another model or dimension."""


@dataclass(frozen=True)
class Report:
    """/stats: one chat, or every chat for an operator."""

    to: Audience
    chats: Sequence[ChatReport]
    overview: bool


@dataclass(frozen=True)
class SettingsView:
    """/settings: the chat's settings after the change (if any); `invalid` when the arguments made no sense."""

    to: Audience
    settings: ChatSettings
    default_threshold: float
    invalid: bool = False


@dataclass(frozen=True)
class NotAllowed:
    """An admin command asked by someone who is not an admin of the chat."""

    to: Audience


PrivacyAction = Literal["forget_me", "forget_me_everywhere", "purge"]


@dataclass(frozen=True)
class NotYours:
    """/forget of someone else's media by someone who is not an admin of the chat."""

    to: Audience


@dataclass(frozen=True)
class NothingStored:
    """/forget or /forget me found nothing the bot holds (never stored, or already deleted)."""

    to: Audience


@dataclass(frozen=True)
class ConfirmationAsked:
    """A destructive command waits for its button: `count` items would go (None for a purge: all of chat
    `chat_id`)."""

    to: Audience
    action: PrivacyAction
    confirmation_id: int
    count: int | None
    chat_id: int


@dataclass(frozen=True)
class Forgotten:
    """Items deleted on request: (chat id, how many) for each chat concerned."""

    to: Audience
    counts: Sequence[tuple[int, int]]


@dataclass(frozen=True)
class Purged:
    """Everything the bot held about chat `chat_id` is deleted."""

    to: Audience
    chat_id: int


@dataclass(frozen=True)
class ChatHoldings:
    """What the bot holds about one person in one chat (for /mydata)."""

    chat_id: int
    by_kind: dict[str, int]
    first_date: int
    last_date: int
    captions: int


@dataclass(frozen=True)
class PersonalData:
    """/mydata: a summary per chat, and the items themselves for the attached file (never their vectors)."""

    to: Audience
    chats: Sequence[ChatHoldings]
    items: Sequence[Item]


@dataclass(frozen=True)
class PrivacyNotice:
    """/privacy: what is stored and for how long, with this bot's own retention periods."""

    to: Audience
    removed_chat_days: int
    job_days: int


PressVerdict = Literal["done", "cancelled", "not_yours", "expired"]


@dataclass(frozen=True)
class PressOutcome:
    """A press of a confirmation button: the short answer on the button (`verdict`, in the presser's `language`),
    and what to send in the chat (the result of the deletion), if anything."""

    verdict: PressVerdict
    language: str | None
    then: Decision | None = None


Decision = (RepostFound | AlbumReposts | FirstSeen | Matches | NoMatches | ItemFailed | CommandFailed
            | QueuedWhilePaused | OperatorAlert | Report | SettingsView | NotAllowed | NotYours | NothingStored
            | ConfirmationAsked | Forgotten | Purged | PersonalData | PrivacyNotice)
