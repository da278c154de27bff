"""Destructive commands waiting for their button: created, read back, taken by exactly one press, expired."""

from __future__ import annotations

from storage.models import Confirmation
from tests.support.backends import Repos


async def test_a_confirmation_is_taken_once(repos: Repos) -> None:
    created = await repos.confirmations.create("purge", chat_id=-5, user_id=7, target_chat_id=-9, now=100)

    assert created == Confirmation(created.id, "purge", -5, 7, -9, 100)
    assert await repos.confirmations.get(created.id) == created
    assert await repos.confirmations.take(created.id)
    assert not await repos.confirmations.take(created.id)
    assert await repos.confirmations.get(created.id) is None


async def test_expire_removes_only_older_confirmations(repos: Repos) -> None:
    old = await repos.confirmations.create("forget", chat_id=-5, user_id=7, target_chat_id=None, now=100)
    new = await repos.confirmations.create("forget", chat_id=-5, user_id=8, target_chat_id=None, now=200)

    assert await repos.confirmations.expire(200) == 1
    assert await repos.confirmations.get(old.id) is None
    assert await repos.confirmations.get(new.id) == new
    assert not await repos.confirmations.take(old.id)
    assert await repos.confirmations.expire(200) == 0
