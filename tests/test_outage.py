"""Waiting out a database outage in an update handler (bot.core.outage): retried while the database is away, and
given up, loudly, only after its patience."""

from __future__ import annotations

import pytest

from bot.core import outage
from bot.core.outage import once_stored
from storage.errors import StoreUnavailable

ABOUT = {"chat_id": -100, "message_id": 7}


@pytest.fixture(autouse=True)
def quick_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outage, "FIRST_WAIT_SECONDS", 0.01)
    monkeypatch.setattr(outage, "LONGEST_WAIT_SECONDS", 0.02)


async def test_what_the_database_refused_is_stored_once_it_is_back(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    async def store() -> str:
        calls.append(len(calls))
        if len(calls) < 4:
            raise StoreUnavailable("server restarting")
        return "stored"

    assert await once_stored(store, about=ABOUT) == "stored"
    assert len(calls) == 4
    waits = [r for r in caplog.records if r.getMessage() == "storing the update waits for the database"]
    assert len(waits) == 3 and all(getattr(r, "message_id", None) == 7 for r in waits)


async def test_an_outage_longer_than_the_patience_drops_the_update_with_an_error(
        caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    async def store() -> str:
        calls.append(len(calls))
        raise StoreUnavailable("server gone")

    with pytest.raises(StoreUnavailable):
        await once_stored(store, about=ABOUT, patience=0.1)
    assert len(calls) > 2
    (dropped,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert dropped.getMessage() == "database unavailable too long; update dropped"
    assert getattr(dropped, "chat_id", None) == -100


async def test_other_errors_are_not_waited_on() -> None:
    calls: list[int] = []

    async def store() -> str:
        calls.append(len(calls))
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        await once_stored(store, about=ABOUT)
    assert calls == [0]
