"""Embeddings by file on PostgreSQL (see storage.cache), shared by every chat and every process."""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt

from storage.cache import CachedEmbedding
from storage.postgres.db import PgDatabase
from storage.vectors import unit_vector


class PgEmbeddingCache:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    async def get(self, file_unique_id: str, model: str) -> CachedEmbedding | None:
        rows = await self._db.fetch(
            "SELECT embedding, route FROM embedding_cache WHERE file_unique_id = $1 AND model = $2",
            file_unique_id, model,
        )
        if not rows:
            return None
        return CachedEmbedding(np.asarray(rows[0]["embedding"].to_numpy(), dtype=np.float32), rows[0]["route"])

    async def put(self, file_unique_id: str, model: str, vector: npt.ArrayLike, route: str) -> None:
        """Insert or overwrite: a re-embedding (e.g. by a better route) replaces the old vector. Two processes
        putting the same file at once both succeed; the last one's vector stays."""
        await self._db.execute(
            "INSERT INTO embedding_cache (file_unique_id, model, route, embedding, created_at) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (file_unique_id, model) DO UPDATE "
            "SET route = excluded.route, embedding = excluded.embedding, created_at = excluded.created_at",
            file_unique_id, model, route, unit_vector(vector), int(time.time()),
        )
