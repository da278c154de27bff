"""Per-chat settings and membership."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage.models import ChatSettings
from tests.support.storage import AnyStore, open_store_at


@pytest.fixture
async def store(backend_url: str) -> AsyncIterator[AnyStore]:
    async with open_store_at(backend_url) as opened:
        yield opened


async def test_unknown_chats_have_default_settings_and_are_active(store: AnyStore) -> None:
    assert await store.chats.settings(42) == ChatSettings(None, alert_stickers=False, alert_animations=True)
    assert await store.chats.is_active(42)


async def test_update_changes_only_the_named_settings(store: AnyStore) -> None:
    assert await store.chats.update_settings(1, repost_threshold=0.9) == ChatSettings(repost_threshold=0.9)
    updated = await store.chats.update_settings(1, alert_stickers=True, alert_animations=False)

    assert updated == ChatSettings(repost_threshold=0.9, alert_stickers=True, alert_animations=False)
    assert await store.chats.settings(1) == updated
    assert await store.chats.update_settings(1, repost_threshold=None) == ChatSettings(None, True, False)
    assert await store.chats.settings(2) == ChatSettings()


@pytest.mark.parametrize(
    "changes",
    [{"repost_threshold": 1.5}, {"repost_threshold": "high"}, {"alert_stickers": 1}, {"colour": "blue"}],
)
async def test_invalid_settings_are_rejected_and_nothing_changes(store: AnyStore, changes: dict[str, object]) -> None:
    await store.chats.update_settings(1, repost_threshold=0.8)
    with pytest.raises(ValueError):
        await store.chats.update_settings(1, **changes)
    assert await store.chats.settings(1) == ChatSettings(repost_threshold=0.8)


async def test_integer_threshold_is_stored_as_float(store: AnyStore) -> None:
    settings = await store.chats.update_settings(1, repost_threshold=1)
    assert settings.repost_threshold == 1.0 and isinstance(settings.repost_threshold, float)


async def test_removal_and_return(store: AnyStore) -> None:
    await store.chats.update_settings(1, alert_stickers=True)
    await store.chats.mark_removed(1, at=100)
    await store.chats.mark_removed(1, at=500)  # told again later: retention still counts from 100
    await store.chats.mark_removed(2, at=300)

    assert not await store.chats.is_active(1)
    assert await store.chats.expired(removed_before=200) == [1]
    assert await store.chats.expired(removed_before=400) == [1, 2]

    await store.chats.mark_active(1)
    assert await store.chats.is_active(1)
    assert await store.chats.expired(removed_before=400) == [2]
    assert (await store.chats.settings(1)).alert_stickers  # settings survive leaving and coming back
