"""The durable job queue: idempotent enqueue, per-chat ordering, retries, failures and crash recovery."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.jobs import TEXT_EDIT_JOB, TEXT_JOB, JobRepository
from storage.models import JobState
from storage.store import Store
from tests.support.storage import open_store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(tmp_path / "bot.db") as opened:
        yield opened


async def _enqueue(store: Store, key: str, chat_id: int, now: int = 100) -> int:
    return await _enqueue_kind(store, key, chat_id, "media", now)


async def _enqueue_kind(store: Store, key: str, chat_id: int, kind: str, now: int = 100) -> int:
    job = await store.jobs.enqueue(key, chat_id, kind, {"key": key}, now=now)
    assert job is not None
    return job.id


async def test_enqueue_is_idempotent_by_key(store: Store) -> None:
    job = await store.jobs.enqueue("update-1", 5, "media", {"file": "x", "n": [1, 2]}, now=100)

    assert job is not None
    assert (job.key, job.chat_id, job.kind, job.payload) == ("update-1", 5, "media", {"file": "x", "n": [1, 2]})
    assert (job.state, job.attempts, job.next_attempt_at, job.created_at) == ("pending", 0, 100, 100)
    assert (job.error, job.reply_state) == (None, None)
    assert await store.jobs.enqueue("update-1", 5, "media", {"other": True}, now=200) is None
    await store.jobs.complete(job.id)
    assert await store.jobs.enqueue("update-1", 5, "media", {}, now=300) is None  # done jobs still count
    assert await store.jobs.counts() == {"pending": 0, "running": 0, "done": 1, "failed": 0}


async def test_claim_takes_only_the_oldest_unfinished_job_of_each_chat(store: Store) -> None:
    a1, b1, a2, c1 = [await _enqueue(store, key, chat) for key, chat in (("a1", 1), ("b1", 2), ("a2", 1), ("c1", 3))]

    first = await store.jobs.claim(now=100, limit=10)
    assert [job.id for job in first] == [a1, b1, c1]
    assert all(job.state == JobState.RUNNING for job in first)
    assert await store.jobs.claim(now=100, limit=10) == []  # a2 waits for a1, which is running

    await store.jobs.complete(a1)
    assert [job.id for job in await store.jobs.claim(now=100, limit=10)] == [a2]


async def test_text_jobs_are_a_lane_of_their_own_claimed_many_per_chat(store: Store) -> None:
    media = await _enqueue(store, "m1", 1)
    texts = [await _enqueue_kind(store, f"t{n}", 1, kind) for n, kind in enumerate((TEXT_JOB, TEXT_JOB, TEXT_EDIT_JOB))]
    later_media = await _enqueue(store, "m2", 1)
    other_chat_text = await _enqueue_kind(store, "t-other", 2, TEXT_JOB)

    claimed = await store.jobs.claim(now=100, limit=10)
    assert [job.id for job in claimed] == [media]  # texts neither join nor block the media lane
    lane = await store.jobs.claim_texts(now=100, limit=3)
    assert [job.id for job in lane] == texts
    assert [job.id for job in await store.jobs.claim_texts(now=100, limit=10)] == [other_chat_text]
    await store.jobs.complete(media)
    assert [job.id for job in await store.jobs.claim(now=100, limit=10)] == [later_media]


async def test_claim_respects_limit_and_due_time(store: Store) -> None:
    early = await _enqueue(store, "early", 1, now=100)
    await _enqueue(store, "late", 2, now=500)
    third = await _enqueue(store, "third", 3, now=100)

    assert [job.id for job in await store.jobs.claim(now=200, limit=1)] == [early]
    assert [job.id for job in await store.jobs.claim(now=200, limit=5)] == [third]


async def test_retry_later_keeps_the_chat_waiting_until_the_retry_time(store: Store) -> None:
    first = await _enqueue(store, "first", 1)
    second = await _enqueue(store, "second", 1)
    await store.jobs.claim(now=100, limit=5)

    await store.jobs.retry_later(first, at=160, error="rate limited")

    job = await store.jobs.get(first)
    assert job is not None
    assert (job.state, job.attempts, job.next_attempt_at, job.error) == ("pending", 1, 160, "rate limited")
    assert await store.jobs.claim(now=159, limit=5) == []  # the second job may not overtake the first
    assert [job.id for job in await store.jobs.claim(now=160, limit=5)] == [first]
    await store.jobs.complete(first)
    assert [job.id for job in await store.jobs.claim(now=160, limit=5)] == [second]


async def test_a_failed_job_does_not_block_its_chat(store: Store) -> None:
    first = await _enqueue(store, "first", 1)
    second = await _enqueue(store, "second", 1)
    await store.jobs.claim(now=100, limit=5)

    await store.jobs.fail(first, "file too big")

    assert [job.id for job in await store.jobs.claim(now=100, limit=5)] == [second]
    failures = await store.jobs.recent_failures(1)
    assert [(job.id, job.state, job.error, job.attempts) for job in failures] == [(first, "failed", "file too big", 1)]


async def test_requeue_running_recovers_jobs_of_a_crash(store: Store) -> None:
    ids = [await _enqueue(store, key, chat) for key, chat in (("a", 1), ("b", 2), ("c", 2))]
    await store.jobs.claim(now=100, limit=5)

    assert await store.jobs.requeue_running() == 2
    assert await store.jobs.pending_count() == 3
    assert [job.id for job in await store.jobs.claim(now=100, limit=5)] == ids[:2]


async def test_reply_state_is_recorded(store: Store) -> None:
    job_id = await _enqueue(store, "a", 1)
    await store.jobs.set_reply_state(job_id, "sending")
    await store.jobs.set_reply_state(job_id, "sent")
    job = await store.jobs.get(job_id)
    assert job is not None and job.reply_state == "sent"


async def test_counts_per_chat_and_recent_failures_newest_first(store: Store) -> None:
    ids = [await _enqueue(store, f"job-{n}", 1 if n < 4 else 2) for n in range(6)]
    for job_id in ids[:3]:
        await store.jobs.fail(job_id, f"error {job_id}")
    await store.jobs.complete(ids[4])

    assert await store.jobs.counts(1) == {"pending": 1, "running": 0, "done": 0, "failed": 3}
    assert await store.jobs.counts(2) == {"pending": 1, "running": 0, "done": 1, "failed": 0}
    assert [job.id for job in await store.jobs.recent_failures(1, limit=2)] == [ids[2], ids[1]]
    assert await store.jobs.recent_failures(2) == []


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_prune_finished_deletes_done_and_failed_jobs_by_when_they_finished(store: Store) -> None:
    clock = Clock(20)
    jobs = JobRepository(store.db, clock=clock)
    keys = ("old-done", "old-failed", "late-done", "late-failed", "waiting", "running")
    created = {key: await _enqueue(store, key, chat, now=10) for chat, key in enumerate(keys)}
    await jobs.complete(created["old-done"])
    await jobs.fail(created["old-failed"], "too big")
    await jobs.retry_later(created["waiting"], at=5000, error="throttled")
    claimed = await jobs.claim(now=20, limit=10)
    assert [job.key for job in claimed] == ["late-done", "late-failed", "running"]
    clock.now = 1000  # created long ago, finished only now: their age counts from when they finished
    await jobs.complete(created["late-done"])
    await jobs.fail(created["late-failed"], "corrupt")

    assert await jobs.prune_finished(older_than=500) == 2

    assert await jobs.get(created["old-done"]) is None and await jobs.get(created["old-failed"]) is None
    for key in ("late-done", "late-failed", "waiting", "running"):  # unfinished ones stay however old
        assert await jobs.get(created[key]) is not None, key
    assert await jobs.counts() == {"pending": 1, "running": 1, "done": 1, "failed": 1}
    assert await jobs.prune_finished(older_than=1000) == 0
    assert await jobs.prune_finished(older_than=1001) == 2
    assert await jobs.counts() == {"pending": 1, "running": 1, "done": 0, "failed": 0}


async def test_pruned_failures_leave_the_stats_list(store: Store) -> None:
    clock = Clock(100)
    jobs = JobRepository(store.db, clock=clock)
    old, new = await _enqueue(store, "old", 1), await _enqueue(store, "new", 1)
    await jobs.fail(old, "old failure")
    clock.now = 200
    await jobs.fail(new, "new failure")

    assert await jobs.prune_finished(older_than=150) == 1
    assert [job.error for job in await jobs.recent_failures(1)] == ["new failure"]


async def test_updates_of_a_vanished_job_are_harmless(store: Store) -> None:
    await store.jobs.complete(12345)
    await store.jobs.retry_later(12345, at=1, error="x")
    assert await store.jobs.get(12345) is None



async def test_postpone_does_not_count_an_attempt(store: Store) -> None:
    job_id = await _enqueue(store, "k", 1, now=0)
    [claimed] = await store.jobs.claim(now=0, limit=1)
    assert claimed.id == job_id
    await store.jobs.postpone(job_id, at=50, error="paused: outage")
    assert await store.jobs.claim(now=49, limit=1) == []
    [again] = await store.jobs.claim(now=50, limit=1)
    assert (again.attempts, again.error) == (0, "paused: outage")
