"""Re-embedding a chat's items with another model or dimension, staged so the chat switches at once.

Until a chat's switch, its items keep their old tag and vectors (searches and repost checks use them); the new
vectors wait in `reembedded`. The switch replaces every staged item's vectors and tag in one transaction and the
in-memory indexes of the chat are rebuilt. Progress is the table itself, so a restart resumes where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import numpy.typing as npt

from storage import segments
from storage.db import Database
from storage.items import ItemRepository
from storage.models import FACET_CAPTION, FACET_MEDIA, FACET_TEXT, TEXT_KIND, ChatBacklog, Item
from storage.vectors import to_blob, unit_vector

BACKLOG = """
    SELECT i.chat_id, count(*),
           count(r.item_id) FILTER (WHERE r.state = 'ready'),
           count(r.item_id) FILTER (WHERE r.state = 'kept')
    FROM items AS i LEFT JOIN reembedded AS r ON r.item_id = i.id AND r.model = {model}
    WHERE i.model != {model} {chat_filter}
    GROUP BY i.chat_id ORDER BY i.chat_id
"""
"""Both backends' backlog: `model` and `chat_filter` are filled with their placeholders."""


class ReembeddingRepository:
    def __init__(self, db: Database, items: ItemRepository) -> None:
        self._db = db
        self._items = items

    @asynccontextmanager
    async def sole_runner(self) -> AsyncIterator[None]:
        """Only one process serves a SQLite database (storage.single_instance): it is the only one re-embedding."""
        yield

    async def backlog(self, model: str, chat_id: int | None = None) -> list[ChatBacklog]:
        """Every chat (or one) holding items not tagged `model`; a chat whose only such items are kept is done."""
        query = BACKLOG.format(model=":model", chat_filter="" if chat_id is None else "AND i.chat_id = :chat")
        async with self._db.read() as conn:
            rows = await conn.execute_fetchall(query, {"model": model, "chat": chat_id})
        return [ChatBacklog(int(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in rows]

    async def chat_model(self, chat_id: int, active: str) -> str:
        """The tag the chat's index uses now: the one most of its items carry, `active` on a tie or when empty.

        Before its switch a chat's items are on the old tag (live posts there are embedded with the old model too);
        after it, on `active`, so a post embedded on the old model just before the switch cannot send the chat back.
        Items kept on an old tag (file gone) are not counted.
        """
        async with self._db.read() as conn:
            tags = await conn.execute_fetchall(
                "SELECT model, count(*) FROM items WHERE chat_id = ? GROUP BY model", (chat_id,))
            kept = await conn.execute_fetchall(
                "SELECT i.model, count(*) FROM reembedded AS r JOIN items AS i ON i.id = r.item_id "
                "WHERE r.chat_id = ? AND r.model = ? AND r.state = 'kept' GROUP BY i.model", (chat_id, active))
        counts = {str(model): int(count) for model, count in tags}
        for model, count in kept:
            counts[str(model)] -= int(count)
        return max(counts, key=lambda model: (counts[model], model == active), default=active)

    async def next_items(self, chat_id: int, model: str, limit: int) -> list[Item]:
        """Items of the chat still to re-embed, oldest first; staged and kept ones are never returned again."""
        async with self._db.read() as conn:
            rows = await conn.execute_fetchall(
                "SELECT i.id FROM items AS i LEFT JOIN reembedded AS r ON r.item_id = i.id AND r.model = :model "
                "WHERE i.chat_id = :chat AND i.model != :model AND r.item_id IS NULL ORDER BY i.id LIMIT :limit",
                {"chat": chat_id, "model": model, "limit": limit},
            )
        found = await self._items.get_many([int(row[0]) for row in rows])
        return [found[item_id] for item_id in sorted(found)]

    async def stage(self, item: Item, model: str, media: npt.ArrayLike, caption: npt.ArrayLike | None) -> None:
        """The item's new vectors, waiting for the chat's switch."""
        await self._put(item, model, "ready", to_blob(unit_vector(media)),
                        None if caption is None else to_blob(unit_vector(caption)), None)

    async def keep(self, item: Item, model: str, reason: str) -> None:
        """The item cannot be re-embedded (its file is gone): it stays on its old vectors until deleted.

        Vectors staged meanwhile by another process (`import-history` reading an imported item's export) win."""
        await self._put(item, model, "kept", None, None, reason)

    async def imported_pending(self, chat_id: int, model: str, *, after_id: int, limit: int) -> list[Item]:
        """The chat's imported items whose export path is known, not on `model` and not staged for it (kept ones
        included: the running bot keeps them, having no export to read), by id after `after_id`."""
        async with self._db.read() as conn:
            rows = await conn.execute_fetchall(
                "SELECT i.id FROM items AS i LEFT JOIN reembedded AS r "
                "ON r.item_id = i.id AND r.model = :model AND r.state = 'ready' "
                "WHERE i.chat_id = :chat AND i.source_path IS NOT NULL AND i.model != :model AND r.item_id IS NULL "
                "AND i.id > :after ORDER BY i.id LIMIT :limit",
                {"chat": chat_id, "model": model, "after": after_id, "limit": limit},
            )
        found = await self._items.get_many([int(row[0]) for row in rows])
        return [found[item_id] for item_id in sorted(found)]

    async def imported_without_path(self, chat_id: int, model: str) -> int:
        """Imported items not on `model` whose export path was never recorded (imported by an older version)."""
        async with self._db.read() as conn:
            rows = await conn.execute_fetchall(
                "SELECT count(*) FROM items WHERE chat_id = ? AND model != ? AND file_id = '' AND kind != ? "
                "AND source_path IS NULL", (chat_id, model, TEXT_KIND))
        return int(next(iter(rows))[0])

    async def is_staged(self, item_id: int, model: str) -> bool:
        async with self._db.read() as conn:
            rows = await conn.execute_fetchall(
                "SELECT 1 FROM reembedded WHERE item_id = ? AND model = ? AND state = 'ready'", (item_id, model))
        return bool(rows)

    async def record_source_path(self, item_id: int, path: str) -> None:
        """Where an imported item's file is in its export, learned again by a later import of it."""
        async with self._db.transaction() as conn:
            await conn.execute("UPDATE items SET source_path = ? WHERE id = ?", (path, item_id))

    async def switch(self, chat_id: int, model: str) -> int:
        """Give every staged item of the chat its new vectors and tag at once; returns how many switched."""
        async with self._db.transaction() as conn:
            rows = list(await conn.execute_fetchall(
                "SELECT r.item_id, r.media, r.caption, i.kind FROM reembedded AS r JOIN items AS i ON i.id = r.item_id "
                "WHERE r.chat_id = ? AND r.model = ? AND r.state = 'ready'",
                (chat_id, model),
            ))
            ids = [int(row[0]) for row in rows]
            await segments.unseal_items(conn, ids)
            for item_id, media, caption, kind in rows:
                await conn.execute("DELETE FROM vectors WHERE item_id = ?", (item_id,))
                await conn.execute("UPDATE items SET model = ? WHERE id = ?", (model, item_id))
                own = FACET_TEXT if kind == TEXT_KIND else FACET_MEDIA  # a message's one vector is its text's
                await segments.write_vectors(conn, _rows(item_id, chat_id, model, {own: media,
                                                                                    FACET_CAPTION: caption}))
            await conn.execute("DELETE FROM reembedded WHERE chat_id = ? AND state = 'ready'", (chat_id,))
            await segments.seal_all(conn, chat_id)
            self._items.reset_chats_after_commit((chat_id,))
        return len(ids)

    async def forget_other_targets(self, model: str) -> None:
        """Work staged for a model that is no longer the target (the operator changed their mind) is void."""
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM reembedded WHERE model != ?", (model,))

    async def forget_other_models_cache(self, model: str) -> None:
        """Once no chat uses another model, cached embeddings of other models only take space."""
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM embedding_cache WHERE model != ?", (model,))

    async def _put(self, item: Item, model: str, state: str, media: bytes | None, caption: bytes | None,
                   reason: str | None) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO reembedded (item_id, chat_id, model, state, media, caption, reason, created_at) "
                "SELECT id, chat_id, :model, :state, :media, :caption, :reason, :now FROM items WHERE id = :item "
                "ON CONFLICT (item_id) DO UPDATE SET chat_id = excluded.chat_id, model = excluded.model, "
                "state = excluded.state, media = excluded.media, caption = excluded.caption, "
                "reason = excluded.reason, created_at = excluded.created_at "
                "WHERE NOT (excluded.state = 'kept' AND reembedded.state = 'ready' AND reembedded.model = :model)",
                {"model": model, "state": state, "media": media, "caption": caption, "reason": reason,
                 "now": int(time.time()), "item": item.id},
            )


def _rows(item_id: int, chat_id: int, model: str, blobs: Mapping[int, bytes | None]) -> list[segments.VectorRow]:
    return [(item_id, facet, chat_id, model, blob) for facet, blob in sorted(blobs.items()) if blob is not None]
