"""Per-chat and per-user memory stays bounded however many chats the bot meets, and the behaviour is kept."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

import pytest
from telegram import Bot, Chat, Message, User
from telegram.constants import ChatMemberStatus

from bot.bounded import ExpiringMap
from bot.core.breaker import CircuitBreaker
from bot.core.health import MAX_NOTICED_CHATS, EmbeddingHealth
from bot.core.repost import PACER_MAX_CHATS, MemoryAlertLedger
from bot.telegram.admin import ADMIN_CACHE_MAX_ENTRIES, AdminChecker

CHATS = 10_000


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Member:
    def __init__(self, status: str) -> None:
        self.status = status


class FakeBot:
    """getChatMember only: every member is an admin unless listed in `demoted`."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []
        self.demoted: set[tuple[int, int]] = set()

    async def get_chat_member(self, chat_id: int, user_id: int) -> Member:
        self.calls.append((chat_id, user_id))
        demoted = (chat_id, user_id) in self.demoted
        return Member(ChatMemberStatus.MEMBER if demoted else ChatMemberStatus.ADMINISTRATOR)


def group_message(chat_id: int, user_id: int) -> Message:
    return Message(message_id=1, date=datetime.now(UTC), chat=Chat(chat_id, Chat.SUPERGROUP),
                   from_user=User(user_id, "Member", is_bot=False))


def checker(clock: Clock, ttl: float = 60.0, **bound: int) -> tuple[AdminChecker, FakeBot]:
    bot = FakeBot()
    return AdminChecker(cast(Bot, bot), ttl, clock=clock, **bound), bot


# ExpiringMap, the building block


def test_expiring_map_forgets_after_ttl_and_holds_at_most_max_size() -> None:
    clock = Clock()
    entries: ExpiringMap[int, str] = ExpiringMap(10.0, 3, clock)
    entries.put(1, "a")
    clock.now += 9.9
    assert entries.get(1) == "a"
    clock.now += 0.1
    assert entries.get(1) is None and len(entries) == 0
    for key in range(5):
        entries.put(key, str(key))
    assert len(entries) == 3 and [entries.get(k) for k in range(5)] == [None, None, "2", "3", "4"]
    entries.put(2, "again")  # a write refreshes the entry: now the newest, so 3 goes first
    entries.put(5, "5")
    assert [entries.get(k) for k in (2, 3, 4, 5)] == ["again", None, "4", "5"]


def test_expiring_map_drops_expired_entries_on_write() -> None:
    clock = Clock()
    entries: ExpiringMap[int, int] = ExpiringMap(60.0, CHATS, clock)
    for key in range(CHATS):
        entries.put(key, key)
        clock.now += 1.0
    assert len(entries) <= 61


def test_expiring_map_refuses_a_useless_bound() -> None:
    with pytest.raises(ValueError, match="max_size"):
        ExpiringMap(1.0, 0)


# Admin checks


@pytest.mark.slow  # 10 000 chats, one by one
async def test_admin_cache_stays_under_its_bound_over_10000_chats() -> None:
    clock = Clock()
    admins, bot = checker(clock, max_entries=500)
    for chat in range(CHATS):
        assert await admins.is_admin(group_message(-100 - chat, 7))
        assert len(admins._cache) <= 500
    assert len(bot.calls) == CHATS
    assert ADMIN_CACHE_MAX_ENTRIES <= 10_000  # the production bound: about 1 MB of small tuples


@pytest.mark.slow  # 10 000 chats, one by one
async def test_admin_cache_forgets_verdicts_after_the_ttl_without_filling_up() -> None:
    clock = Clock()
    admins, _bot = checker(clock, ttl=60.0)
    for chat in range(CHATS):
        await admins.is_admin(group_message(-100 - chat, 7))
        clock.now += 1.0
    assert len(admins._cache) <= 61


async def test_admin_verdict_is_cached_within_the_ttl_and_a_demoted_admin_loses_access_after_it() -> None:
    clock = Clock()
    admins, bot = checker(clock, ttl=60.0)
    message = group_message(-100, 7)
    assert await admins.is_admin(message)
    bot.demoted.add((-100, 7))
    clock.now += 59.0
    assert await admins.is_admin(message)  # cached: no second getChatMember
    assert bot.calls == [(-100, 7)]
    clock.now += 1.0
    assert not await admins.is_admin(message)
    assert bot.calls == [(-100, 7), (-100, 7)]


async def test_a_verdict_pushed_out_of_a_full_cache_is_asked_again() -> None:
    clock = Clock()
    admins, bot = checker(clock, max_entries=2)
    for chat in (-1, -2, -3):
        await admins.is_admin(group_message(chat, 7))
    bot.demoted.add((-1, 7))
    assert not await admins.is_admin(group_message(-1, 7))
    assert await admins.is_admin(group_message(-3, 7))
    assert len(bot.calls) == 4


# Alert pacing


def test_alert_ledger_stays_under_its_bound_over_10000_chats() -> None:
    clock = Clock()
    ledger = MemoryAlertLedger(clock, max_chats=500)
    for chat in range(CHATS):
        assert ledger.admit(-100 - chat, 2)
        clock.now += 0.001
        assert len(ledger._sent) <= 500
    assert PACER_MAX_CHATS <= 10_000


def test_alert_ledger_forgets_quiet_chats() -> None:
    clock = Clock()
    ledger = MemoryAlertLedger(clock)
    for chat in range(CHATS):
        ledger.admit(-100 - chat, 20)
        clock.now += 1.0
    assert len(ledger._sent) <= 61


def test_alert_ledger_still_paces_each_chat_among_10000_others() -> None:
    clock = Clock()
    ledger = MemoryAlertLedger(clock)
    assert ledger.admit(-1, 2) and ledger.admit(-1, 2) and not ledger.admit(-1, 2)
    for chat in range(CHATS):  # 10 000 other chats use their budget over 100 s, one every 10 ms
        assert ledger.admit(-100 - chat, 2) and ledger.admit(-100 - chat, 2)
        assert not ledger.admit(-100 - chat, 2)
        if chat == CHATS // 2:  # 50 s on, chat -1's window is still full
            assert not ledger.admit(-1, 2)
        if chat == CHATS * 6 // 10 + 1:  # 60.01 s on, it has emptied
            assert ledger.admit(-1, 2) and ledger.admit(-1, 2) and not ledger.admit(-1, 2)
        clock.now += 0.01
    assert len(ledger._sent) <= 60 / 0.01 + 2


async def _no_alert(_code: str | None) -> None:
    return None


async def test_pause_notices_stay_under_their_bound_and_are_forgotten_on_resume() -> None:
    health = EmbeddingHealth(CircuitBreaker(), _no_alert)
    await health.account_failed("Arrearage")
    told = [chat_id for chat_id in range(2 * MAX_NOTICED_CHATS) if health.first_notice(chat_id)]
    assert len(told) == 2 * MAX_NOTICED_CHATS  # each chat told once per pause
    assert len(health._noticed) <= MAX_NOTICED_CHATS
    assert not health.first_notice(2 * MAX_NOTICED_CHATS - 1)  # still remembered: told once, not per photo
    await health.api_succeeded()
    assert len(health._noticed) == 0
