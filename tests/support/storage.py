"""Builders for tests that need stored items: defaults for every field, so a test names only what matters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from storage.models import NewItem
from storage.store import Store
from storage.vectors import FloatMatrix

TEST_MODEL = "test-model"


def new_item(chat_id: int = 1, message_id: int = 1, **changes: Any) -> NewItem:
    """A photo posted by user 7 at `1_700_000_000 + message_id`, file ids derived from the message id."""
    item = NewItem(
        chat_id=chat_id,
        message_id=message_id,
        sender_id=7,
        sender_name="Alice",
        date=1_700_000_000 + message_id,
        kind="photo",
        file_id=f"file-{chat_id}-{message_id}",
        file_unique_id=f"unique-{chat_id}-{message_id}",
        caption=None,
        model=TEST_MODEL,
        route="image",
    )
    return replace(item, **changes)


def random_unit_vectors(count: int, dim: int, seed: int = 0) -> FloatMatrix:
    """`count` random directions (rows), reproducible by seed."""
    matrix = np.random.default_rng(seed).standard_normal((count, dim), dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix


@asynccontextmanager
async def open_store(path: Path) -> AsyncIterator[Store]:
    store = await Store.open(path)
    try:
        yield store
    finally:
        await store.close()
