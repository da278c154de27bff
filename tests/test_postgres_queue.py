"""The job queue shared by several processes on one PostgreSQL database.

Each "process" is a PgJobRepository on a PgDatabase pool of its own, exactly what two bot processes have: separate
connections, separate liveness locks, nothing shared in memory.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

from storage.jobs import TEXT_JOB
from storage.postgres.confirmations import PgConfirmationRepository
from storage.postgres.db import PgDatabase
from storage.postgres.jobs import LIVENESS, PgJobRepository
from storage.postgres.stats import PgStatsRepository

CHATS = 6
JOBS_PER_CHAT = 12
TEXTS = 30
ORPHAN_PICKUP_SECONDS = 5.0


class Process:
    """What one bot process holds: its own pool and its own queue repository."""

    def __init__(self, db: PgDatabase) -> None:
        self.db = db
        self.jobs = PgJobRepository(db)

    async def close(self) -> None:
        await self.jobs.close()
        await self.db.close()


@asynccontextmanager
async def processes(dsn: str, count: int) -> AsyncIterator[list[Process]]:
    started = [Process(await PgDatabase.open(dsn)) for _ in range(count)]
    try:
        yield started
    finally:
        for process in started:
            await process.close()


class Run:
    """What the workers of both processes saw: claims in order, and every moment one chat had two jobs running."""

    def __init__(self) -> None:
        self.claims: list[tuple[int, int]] = []  # (chat, job id), in claim order
        self.text_claims: list[int] = []
        self.overlaps: list[object] = []
        self.enqueued: dict[int, list[int]] = defaultdict(list)
        self.running: dict[int, int] = {}  # chat → its media job in hand (taken out before completing it)


async def _share_the_queue(dsn: str, *, simultaneous: bool) -> Run:
    """Both processes enqueue (each update at either) and claim with three workers each until all is done.

    `simultaneous`: a chat's updates arrive in pairs, one at each process at the same moment, so a lower job id may
    commit after a higher one; otherwise one after another."""
    run = Run()
    rng = random.Random(7)
    observer = await asyncpg.connect(dsn)
    observing = asyncio.Lock()
    async with processes(dsn, 2) as (first, second):
        async def enqueue(process: Process, key: str, chat_id: int) -> None:
            job = await process.jobs.enqueue(key, chat_id, "media", {}, now=0)
            assert job is not None
            run.enqueued[chat_id].append(job.id)

        async def produce(chat_id: int) -> None:
            for n in range(0, JOBS_PER_CHAT, 2):
                pair = [(rng.choice((first, second)), f"{chat_id}:{n + k}") for k in (0, 1)]
                if simultaneous:
                    await asyncio.gather(*(enqueue(process, key, chat_id) for process, key in pair))
                else:
                    for process, key in pair:
                        await enqueue(process, key, chat_id)
                await asyncio.sleep(rng.random() / 500)

        async def produce_texts() -> None:
            for n in range(TEXTS):
                await rng.choice((first, second)).jobs.enqueue(f"t{n}", n % CHATS, TEXT_JOB, {}, now=0)

        async def work(process: Process, stop: asyncio.Event) -> None:
            while not stop.is_set():
                claimed = await process.jobs.claim(now=1, limit=3)
                texts = await process.jobs.claim_texts(now=1, limit=4)
                for job in claimed:
                    if job.chat_id in run.running:
                        run.overlaps.append((job.chat_id, run.running[job.chat_id], job.id))
                    run.running[job.chat_id] = job.id
                    run.claims.append((job.chat_id, job.id))
                run.text_claims.extend(job.id for job in texts)
                async with observing:
                    doubled = await observer.fetch(
                        "SELECT chat_id FROM jobs WHERE state = 'running' AND kind = 'media' GROUP BY chat_id "
                        "HAVING count(*) > 1")
                run.overlaps.extend(row[0] for row in doubled)
                await asyncio.sleep(rng.random() / 200)
                for job in claimed:
                    del run.running[job.chat_id]
                    await process.jobs.complete(job.id)
                for job in texts:
                    await process.jobs.complete(job.id)
                if not claimed and not texts:
                    await asyncio.sleep(0.005)

        stop = asyncio.Event()
        workers = [asyncio.create_task(work(process, stop)) for process in (first, second) for _ in range(3)]
        await asyncio.gather(*(produce(chat) for chat in range(CHATS)), produce_texts())
        deadline = time.monotonic() + 60
        while (await first.jobs.backlog())[0]:
            assert time.monotonic() < deadline, "the queue did not drain"
            assert not any(worker.done() for worker in workers), [w.exception() for w in workers if w.done()]
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.gather(*workers)
        assert await first.jobs.counts() == {"pending": 0, "running": 0, "done": CHATS * JOBS_PER_CHAT + TEXTS,
                                             "failed": 0}
    await observer.close()
    return run


async def test_two_processes_share_the_queue_one_job_per_chat_in_order(postgres_dsn: str) -> None:
    run = await _share_the_queue(postgres_dsn, simultaneous=False)

    assert run.overlaps == []
    ids = [job_id for _, job_id in run.claims]
    assert len(ids) == len(set(ids)) == CHATS * JOBS_PER_CHAT  # each media job claimed exactly once
    assert len(run.text_claims) == len(set(run.text_claims)) == TEXTS
    for chat_id in range(CHATS):
        assert [job_id for chat, job_id in run.claims if chat == chat_id] == run.enqueued[chat_id]


async def test_updates_of_one_chat_enqueued_at_once_by_two_processes_still_run_one_at_a_time(
        postgres_dsn: str) -> None:
    run = await _share_the_queue(postgres_dsn, simultaneous=True)

    assert run.overlaps == []
    ids = [job_id for _, job_id in run.claims]
    assert len(ids) == len(set(ids)) == CHATS * JOBS_PER_CHAT
    for chat_id in range(CHATS):
        assert sorted(job_id for chat, job_id in run.claims if chat == chat_id) == sorted(run.enqueued[chat_id])


async def test_the_same_update_enqueued_by_two_processes_at_once_is_one_job(postgres_dsn: str) -> None:
    async with processes(postgres_dsn, 2) as (first, second):
        for n in range(40):
            made = await asyncio.gather(first.jobs.enqueue(f"update-{n}", 1, "media", {"n": n}, now=0),
                                        second.jobs.enqueue(f"update-{n}", 1, "media", {"n": n}, now=0))
            assert sum(job is not None for job in made) == 1
        assert (await first.jobs.counts())["pending"] == 40


async def test_an_older_job_committed_late_waits_for_the_running_one_of_its_chat(postgres_dsn: str) -> None:
    """Two processes enqueue for one chat at once and the lower id commits last: the chat still runs one at a time."""
    async with processes(postgres_dsn, 2) as (first, second):
        later = await first.jobs.enqueue("later", 1, "media", {}, now=0)
        assert later is not None
        assert [job.id for job in await first.jobs.claim(now=0, limit=5)] == [later.id]
        await first.db.execute(
            "INSERT INTO jobs (id, key, chat_id, kind, payload, state, next_attempt_at, created_at) "
            "VALUES ($1, 'earlier', 1, 'media', '{}', 'pending', 0, 0)", later.id - 1 if later.id > 1 else 0)

        assert await second.jobs.claim(now=0, limit=5) == []
        await first.jobs.complete(later.id)
        assert [job.key for job in await second.jobs.claim(now=0, limit=5)] == ["earlier"]


async def test_a_media_claim_waits_for_one_in_flight_before_it_looks(postgres_dsn: str) -> None:
    """The race read committed leaves open: claim A's snapshot misses an earlier job of the chat committed just
    after it, and claim B, starting before A commits, sees that job but not A's claim. A trigger holds A's claim
    open (one second) while the earlier job commits; B must then find the chat busy."""
    async with processes(postgres_dsn, 2) as (first, second):
        admin = await asyncpg.connect(postgres_dsn)
        await admin.execute("CREATE FUNCTION slow_claim() RETURNS trigger LANGUAGE plpgsql AS "
                            "$$ BEGIN PERFORM pg_sleep(1); RETURN NEW; END $$")
        await admin.execute("CREATE TRIGGER slow_claim BEFORE UPDATE ON jobs FOR EACH ROW "
                            "WHEN (NEW.key = 'later' AND NEW.state = 'running') EXECUTE FUNCTION slow_claim()")
        later = await first.jobs.enqueue("later", 1, "media", {}, now=0)
        assert later is not None
        enqueuer = await asyncpg.connect(postgres_dsn)
        enqueuing = enqueuer.transaction()
        await enqueuing.start()
        await enqueuer.execute(
            "INSERT INTO jobs (id, key, chat_id, kind, payload, state, next_attempt_at, created_at) "
            "VALUES ($1, 'earlier', 1, 'media', '{}', 'pending', 0, 0)", later.id - 1)

        slow = asyncio.create_task(first.jobs.claim(now=0, limit=5))
        deadline = time.monotonic() + 5
        while not await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'"):
            assert time.monotonic() < deadline, "the first claim never reached the trigger"
            await asyncio.sleep(0.01)
        await enqueuing.commit()
        fast = await second.jobs.claim(now=0, limit=5)

        assert [job.key for job in await slow] == ["later"]
        assert fast == []
        assert await second.jobs.claim(now=0, limit=5) == []
        await first.jobs.complete(later.id)
        assert [job.key for job in await second.jobs.claim(now=0, limit=5)] == ["earlier"]
        await enqueuer.close()
        await admin.close()


async def _terminate_owner(db: PgDatabase, job_id: int) -> None:
    """Kill the backend holding the liveness lock of the job's claimer, as a vanished process's connection dies."""
    terminated = await db.fetchval(
        "SELECT bool_and(pg_terminate_backend(l.pid)) FROM pg_locks AS l JOIN jobs ON jobs.id = $1 "
        "WHERE l.locktype = 'advisory' AND l.classid = $2::oid AND l.objid = jobs.claimed_by::oid AND l.granted",
        job_id, LIVENESS,
    )
    assert terminated


async def _claim_within(jobs: PgJobRepository, seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        claimed = await jobs.claim(now=0, limit=10)
        if claimed:
            return sorted(job.id for job in claimed)
        await asyncio.sleep(0.1)
    return []


async def test_a_dead_processs_running_jobs_go_to_a_survivor_within_seconds(postgres_dsn: str) -> None:
    async with processes(postgres_dsn, 3) as (doomed, survivor, newcomer):
        ids = {}
        for chat in (1, 2, 3):
            job = await doomed.jobs.enqueue(f"job-{chat}", chat, "media", {}, now=0)
            assert job is not None
            ids[chat] = job.id
        assert [job.id for job in await survivor.jobs.claim(now=0, limit=1)] == [ids[1]]
        assert sorted(job.id for job in await doomed.jobs.claim(now=0, limit=10)) == [ids[2], ids[3]]
        assert await newcomer.jobs.claim(now=0, limit=10) == []  # everything runs in a live process

        await _terminate_owner(survivor.db, ids[2])
        started = time.monotonic()
        assert await _claim_within(survivor.jobs, ORPHAN_PICKUP_SECONDS) == [ids[2], ids[3]]
        assert time.monotonic() - started < ORPHAN_PICKUP_SECONDS
        resumed = await survivor.jobs.get(ids[2])
        assert resumed is not None and (resumed.state, resumed.attempts) == ("running", 1)  # the lost run counts

        assert await newcomer.jobs.requeue_running() == 0  # a live process's jobs are not taken at start-up
        assert await newcomer.jobs.claim(now=0, limit=10) == []
        assert (await survivor.jobs.counts())["running"] == 3


async def test_requeue_at_start_takes_a_dead_processs_jobs_but_not_a_live_ones(postgres_dsn: str) -> None:
    async with processes(postgres_dsn, 3) as (doomed, alive, starting):
        for chat in (1, 2):
            await doomed.jobs.enqueue(f"d{chat}", chat, "media", {}, now=0)
        await alive.jobs.enqueue("a", 3, "media", {}, now=0)
        dead_jobs = await doomed.jobs.claim(now=0, limit=2)
        (live_job,) = await alive.jobs.claim(now=0, limit=2)
        await _terminate_owner(alive.db, dead_jobs[0].id)
        await asyncio.sleep(0.2)  # the server ends the backend and its locks

        assert await starting.jobs.requeue_running() == 2
        assert [job.state for job in [await starting.jobs.get(job.id) for job in dead_jobs] if job] == ["pending"] * 2
        still = await starting.jobs.get(live_job.id)
        assert still is not None and still.state == "running"


async def test_closing_in_order_hands_running_jobs_back_uncounted(postgres_dsn: str) -> None:
    async with processes(postgres_dsn, 1) as (other,):
        leaving = Process(await PgDatabase.open(postgres_dsn))
        await leaving.jobs.enqueue("a", 1, "media", {}, now=0)
        (job,) = await leaving.jobs.claim(now=0, limit=1)
        await leaving.close()

        back = await other.jobs.get(job.id)
        assert back is not None and (back.state, back.attempts) == ("pending", 0)
        assert [claimed.id for claimed in await other.jobs.claim(now=0, limit=1)] == [job.id]


async def test_one_press_wins_across_processes(postgres_dsn: str) -> None:
    async with processes(postgres_dsn, 2) as (first, second):
        one, two = PgConfirmationRepository(first.db), PgConfirmationRepository(second.db)
        for n in range(30):
            created = await one.create("purge", chat_id=-5, user_id=n, target_chat_id=None, now=n)
            assert sorted(await asyncio.gather(one.take(created.id), two.take(created.id))) == [False, True]


async def test_usage_counted_by_two_processes_at_once_adds_up(postgres_dsn: str) -> None:
    async with processes(postgres_dsn, 2) as (first, second):
        counters = [PgStatsRepository(process.db, None, process.jobs) for process in (first, second)]
        await asyncio.gather(*(
            stats.add_usage(1, 7, requests=0.5, input_tokens=2, image_tokens=3, day=10)
            for stats in counters for _ in range(50)
        ))
        assert await counters[0].requests_today(chat_id=1, day=10) == 50.0
        assert await first.db.fetchval("SELECT input_tokens + image_tokens FROM usage") == 500


@pytest.mark.parametrize("kind", ["media", TEXT_JOB])
async def test_a_job_is_never_claimed_twice_by_concurrent_claims(postgres_dsn: str, kind: str) -> None:
    async with processes(postgres_dsn, 2) as (first, second):
        for n in range(40):
            await first.jobs.enqueue(f"{n}", n, kind, {}, now=0)
        claim = (lambda jobs: jobs.claim(now=0, limit=7)) if kind == "media" else (
            lambda jobs: jobs.claim_texts(now=0, limit=7))
        rounds = await asyncio.gather(*(claim(process.jobs) for process in (first, second) for _ in range(5)))
        ids = [job.id for batch in rounds for job in batch]
        assert len(ids) == len(set(ids)) == 40


async def test_a_process_that_lost_its_liveness_connection_claims_again_under_a_new_token(postgres_dsn: str) -> None:
    """Its jobs of before are orphans from then on (another process may already run them), so it claims them like
    anyone's, counted."""
    async with processes(postgres_dsn, 1) as (process,):
        await process.jobs.enqueue("a", 1, "media", {}, now=0)
        (job,) = await process.jobs.claim(now=0, limit=1)
        await _terminate_owner(process.db, job.id)

        assert await _claim_within(process.jobs, ORPHAN_PICKUP_SECONDS) == [job.id]
        resumed = await process.jobs.get(job.id)
        assert resumed is not None and resumed.attempts == 1
        owners = await process.db.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::oid AND granted", LIVENESS)
        assert owners == 1
