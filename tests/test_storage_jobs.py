"""The durable job queue: idempotent enqueue, per-chat ordering, retries, failures and crash recovery."""

from __future__ import annotations

from storage.jobs import TEXT_EDIT_JOB, TEXT_JOB
from storage.models import JobState
from tests.support.backends import Repos


async def _enqueue(repos: Repos, key: str, chat_id: int, now: int = 100) -> int:
    return await _enqueue_kind(repos, key, chat_id, "media", now)


async def _enqueue_kind(repos: Repos, key: str, chat_id: int, kind: str, now: int = 100) -> int:
    job = await repos.jobs.enqueue(key, chat_id, kind, {"key": key}, now=now)
    assert job is not None
    return job.id


async def test_enqueue_is_idempotent_by_key(repos: Repos) -> None:
    job = await repos.jobs.enqueue("update-1", 5, "media", {"file": "x", "n": [1, 2]}, now=100)

    assert job is not None
    assert (job.key, job.chat_id, job.kind, job.payload) == ("update-1", 5, "media", {"file": "x", "n": [1, 2]})
    assert (job.state, job.attempts, job.next_attempt_at, job.created_at) == ("pending", 0, 100, 100)
    assert (job.error, job.reply_state) == (None, None)
    assert await repos.jobs.enqueue("update-1", 5, "media", {"other": True}, now=200) is None
    await repos.jobs.complete(job.id)
    assert await repos.jobs.enqueue("update-1", 5, "media", {}, now=300) is None  # done jobs still count
    assert await repos.jobs.counts() == {"pending": 0, "running": 0, "done": 1, "failed": 0}


async def test_claim_takes_only_the_oldest_unfinished_job_of_each_chat(repos: Repos) -> None:
    a1, b1, a2, c1 = [await _enqueue(repos, key, chat) for key, chat in (("a1", 1), ("b1", 2), ("a2", 1), ("c1", 3))]

    first = await repos.jobs.claim(now=100, limit=10)
    assert [job.id for job in first] == [a1, b1, c1]
    assert all(job.state == JobState.RUNNING for job in first)
    assert await repos.jobs.claim(now=100, limit=10) == []  # a2 waits for a1, which is running

    await repos.jobs.complete(a1)
    assert [job.id for job in await repos.jobs.claim(now=100, limit=10)] == [a2]


async def test_text_jobs_are_a_lane_of_their_own_claimed_many_per_chat(repos: Repos) -> None:
    media = await _enqueue(repos, "m1", 1)
    texts = [await _enqueue_kind(repos, f"t{n}", 1, kind) for n, kind in enumerate((TEXT_JOB, TEXT_JOB, TEXT_EDIT_JOB))]
    later_media = await _enqueue(repos, "m2", 1)
    other_chat_text = await _enqueue_kind(repos, "t-other", 2, TEXT_JOB)

    claimed = await repos.jobs.claim(now=100, limit=10)
    assert [job.id for job in claimed] == [media]  # texts neither join nor block the media lane
    lane = await repos.jobs.claim_texts(now=100, limit=3)
    assert [job.id for job in lane] == texts
    assert [job.id for job in await repos.jobs.claim_texts(now=100, limit=10)] == [other_chat_text]
    await repos.jobs.complete(media)
    assert [job.id for job in await repos.jobs.claim(now=100, limit=10)] == [later_media]


async def test_claim_respects_limit_and_due_time(repos: Repos) -> None:
    early = await _enqueue(repos, "early", 1, now=100)
    await _enqueue(repos, "late", 2, now=500)
    third = await _enqueue(repos, "third", 3, now=100)

    assert [job.id for job in await repos.jobs.claim(now=200, limit=1)] == [early]
    assert [job.id for job in await repos.jobs.claim(now=200, limit=5)] == [third]


async def test_retry_later_keeps_the_chat_waiting_until_the_retry_time(repos: Repos) -> None:
    first = await _enqueue(repos, "first", 1)
    second = await _enqueue(repos, "second", 1)
    await repos.jobs.claim(now=100, limit=5)

    await repos.jobs.retry_later(first, at=160, error="rate limited")

    job = await repos.jobs.get(first)
    assert job is not None
    assert (job.state, job.attempts, job.next_attempt_at, job.error) == ("pending", 1, 160, "rate limited")
    assert await repos.jobs.claim(now=159, limit=5) == []  # the second job may not overtake the first
    assert [job.id for job in await repos.jobs.claim(now=160, limit=5)] == [first]
    await repos.jobs.complete(first)
    assert [job.id for job in await repos.jobs.claim(now=160, limit=5)] == [second]


