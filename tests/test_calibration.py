"""The threshold preview: counts and borderline pairs from each item's recorded nearest earlier item."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from bot.core.calibration import PREVIEW_DAYS, Calibration
from bot.core.results import Audience
from bot.core.types import ChatRef, FileRef, IncomingMedia, MediaRef, Sender
from bot.replies.render import render
from storage.models import FACET_MEDIA
from storage.store import Store
from tests.support.storage import new_item, open_store
from tests.test_use_cases import GROUP, Core, core  # noqa: F401  (the fixture)

DAY = 86400
NOW = 1_800_000_000
CHAT = ChatRef(-1001, "supergroup", title="C")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(tmp_path / "bot.db") as opened:
        yield opened


async def test_preview_counts_and_borderline_pairs_match_a_hand_computation(store: Store) -> None:
    earlier = await store.items.add(new_item(CHAT.id, 1, date=NOW - 40 * DAY), {FACET_MEDIA: [1.0, 0.0]})
    scores = {2: 0.99, 3: 0.96, 4: 0.93, 5: 0.91, 6: 0.89, 7: 0.80}
    rows = []
    for message_id, score in scores.items():
        item = await store.items.add(new_item(CHAT.id, message_id, date=NOW - message_id * DAY),
                                     {FACET_MEDIA: [1.0, float(message_id)]})
        rows.append((item.id, CHAT.id, item.date, earlier.id, score, 0))
    old = await store.items.add(new_item(CHAT.id, 8, date=NOW - (PREVIEW_DAYS + 1) * DAY), {FACET_MEDIA: [0.0, 1.0]})
    rows.append((old.id, CHAT.id, old.date, earlier.id, 0.97, 1))  # outside the 30 days: not counted
    await store.feedback.record_many(rows)

    calibration = Calibration(store.feedback, store.items, store.chats, default_threshold=0.95, clock=lambda: NOW)
    preview = await calibration.preview(Audience(CHAT, 9, "en"), 0.90)

    # By hand: of 6 measured items, 0.99, 0.96, 0.93 and 0.91 reach 0.90; 0.99 and 0.96 reach 0.95. Distances
    # to 0.90: 0.91 and 0.89 0.01, 0.93 0.03, 0.96 0.06, 0.99 0.09, 0.80 0.10: the five closest leave out 0.80.
    assert (preview.measured, preview.would_alert, preview.alerts_now) == (6, 4, 2)
    assert [round(p.score, 2) for p in preview.borderline] == [0.99, 0.96, 0.93, 0.91, 0.89]
    assert all(p.earlier.id == earlier.id for p in preview.borderline)
    out = render(preview)
    assert out.text_html is not None
    assert "4 would have been called out at 90%, 2 at 95%" in out.text_html and "91% ✓" in out.text_html
    assert "89% ✗" in out.text_html
    assert [b.data for row in out.buttons for b in row] == ["s:threshold:90"]


async def test_borderline_pairs_come_from_both_sides(store: Store) -> None:
    earlier = await store.items.add(new_item(CHAT.id, 1, date=NOW - DAY), {FACET_MEDIA: [1.0, 0.0]})
    rows = []
    for message_id, score in {2: 0.905, 3: 0.91, 4: 0.915, 5: 0.92, 6: 0.925, 7: 0.60}.items():
        item = await store.items.add(new_item(CHAT.id, message_id, date=NOW), {FACET_MEDIA: [1.0, 1.0]})
        rows.append((item.id, CHAT.id, item.date, earlier.id, score, 0))
    await store.feedback.record_many(rows)
    calibration = Calibration(store.feedback, store.items, store.chats, default_threshold=0.95, clock=lambda: NOW)
    preview = await calibration.preview(Audience(CHAT, 9, "en"), 0.90)
    # The five closest are all above; the nearest one below (0.60) takes the last place.
    assert [round(p.score, 3) for p in preview.borderline] == [0.92, 0.915, 0.91, 0.905, 0.6]


async def test_ingest_records_each_items_nearest_earlier_item_as_brute_force_finds_it(core: Core) -> None:  # noqa: F811
    posts = [("f1", "u-f1", 1), ("f2", "u-f2", 2), ("blue", "u-blue", 1), ("f1", "u-f1", 2)]  # within the daily cap
    for message_id, (file_id, unique_id, sender) in enumerate(posts, 1):
        incoming = IncomingMedia(chat=GROUP, message_id=message_id, sender=Sender(sender, f"user {sender}", "en"),
                                 date=int(time.time()), media=MediaRef("photo", FileRef(file_id, unique_id)))
        await core.ingest(incoming)
    store = core.services.store
    items = [await store.items.by_message(GROUP.id, n) for n in range(1, len(posts) + 1)]
    vectors = np.stack([await store.feedback.media_vector(item.id) for item in items if item is not None])
    expected = [max(float(vectors[i] @ vectors[j]) for j in range(i)) for i in range(1, len(posts))]
    expected[2] = 1.0  # the fourth post is the first one's very file: identical
    ids, recorded = [], []
    async with store.db.read() as conn:
        for row in await conn.execute_fetchall("SELECT item_id, score FROM nearest ORDER BY item_id"):
            ids.append(int(row[0]))
            recorded.append(float(row[1]))
    assert ids == [item.id for item in items[1:] if item is not None]  # the first had nothing before it
    assert recorded == pytest.approx(expected, abs=1e-5)
