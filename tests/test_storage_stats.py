"""Usage counters per chat, user and day, and the per-chat statistics built on them."""

from __future__ import annotations

import time

from storage.models import FACET_MEDIA, ChatStats
from storage.stats import day_of
from tests.support.backends import Repos
from tests.support.storage import new_item


def test_day_of_counts_utc_days_since_the_epoch() -> None:
    assert day_of(0) == 0
    assert day_of(86399.9) == 0
    assert day_of(86400) == 1
    assert day_of(1_700_000_000) == 19675


async def test_requests_today_by_chat_by_user_and_overall(repos: Repos) -> None:
    async def use(chat_id: int, user_id: int | None, requests: float, day: int) -> None:
        await repos.stats.add_usage(chat_id, user_id, requests=requests, input_tokens=1, image_tokens=1, day=day)

    await use(1, 7, 1.0, day=10)
    await use(1, 7, 0.5, day=10)  # same chat, user and day: added up
    await use(2, 7, 2.0, day=10)
    await use(1, 8, 4.0, day=10)
    await use(1, None, 8.0, day=10)
    await use(1, 7, 16.0, day=11)

    assert await repos.stats.requests_today(chat_id=1, day=10) == 13.5
    assert await repos.stats.requests_today(user_id=7, day=10) == 3.5
    assert await repos.stats.requests_today(chat_id=1, user_id=7, day=10) == 1.5
    assert await repos.stats.requests_today(day=10) == 15.5
    assert await repos.stats.requests_today(chat_id=1, day=11) == 16.0
    assert await repos.stats.requests_today(chat_id=3, day=10) == 0.0


async def test_usage_defaults_to_today(repos: Repos) -> None:
    before = day_of(time.time())
    await repos.stats.add_usage(1, 7, requests=1, input_tokens=0, image_tokens=0)
    after = day_of(time.time())  # differs from `before` only if the test straddles midnight UTC
    assert sum([await repos.stats.requests_today(chat_id=1, day=day) for day in {before, after}]) == 1


async def test_chat_stats_gathers_items_usage_counters_and_jobs(repos: Repos) -> None:
    await repos.items.add(new_item(1, 1, sender_id=7, sender_name="Alice"), {FACET_MEDIA: [1.0, 0.0]})
    await repos.items.add(new_item(1, 2, kind="video", route="keyframes"), {FACET_MEDIA: [0.0, 1.0]})
    await repos.stats.add_usage(1, 7, requests=2, input_tokens=30, image_tokens=40, day=1)
    await repos.stats.add_usage(1, 8, requests=1, input_tokens=5, image_tokens=6, day=2)
    await repos.stats.add_usage(2, 7, requests=100, input_tokens=100, image_tokens=100, day=1)
    await repos.stats.add_repost(1)
    await repos.stats.add_repost(1)
    await repos.stats.add_skipped_over_cap(1)
    failed = await repos.jobs.enqueue("a", 1, "media", {}, now=1)
    await repos.jobs.enqueue("b", 1, "media", {}, now=1)
    await repos.jobs.enqueue("c", 1, "media", {}, now=1)
    assert failed is not None
    await repos.jobs.fail(failed.id, "x")
    await repos.jobs.claim(now=1, limit=1)

    assert await repos.stats.chat_stats(1) == ChatStats(
        items_by_kind={"photo": 1, "video": 1},
        items_by_route={"image": 1, "keyframes": 1},
        reposts_called=2,
        top_posters=[(7, "Alice", 2)],
        api_requests=3.0,
        input_tokens=35,
        image_tokens=46,
        jobs_failed=1,
        jobs_pending=2,  # one running, one waiting
        skipped_over_cap=1,
        vectors=2,  # one media vector per item, no captions
    )


async def test_stats_of_an_unknown_chat_are_zero(repos: Repos) -> None:
    assert await repos.stats.chat_stats(99) == ChatStats({}, {}, 0, [], 0.0, 0, 0, 0, 0, 0)


async def test_chats_overview_lists_every_chat_with_data(repos: Repos) -> None:
    await repos.items.add(new_item(3, 1), {FACET_MEDIA: [1.0, 0.0]})
    await repos.stats.add_usage(1, 7, requests=1, input_tokens=1, image_tokens=1, day=1)
    await repos.stats.add_skipped_over_cap(2)
    await repos.jobs.enqueue("a", 4, "media", {}, now=1)

    overview = await repos.stats.chats_overview()

    assert [chat_id for chat_id, _ in overview] == [1, 2, 3, 4]
    assert dict(overview)[1].api_requests == 1.0
    assert dict(overview)[2].skipped_over_cap == 1
    assert dict(overview)[3].items_by_kind == {"photo": 1}
    assert dict(overview)[4].jobs_pending == 1
