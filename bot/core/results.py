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
from storage.models import ChatBacklog, ChatSettings, ChatStats, Dismissal, Ignored, Item, Job


@dataclass(frozen=True)
class Hit:
    """An earlier item and how similar it is; `identical` means the very same Telegram file."""

    item: Item
    score: float
    identical: bool = False
    copies: int = 0
    """Other results that are the same thing (a crop, a re-encode, a forward), shown as this one."""


@dataclass(frozen=True)
class Audience:
    """Where an answer goes and in which language: the chat, the message it answers, the asker's language code."""

    chat: ChatRef
    reply_to: int | None
    language: str | None


AlertStyle = Literal["reply", "reaction"]


@dataclass(frozen=True)
class RepostFound:
    """A new post repeats an earlier one (same file, or a vector at or above the chat's threshold).

    `spare`: the next candidates, best first, shown instead when Telegram no longer serves the original.
    `item_id` is the new post's stored item: an alert's buttons name the pair by item ids, so a press works at
    any later time, after a restart too. `style` is the chat's choice: a text reply, or a quiet reaction."""

    to: Audience
    hit: Hit
    spare: Sequence[Hit] = ()
    item_id: int = 0
    style: AlertStyle = "reply"


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
    more: tuple[str, int] | None = None
    """(the question's token, the next page) when a "More" button is worth offering."""


@dataclass(frozen=True)
class ResultsExpired:
    """A "More" press on a result list the bot no longer remembers (restart, or long ago): ask again."""

    to: Audience


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
    settings: ChatSettings | None = None
    default_threshold: float = 0.0
    reembedding: ReembedProgress | None = None
    """Set while (or after) the chat's items are re-embedded for another model or dimension."""


@dataclass(frozen=True)
class Report:
    """/stats: one chat, or every chat for an operator."""

    to: Audience
    chats: Sequence[ChatReport]
    overview: bool


SettingsProblem = Literal["unknown", "threshold_range", "leeway_range", "retention_range"]


@dataclass(frozen=True)
class SettingsView:
    """/settings: the chat's settings after the change (if any), with what changed (ChatSettings field names);
    `problem` when the arguments made no sense or a value was out of range. `edit` is the settings message a
    button press changed (it is edited in place), None for a typed command."""

    to: Audience
    settings: ChatSettings
    default_threshold: float
    problem: SettingsProblem | None = None
    changed: tuple[str, ...] = ()
    edit: int | None = None
    ignored: int = 0
    """Size of the ignore list (its button shows it)."""
    texts_to_delete: int = 0
    """Text indexing was just turned off and this many messages are stored: offer (to admins) to delete them."""


@dataclass(frozen=True)
class Borderline:
    """A stored pair near a proposed threshold: the later item, its closest earlier one, their similarity."""

    item: Item
    earlier: Item
    score: float


@dataclass(frozen=True)
class ThresholdPreview:
    """What a threshold would have done over the chat's recent media, before anyone commits to it.

    `would_alert` and `alerts_now` count the items of the last `days` days whose closest earlier item is at or
    above the proposed and the current threshold; `unmeasured` items have no stored nearest neighbour (stored by
    an older version of the bot)."""

    to: Audience
    proposed: float
    current: float
    days: int
    would_alert: int
    alerts_now: int
    measured: int
    borderline: Sequence[Borderline]


@dataclass(frozen=True)
class ChatLists:
    """/settings → ignore list: what is ignored and which pairs were dismissed, each with an undo button."""

    to: Audience
    ignored: Sequence[Ignored]
    dismissals: Sequence[Dismissal]
    edit: int | None = None


PressVerdict = Literal["dismissed", "ignored", "already_ignored", "refused", "gone", "undone", "not_admin"]


@dataclass(frozen=True)
class PressAnswer:
    """The outcome of a button press: a toast for the presser (in their language), and for a dismissed or
    ignored alert the alert's new wording (in the chat's language), naming who acted."""

    verdict: PressVerdict
    presser_language: str | None
    alert: Audience | None = None
    """The alert message to edit (chat, message id, chat language); None: leave it."""
    by: str | None = None
    hit: Hit | None = None
    """The alert's evidence, worded again above who acted."""


@dataclass(frozen=True)
class Greeting:
    """The bot was added to a group: what it does, and whether it can see the media posted there (privacy mode off
    or admin rights); if not, how to fix it."""

    to: Audience
    sees_media: bool


@dataclass(frozen=True)
class TextsDeleted:
    """An admin asked to delete the chat's stored messages; `count` were deleted."""

    to: Audience
    count: int


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


ConfirmVerdict = Literal["done", "cancelled", "not_yours", "expired"]


@dataclass(frozen=True)
class PressOutcome:
    """A press of a confirmation button: the short answer on the button (`verdict`, in the presser's `language`),
    and what to send in the chat (the result of the deletion), if anything."""

    verdict: ConfirmVerdict
    language: str | None
    then: Decision | None = None


Decision = (RepostFound | AlbumReposts | FirstSeen | Matches | NoMatches | ItemFailed | CommandFailed
            | QueuedWhilePaused | OperatorAlert | Report | SettingsView | TextsDeleted | NotAllowed | NotYours
            | NothingStored | ConfirmationAsked | Forgotten | Purged | PersonalData | PrivacyNotice | ThresholdPreview
            | ChatLists | Greeting | ResultsExpired)
