"""What a dismissal, the ignore list and the leeway mean for later posts, without storage or Telegram."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from bot.core.feedback import Media, dismissed_pair, own_repost, same_media
from storage.models import Dismissal
from tests.test_pipeline_units import item


def direction(degrees: float) -> np.ndarray:
    radians = np.radians(degrees)
    return np.array([np.cos(radians), np.sin(radians)], dtype=np.float32)


def test_same_media_by_file_or_at_least_0_99() -> None:
    a = Media("a", direction(0))
    assert same_media(a, Media("a", None))  # the very file, vector unknown
    assert same_media(a, Media("x", direction(8)))  # cos 8° = 0.990
    assert not same_media(a, Media("x", direction(9)))  # cos 9° = 0.988
    assert not same_media(a, Media("x", None))


def test_a_dismissed_pair_covers_both_orders_and_near_copies_only_of_that_pair() -> None:
    pair = Dismissal(1, -1, "a", "b", direction(0), direction(30), "Bob", 0)
    assert dismissed_pair(pair, Media("a", direction(0)), Media("b", direction(30)))
    assert dismissed_pair(pair, Media("b2", direction(31)), Media("a2", direction(1)))  # copies, other order
    assert not dismissed_pair(pair, Media("a", direction(0)), Media("c", direction(20)))  # a third picture
    assert not dismissed_pair(pair, Media("a", direction(0)), Media("a3", direction(2)))  # a against itself


def test_own_reposts_within_the_leeway_only_and_only_by_people() -> None:
    earlier = item(1, date=1_000_000)
    assert own_repost(item(2, date=1_000_000 + 3599), earlier, 1)
    assert not own_repost(item(2, date=1_000_000 + 3600), earlier, 1)
    assert not own_repost(item(2, date=1_000_000 + 10), earlier, 0)  # leeway 0: always called out
    channel = replace(earlier, sender_id=-100123)
    assert not own_repost(replace(item(2, date=1_000_010), sender_id=-100123), channel, 24)
