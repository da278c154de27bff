"""The embedding cache: one entry per (file, model), shared by every chat."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.backends import Repos


async def test_a_cached_file_is_found_by_any_chat_for_the_same_model(repos: Repos) -> None:
    await repos.cache.put("file-A", "model-1", [3.0, 4.0], "keyframes")

    cached = await repos.cache.get("file-A", "model-1")
    assert cached is not None
    assert cached.route == "keyframes"
    assert cached.vector.dtype == np.float32
    np.testing.assert_allclose(cached.vector, [0.6, 0.8], rtol=1e-6)
    assert await repos.cache.get("file-A", "model-2") is None
    assert await repos.cache.get("file-B", "model-1") is None


async def test_putting_again_replaces_the_entry(repos: Repos) -> None:
    await repos.cache.put("file-A", "model-1", [1.0, 0.0], "thumbnail")
    await repos.cache.put("file-A", "model-1", [0.0, 2.0], "video")

    cached = await repos.cache.get("file-A", "model-1")
    assert cached is not None and cached.route == "video"
    np.testing.assert_array_equal(cached.vector, [0.0, 1.0])


async def test_the_returned_vector_is_a_private_copy(repos: Repos) -> None:
    await repos.cache.put("file-A", "model-1", [1.0, 0.0], "image")
    first = await repos.cache.get("file-A", "model-1")
    assert first is not None
    first.vector[:] = 0.0  # a caller may normalise or modify in place

    second = await repos.cache.get("file-A", "model-1")
    assert second is not None
    np.testing.assert_array_equal(second.vector, [1.0, 0.0])


async def test_invalid_vectors_are_not_cached(repos: Repos) -> None:
    with pytest.raises(ValueError):
        await repos.cache.put("file-A", "model-1", [0.0, 0.0], "image")
    assert await repos.cache.get("file-A", "model-1") is None