async def test_a_failed_job_does_not_block_its_chat(repos: Repos) -> None:
    first = await _enqueue(repos, "first", 1)
    second = await _enqueue(repos, "second", 1)
    await repos.jobs.claim(now=100, limit=5)

    await repos.jobs.fail(first, "file too big")

    assert [job.id for job in await repos.jobs.claim(now=100, limit=5)] == [second]
    failures = await repos.jobs.recent_failures(1)
    assert [(job.id, job.state, job.error, job.attempts) for job in failures] == [(first, "failed", "file too big", 1)]


async def test_requeue_running_recovers_jobs_of_a_crash(repos: Repos) -> None:
    ids = [await _enqueue(repos, key, chat) for key, chat in (("a", 1), ("b", 2), ("c", 2))]
    await repos.jobs.claim(now=100, limit=5)

    assert await repos.jobs.requeue_running() == 2
    assert await repos.jobs.pending_count() == 3
    assert [job.id for job in await repos.jobs.claim(now=100, limit=5)] == ids[:2]


async def test_reply_state_is_recorded(repos: Repos) -> None:
    job_id = await _enqueue(repos, "a", 1)
    await repos.jobs.set_reply_state(job_id, "sending")
    await repos.jobs.set_reply_state(job_id, "sent")
    job = await repos.jobs.get(job_id)
    assert job is not None and job.reply_state == "sent"


async def test_counts_per_chat_and_recent_failures_newest_first(repos: Repos) -> None:
    ids = [await _enqueue(repos, f"job-{n}", 1 if n < 4 else 2) for n in range(6)]
    for job_id in ids[:3]:
        await repos.jobs.fail(job_id, f"error {job_id}")
    await repos.jobs.complete(ids[4])

    assert await repos.jobs.counts(1) == {"pending": 1, "running": 0, "done": 0, "failed": 3}
    assert await repos.jobs.counts(2) == {"pending": 1, "running": 0, "done": 1, "failed": 0}
    assert [job.id for job in await repos.jobs.recent_failures(1, limit=2)] == [ids[2], ids[1]]
    assert await repos.jobs.recent_failures(2) == []


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_prune_finished_deletes_done_and_failed_jobs_by_when_they_finished(repos: Repos) -> None:
    clock = Clock(20)
    jobs = repos.jobs_with_clock(clock)
    keys = ("old-done", "old-failed", "late-done", "late-failed", "waiting", "running")
    created = {key: await _enqueue(repos, key, chat, now=10) for chat, key in enumerate(keys)}
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


async def test_pruned_failures_leave_the_stats_list(repos: Repos) -> None:
    clock = Clock(100)
    jobs = repos.jobs_with_clock(clock)
    old, new = await _enqueue(repos, "old", 1), await _enqueue(repos, "new", 1)
    await jobs.fail(old, "old failure")
    clock.now = 200
    await jobs.fail(new, "new failure")

    assert await jobs.prune_finished(older_than=150) == 1
    assert [job.error for job in await jobs.recent_failures(1)] == ["new failure"]


async def test_updates_of_a_vanished_job_are_harmless(repos: Repos) -> None:
    await repos.jobs.complete(12345)
    await repos.jobs.retry_later(12345, at=1, error="x")
    assert await repos.jobs.get(12345) is None



async def test_postpone_does_not_count_an_attempt(repos: Repos) -> None:
    job_id = await _enqueue(repos, "k", 1, now=0)
    [claimed] = await repos.jobs.claim(now=0, limit=1)
    assert claimed.id == job_id
    await repos.jobs.postpone(job_id, at=50, error="paused: outage")
    assert await repos.jobs.claim(now=49, limit=1) == []
    [again] = await repos.jobs.claim(now=50, limit=1)
    assert (again.attempts, again.error) == (0, "paused: outage")


async def test_backlog_and_due_count_see_waiting_and_running_work(repos: Repos) -> None:
    assert await repos.jobs.backlog() == (0, None)
    running = await _enqueue(repos, "running", 1, now=50)
    await _enqueue(repos, "due", 2, now=70)
    later = await _enqueue(repos, "later", 3, now=60)
    finished = await _enqueue(repos, "finished", 4, now=40)
    await repos.jobs.claim(now=55, limit=1)
    await repos.jobs.retry_later(later, at=500, error="throttled")
    await repos.jobs.complete(finished)

    assert (await repos.jobs.get(running)).state == "running"
    assert await repos.jobs.backlog() == (3, 60)  # the oldest pending one: created at 60, waiting for its retry
    assert await repos.jobs.due_count(now=100) == 2  # running, and due; the retry is not due before 500
    assert await repos.jobs.due_count(now=500) == 3
    assert await repos.jobs.pending_count() == 2
