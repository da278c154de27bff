"""Destructive commands waiting for their button, on PostgreSQL (see storage.confirmations).

A press may reach any process: `take` is one DELETE, and of two presses deleting the same row at once PostgreSQL lets
exactly one delete it (the other waits for the row lock, then finds it gone), so exactly one carries the action out.
"""

from __future__ import annotations

from storage.confirmations import CREATE, EXPIRE, GET, TAKE, confirmation_from_row
from storage.models import Confirmation
from storage.postgres.db import PgDatabase
from storage.postgres.sql import numbered, row_count


class PgConfirmationRepository:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def create(self, action: str, *, chat_id: int, user_id: int, target_chat_id: int | None,
                     now: int) -> Confirmation:
        (row,) = await self._db.fetch(numbered(CREATE), action, chat_id, user_id, target_chat_id, now)
        return confirmation_from_row(row)

    async def get(self, confirmation_id: int) -> Confirmation | None:
        rows = await self._db.fetch(numbered(GET), confirmation_id)
        return confirmation_from_row(rows[0]) if rows else None

    async def take(self, confirmation_id: int) -> bool:
        """Remove it; False when another press (or its expiry), in this process or another, already did."""
        return row_count(await self._db.execute(numbered(TAKE), confirmation_id)) > 0

    async def expire(self, created_before: int) -> int:
        return row_count(await self._db.execute(numbered(EXPIRE), created_before))
