"""People's data: a person takes back what they posted (/forget, /forget me), sees what is held (/mydata), and an
admin wipes a chat (/purge).

Everything that deletes more than the one message replied to waits for a confirmation button, stored in the database
(a restart keeps it valid) and checked on every press: a person's own deletion only by that person, a chat's purge
by any admin of it (or by the operator who asked for it from a private chat). Deleting goes through the Eraser, so
the rows and their bytes in the file are gone, and the messages are never re-created from the same update.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence

from bot.core.erasing import Eraser
from bot.core.ports import ChatAdmins, ConfirmationStore, ItemStore
from bot.core.results import (
    Audience,
    ChatHoldings,
    ConfirmationAsked,
    Decision,
    Forgotten,
    NothingStored,
    NotYours,
    PersonalData,
    PressOutcome,
    PrivacyAction,
    Purged,
)
from bot.core.types import MessageRef
from storage.models import Confirmation, Item

CONFIRMATION_SECONDS = 3600
"""How long a confirmation button stays valid; older ones answer "expired" and are swept away."""

AdminCheck = Callable[[], Awaitable[bool]]


class PrivacyService:
    def __init__(self, items: ItemStore, confirmations: ConfirmationStore, eraser: Eraser) -> None:
        self._items = items
        self._confirmations = confirmations
        self._eraser = eraser

    async def forget_message(self, to: Audience, asker_id: int | None, target: MessageRef,
                             asker_is_admin: AdminCheck) -> Decision:
        """/forget as a reply: the poster or an admin deletes that one item at once (no confirmation: it is the one
        message they pointed at). A message still waiting in the queue is forgotten too: its job goes and it is
        never stored."""
        item = await self._items.by_message(target.chat_id, target.message_id)
        poster = item.sender_id if item is not None else target.poster_id
        if not (asker_id is not None and poster == asker_id) and not await asker_is_admin():
            return NotYours(to)
        if item is not None:
            await self._eraser.forget([item])
        elif not await self._eraser.forget_unstored(target.chat_id, target.message_id):
            return NothingStored(to)
        return Forgotten(to, [(to.chat.id, 1)])

    async def ask_forget_me(self, to: Audience, asker_id: int) -> Decision:
        """/forget me: in a group, everything the asker posted there; in a private chat, everywhere."""
        everywhere = to.chat.type == "private"
        items = await self._items.by_sender(asker_id, None if everywhere else to.chat.id)
        if not items:
            return NothingStored(to)
        action: PrivacyAction = "forget_me_everywhere" if everywhere else "forget_me"
        return await self._ask(to, action, asker_id, None, len(items))

    async def ask_purge(self, to: Audience, asker_id: int, target_chat_id: int | None = None) -> Decision:
        """/purge: the caller has checked that the asker may (a chat admin, or an operator naming a chat)."""
        return await self._ask(to, "purge", asker_id, target_chat_id, None)

    async def my_data(self, to: Audience, asker_id: int) -> PersonalData:
        items = await self._items.by_sender(asker_id)
        return PersonalData(to, _holdings(items), items)

    async def press(self, to: Audience, presser_id: int, confirmation_id: int, confirmed: bool,
                    admins: ChatAdmins) -> PressOutcome:
        """A press of Yes or Cancel under a confirmation shown in `to.chat`."""
        pending = await self._confirmations.get(confirmation_id)
        if pending is None or pending.chat_id != to.chat.id or _expired(pending):
            return PressOutcome("expired", to.language)
        if not await _may_press(pending, presser_id, admins):
            return PressOutcome("not_yours", to.language)
        if not await self._confirmations.take(confirmation_id):
            return PressOutcome("expired", to.language)
        if not confirmed:
            return PressOutcome("cancelled", to.language)
        return PressOutcome("done", to.language, await self._carry_out(to, pending))

    async def _ask(self, to: Audience, action: PrivacyAction, asker_id: int, target_chat_id: int | None,
                   count: int | None) -> ConfirmationAsked:
        pending = await self._confirmations.create(action, chat_id=to.chat.id, user_id=asker_id,
                                                   target_chat_id=target_chat_id, now=int(time.time()))
        return ConfirmationAsked(to, action, pending.id, count, target_chat_id or to.chat.id)

    async def _carry_out(self, to: Audience, pending: Confirmation) -> Decision:
        if pending.action == "purge":
            chat_id = pending.target_chat_id if pending.target_chat_id is not None else pending.chat_id
            await self._eraser.purge([chat_id])
            return Purged(to, chat_id)
        everywhere = pending.action == "forget_me_everywhere"
        items = await self._items.by_sender(pending.user_id, None if everywhere else pending.chat_id)
        if not items:
            return NothingStored(to)
        await self._eraser.forget(items)
        return Forgotten(to, sorted(Counter(item.chat_id for item in items).items()))


async def _may_press(pending: Confirmation, presser_id: int, admins: ChatAdmins) -> bool:
    """The asker always; for a chat's purge asked in that chat, any admin of it too."""
    if presser_id == pending.user_id:
        return True
    return (pending.action == "purge" and pending.target_chat_id is None
            and await admins.is_chat_admin(pending.chat_id, presser_id))


def _expired(pending: Confirmation) -> bool:
    return pending.created_at < time.time() - CONFIRMATION_SECONDS


def _holdings(items: Sequence[Item]) -> list[ChatHoldings]:
    by_chat: dict[int, list[Item]] = defaultdict(list)
    for item in items:
        by_chat[item.chat_id].append(item)
    return [
        ChatHoldings(chat_id=chat_id, by_kind=dict(Counter(item.kind for item in held)),
                     first_date=min(item.date for item in held), last_date=max(item.date for item in held),
                     captions=sum(1 for item in held if item.caption))
        for chat_id, held in sorted(by_chat.items())
    ]
