"""Destructive commands waiting for their button, kept in the database so that a press still works after a restart.

A button's callback data holds only the row id; everything else (what to delete, who asked) is here. A row is taken
(deleted) by the press that carries it out, so a second press finds nothing.
"""

from __future__ import annotations

from storage.db import Database
from storage.models import Confirmation
from storage.rows import Row

# Statements both backends run as they are (storage.postgres numbers the `?` placeholders).
CREATE = ("INSERT INTO confirmations (action, chat_id, user_id, target_chat_id, created_at) VALUES (?, ?, ?, ?, ?) "
          "RETURNING *")
GET = "SELECT * FROM confirmations WHERE id = ?"
TAKE = "DELETE FROM confirmations WHERE id = ?"
EXPIRE = "DELETE FROM confirmations WHERE created_at < ?"


class ConfirmationRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, action: str, *, chat_id: int, user_id: int, target_chat_id: int | None,
                     now: int) -> Confirmation:
        async with self._db.transaction() as conn:
            rows = list(await conn.execute_fetchall(CREATE, (action, chat_id, user_id, target_chat_id, now)))
        return confirmation_from_row(rows[0])

    async def get(self, confirmation_id: int) -> Confirmation | None:
        async with self._db.read() as conn:
            rows = list(await conn.execute_fetchall(GET, (confirmation_id,)))
        return confirmation_from_row(rows[0]) if rows else None

    async def take(self, confirmation_id: int) -> bool:
        """Remove it; False when another press (or its expiry) already did."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(TAKE, (confirmation_id,))
            return cursor.rowcount > 0

    async def expire(self, created_before: int) -> int:
        async with self._db.transaction() as conn:
            cursor = await conn.execute(EXPIRE, (created_before,))
            return cursor.rowcount


def confirmation_from_row(row: Row) -> Confirmation:
    return Confirmation(id=row["id"], action=row["action"], chat_id=row["chat_id"], user_id=row["user_id"],
                        target_chat_id=row["target_chat_id"], created_at=row["created_at"])
