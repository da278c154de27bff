"""Dismissed pairs, the ignore list and the nearest-neighbour records, as stored: the same on both backends."""

from __future__ import annotations

import numpy as np
import pytest

from storage.models import FACET_CAPTION, FACET_MEDIA, FACET_TEXT, TEXT_KIND
from tests.support.backends import Repos
from tests.support.storage import new_item


async def test_a_dismissal_keeps_both_unit_vectors_and_can_be_undone_once(repos: Repos) -> None:
    first = await repos.feedback.dismiss(-5, (("a", [3.0, 4.0]), ("b", [0.0, 2.0])), "Bob")
    second = await repos.feedback.dismiss(-5, (("c", [1.0, 0.0]), ("d", [0.0, 1.0])), None)
    await repos.feedback.dismiss(-6, (("a", [1.0, 0.0]), ("b", [0.0, 1.0])), "Eve")

    stored = await repos.feedback.dismissals(-5)
    assert [(d.id, d.chat_id, d.file_a, d.file_b, d.by_name) for d in stored] == [
        (first, -5, "a", "b", "Bob"), (second, -5, "c", "d", None)]
    np.testing.assert_allclose(stored[0].vector_a, [0.6, 0.8], rtol=1e-6)
    np.testing.assert_allclose(stored[0].vector_b, [0.0, 1.0], rtol=1e-6)
    assert stored[0].at > 0

    assert not await repos.feedback.undo_dismissal(-6, first)  # another chat's id: untouched
    assert await repos.feedback.undo_dismissal(-5, first)
    assert not await repos.feedback.undo_dismissal(-5, first)
    assert [d.id for d in await repos.feedback.dismissals(-5)] == [second]


async def test_media_goes_on_the_ignore_list_once_per_chat(repos: Repos) -> None:
    assert await repos.feedback.ignore(-5, "a", [0.0, 5.0], "photo", "Ada")
    assert not await repos.feedback.ignore(-5, "a", [1.0, 0.0], "photo", "Bob")  # already listed: kept as it was
    assert await repos.feedback.ignore(-6, "a", [1.0, 0.0], "video", None)

    (entry,) = await repos.feedback.ignored(-5)
    assert (entry.chat_id, entry.file_unique_id, entry.kind, entry.by_name) == (-5, "a", "photo", "Ada")
    np.testing.assert_allclose(entry.vector, [0.0, 1.0])
    assert not await repos.feedback.unignore(-6, entry.id)
    assert await repos.feedback.unignore(-5, entry.id)
    assert await repos.feedback.ignored(-5) == []
    assert [i.kind for i in await repos.feedback.ignored(-6)] == ["video"]


async def test_invalid_vectors_are_refused_and_nothing_is_stored(repos: Repos) -> None:
    for bad in ([0.0, 0.0], [float("nan"), 1.0]):
        with pytest.raises(ValueError):
            await repos.feedback.ignore(-5, "a", bad, "photo", None)
    assert await repos.feedback.ignored(-5) == []


async def test_nearest_records_count_by_threshold_and_keep_being_called(repos: Repos) -> None:
    scores = {1: 0.95, 2: 0.90, 3: 0.85, 4: 0.80, 5: 0.70}
    for item_id, score in scores.items():
        await repos.feedback.record_nearest(-5, item_id, 1000 + item_id, (item_id + 100, score), called=False)
    await repos.feedback.record_nearest(-5, 6, 1006, None, called=False)  # the chat's first item: no record
    await repos.feedback.record_many([(7, -6, 1007, 1, 0.99, 1)])
    await repos.feedback.record_nearest(-6, 7, 1007, (1, 0.99), called=False)  # called once stays called

    assert await repos.feedback.nearest_counts(-5, 0, (0.85, 0.9)) == (5, 3, 2)
    assert await repos.feedback.nearest_counts(-5, 1003, (0.85, 0.9)) == (3, 1, 0)
    assert await repos.feedback.nearest_counts(-6, 0, (0.5, 1.0)) == (1, 1, 0)
    closest = await repos.feedback.closest_to(-5, 0, 0.86, 2)
    assert [(r.item_id, r.neighbour_id, round(r.score, 2)) for r in closest] == [(2, 102, 0.9), (3, 103, 0.85)]
    only_above = await repos.feedback.closest_to(-5, 0, 0.5, 3)
    assert [r.item_id for r in only_above] == [3, 4, 5]


async def test_the_vector_standing_for_an_item_is_its_media_or_its_text(repos: Repos) -> None:
    photo = await repos.items.add(new_item(-5, 1), {FACET_MEDIA: [3.0, 4.0], FACET_CAPTION: [1.0, 0.0]})
    text = await repos.items.add(new_item(-5, 2, kind=TEXT_KIND, caption="hello"), {FACET_TEXT: [0.0, 2.0]})

    np.testing.assert_allclose(await repos.feedback.media_vector(photo.id), [0.6, 0.8], rtol=1e-6)
    np.testing.assert_allclose(await repos.feedback.media_vector(text.id), [0.0, 1.0])
    assert await repos.feedback.media_vector(text.id + 100) is None


async def test_feedback_shows_in_the_chat_statistics(repos: Repos) -> None:
    first = await repos.items.add(new_item(-5, 1, sender_id=7, sender_name="Al"), {FACET_MEDIA: [1.0, 0.0]})
    items = [await repos.items.add(new_item(-5, n, sender_id=sender, sender_name=name), {FACET_MEDIA: [1.0, 0.1]})
             for n, sender, name in ((2, 7, "Al"), (3, 7, "Alice"), (4, 8, "Bob"), (5, 9, "Cy"))]
    for item, called in zip(items, (True, True, True, False), strict=True):
        await repos.feedback.record_nearest(-5, item.id, item.date, (first.id, 0.99), called=called)
    await repos.feedback.dismiss(-5, (("a", [1.0, 0.0]), ("b", [0.0, 1.0])), "Bob")
    await repos.feedback.dismiss(-5, (("c", [1.0, 0.0]), ("d", [0.0, 1.0])), "Bob")
    await repos.feedback.ignore(-5, "a", [1.0, 0.0], "photo", "Ada")

    stats = await repos.stats.chat_stats(-5)
    assert (stats.alerts_dismissed, stats.ignored, stats.vectors) == (2, 1, 5)
    assert stats.top_reposters == [(7, "Alice", 2), (8, "Bob", 1)]  # each under the name of their latest repost
