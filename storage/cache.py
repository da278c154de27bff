"""Embeddings by file, shared by all chats: a file embedded once, in any chat, costs no second API call.

Telegram's `file_unique_id` names the same file across chats and over time. The model is part of the key
because vectors of different models are not comparable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy.typing as npt

from storage.db import Database
from storage.vectors import FloatMatrix, from_blob, to_blob, unit_vector


@dataclass(frozen=True, eq=False)
class CachedEmbedding:
    vector: FloatMatrix
    """Unit length, float32."""
    route: str
    """How the file was embedded the first time ("image", "video", "clip", "keyframes", "thumbnail")."""


class EmbeddingCache:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, file_unique_id: str, model: str) -> CachedEmbedding | None:
        async with self._db.read() as conn:
            rows = list(
                await conn.execute_fetchall(
                    "SELECT vector, route FROM embedding_cache WHERE file_unique_id = ? AND model = ?",
                    (file_unique_id, model),
                )
            )
        if not rows:
            return None
        vector, route = rows[0]
        return CachedEmbedding(from_blob(vector).copy(), route)

    async def put(self, file_unique_id: str, model: str, vector: npt.ArrayLike, route: str) -> None:
        """Insert or overwrite: a re-embedding (e.g. by a better route) replaces the old vector."""
        blob = to_blob(unit_vector(vector))
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO embedding_cache (file_unique_id, model, route, vector, created_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (file_unique_id, model) DO UPDATE "
                "SET route = excluded.route, vector = excluded.vector, created_at = excluded.created_at",
                (file_unique_id, model, route, blob, int(time.time())),
            )
