"""Re-embedding a chat's items with another model in PostgreSQL: the same contract as
`storage.reembedding.ReembeddingRepository` (staged vectors wait in `reembedded`; a chat switches at once).

Several bot processes share the database, and each would walk the same backlog in the same order, paying the API
twice for every item. So only one process re-embeds at a time: the one holding a session advisory lock
(`sole_runner`); the others wait, and take over within a minute when it stops or dies (PostgreSQL releases the lock
with its connection). Progress is the table itself, so the next runner resumes where the last one stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import numpy.typing as npt

from storage.errors import StoreUnavailable
from storage.models import FACET_CAPTION, FACET_MEDIA, FACET_TEXT, TEXT_KIND, ChatBacklog, Item
from storage.postgres.db import Connection, PgDatabase, answers, translated
from storage.postgres.items import PgItemRepository, VectorRow, write_vectors
from storage.reembedding import BACKLOG
from storage.vectors import FloatMatrix, unit_vector

log = logging.getLogger(__name__)

REEMBEDDER_LOCK = 0x6D65_6469_6172_6531  # "mediare1"
"""The advisory lock held by the one process that re-embeds."""
TAKE_OVER_SECONDS = 30.0
"""How often a waiting process tries to become the re-embedder."""


LOCK_CHECK_SECONDS = 5.0
"""How often the re-embedding process makes sure it still holds its lock."""


@asynccontextmanager
async def _while_held(conn: Connection) -> AsyncIterator[None]:
    """Runs the block while `conn` answers; once it does not, the block is cancelled and ends in
    `StoreUnavailable` (a cancellation from anywhere else stays a cancellation)."""
    body = asyncio.current_task()
    assert body is not None
    lost = False

    async def watch() -> None:
        nonlocal lost
        while True:
            await asyncio.sleep(LOCK_CHECK_SECONDS)
            if not await answers(conn):
                lost = True
                body.cancel()
                return

    watcher = asyncio.create_task(watch(), name="re-embedding-lock")
    try:
        yield
    except asyncio.CancelledError:
        if lost and body.uncancel() == 0:
            raise StoreUnavailable("the re-embedding lock's connection to the database was lost") from None
        raise
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


class PgReembeddingRepository:
    def __init__(self, db: PgDatabase, items: PgItemRepository) -> None:
        self._db = db
        self._items = items

    @asynccontextmanager
    async def sole_runner(self) -> AsyncIterator[None]:
        """Waits until this process is the only one re-embedding, and stays so until the block ends.

        The lock lives on a connection of its own and as long as it: should the server go away (a restart, a
        failover), another process may take the lock once it is back, so the block is stopped with
        `StoreUnavailable` within `LOCK_CHECK_SECONDS`, and the caller must come here again before going on."""
        while True:
            conn = await self._db.connect()
            try:
                with translated():
                    sole = await conn.fetchval("SELECT pg_try_advisory_lock($1)", REEMBEDDER_LOCK)
                if sole:
                    log.info("this process re-embeds")
                    async with _while_held(conn):
                        yield
                    return
            finally:
                conn.terminate()  # the session ends, and the lock with it
            await asyncio.sleep(TAKE_OVER_SECONDS)

    async def backlog(self, model: str, chat_id: int | None = None) -> list[ChatBacklog]:
        """Every chat (or one) holding items not tagged `model`; a chat whose only such items are kept is done."""
        query = BACKLOG.format(model="$1", chat_filter="" if chat_id is None else "AND i.chat_id = $2")
        rows = await self._db.fetch(query, model, *(() if chat_id is None else (chat_id,)))
        return [ChatBacklog(int(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in rows]

    async def chat_model(self, chat_id: int, active: str) -> str:
        """The tag the chat's index uses now (see storage.reembedding): the one most of its items carry, not
        counting items kept on an old tag; `active` on a tie or when empty."""
        rows = await self._db.fetch(
            "SELECT i.model, count(*) FILTER (WHERE r.item_id IS NULL) FROM items AS i "
            "LEFT JOIN reembedded AS r ON r.item_id = i.id AND r.model = $2 AND r.state = 'kept' "
            "WHERE i.chat_id = $1 GROUP BY i.model", chat_id, active,
        )
        counts = {str(model): int(count) for model, count in rows}
        return max(counts, key=lambda model: (counts[model], model == active), default=active)

    async def next_items(self, chat_id: int, model: str, limit: int) -> list[Item]:
        """Items of the chat still to re-embed, oldest first; staged and kept ones are never returned again."""
        rows = await self._db.fetch(
            "SELECT i.id FROM items AS i LEFT JOIN reembedded AS r ON r.item_id = i.id AND r.model = $2 "
            "WHERE i.chat_id = $1 AND i.model != $2 AND r.item_id IS NULL ORDER BY i.id LIMIT $3",
            chat_id, model, limit,
        )
        found = await self._items.get_many([int(row[0]) for row in rows])
        return [found[item_id] for item_id in sorted(found)]

    async def stage(self, item: Item, model: str, media: npt.ArrayLike, caption: npt.ArrayLike | None) -> None:
        """The item's new vectors, waiting for the chat's switch."""
        await self._put(item, model, "ready", unit_vector(media), None if caption is None else unit_vector(caption),
                        None)

    async def keep(self, item: Item, model: str, reason: str) -> None:
        """The item cannot be re-embedded (its file is gone): it stays on its old vectors until deleted.

        Vectors staged meanwhile by another process (`import-history` reading an imported item's export) win."""
        await self._put(item, model, "kept", None, None, reason)

    async def imported_pending(self, chat_id: int, model: str, *, after_id: int, limit: int) -> list[Item]:
        """The chat's imported items whose export path is known, not on `model` and not staged for it (kept ones
        included: the running bot keeps them, having no export to read), by id after `after_id`."""
        rows = await self._db.fetch(
            "SELECT i.id FROM items AS i LEFT JOIN reembedded AS r ON r.item_id = i.id AND r.model = $2 "
            "AND r.state = 'ready' WHERE i.chat_id = $1 AND i.source_path IS NOT NULL AND i.model != $2 "
            "AND r.item_id IS NULL AND i.id > $3 ORDER BY i.id LIMIT $4",
            chat_id, model, after_id, limit,
        )
        found = await self._items.get_many([int(row[0]) for row in rows])
        return [found[item_id] for item_id in sorted(found)]

    async def imported_without_path(self, chat_id: int, model: str) -> int:
        """Imported items not on `model` whose export path was never recorded (imported by an older version)."""
        return int(await self._db.fetchval(
            "SELECT count(*) FROM items WHERE chat_id = $1 AND model != $2 AND file_id = '' AND kind != $3 "
            "AND source_path IS NULL", chat_id, model, TEXT_KIND))

    async def is_staged(self, item_id: int, model: str) -> bool:
        return bool(await self._db.fetchval(
            "SELECT EXISTS (SELECT 1 FROM reembedded WHERE item_id = $1 AND model = $2 AND state = 'ready')",
            item_id, model))

    async def record_source_path(self, item_id: int, path: str) -> None:
        """Where an imported item's file is in its export, learned again by a later import of it."""
        await self._db.execute("UPDATE items SET source_path = $1 WHERE id = $2", path, item_id)

    async def switch(self, chat_id: int, model: str) -> int:
        """Give every staged item of the chat its new vectors and tag at once; returns how many switched."""
        async with self._db.transaction() as work:
            rows = await work.conn.fetch(
                "SELECT r.item_id, r.media, r.caption, i.kind FROM reembedded AS r JOIN items AS i "
                "ON i.id = r.item_id WHERE r.chat_id = $1 AND r.model = $2 AND r.state = 'ready' FOR UPDATE",
                chat_id, model,
            )
            ids = [int(row["item_id"]) for row in rows]
            await work.conn.execute("DELETE FROM vectors WHERE item_id = ANY($1::bigint[])", ids)
            await work.conn.execute("UPDATE items SET model = $1 WHERE id = ANY($2::bigint[])", model, ids)
            await write_vectors(work.conn, [vector for row in rows for vector in _new_vectors(row, chat_id, model)])
            await work.conn.execute("DELETE FROM reembedded WHERE chat_id = $1 AND state = 'ready'", chat_id)
            self._items.reset_chats_after_commit(work, (chat_id,))
        return len(ids)

    async def forget_other_targets(self, model: str) -> None:
        """Work staged for a model that is no longer the target (the operator changed their mind) is void."""
        await self._db.execute("DELETE FROM reembedded WHERE model != $1", model)

    async def forget_other_models_cache(self, model: str) -> None:
        """Once no chat uses another model, cached embeddings of other models only take space."""
        await self._db.execute("DELETE FROM embedding_cache WHERE model != $1", model)

    async def _put(self, item: Item, model: str, state: str, media: FloatMatrix | None, caption: FloatMatrix | None,
                   reason: str | None) -> None:
        await self._db.execute(
            "INSERT INTO reembedded (item_id, chat_id, model, state, media, caption, reason, created_at) "
            "SELECT id, chat_id, $1, $2, $3, $4, $5, $6 FROM items WHERE id = $7 "
            "ON CONFLICT (item_id) DO UPDATE SET chat_id = excluded.chat_id, model = excluded.model, "
            "state = excluded.state, media = excluded.media, caption = excluded.caption, reason = excluded.reason, "
            "created_at = excluded.created_at "
            "WHERE NOT (excluded.state = 'kept' AND reembedded.state = 'ready' AND reembedded.model = $1)",
            model, state, media, caption, reason, int(time.time()), item.id,
        )


def _new_vectors(row: Any, chat_id: int, model: str) -> list[VectorRow]:
    """A staged item's vectors: its own (a message's one vector is its text's) and its caption's, if any."""
    item_id, media, caption, kind = row
    own = FACET_TEXT if kind == TEXT_KIND else FACET_MEDIA
    staged = {own: media, FACET_CAPTION: caption}
    return [(int(item_id), facet, chat_id, model, vector.to_numpy()) for facet, vector in sorted(staged.items())
            if vector is not None]
