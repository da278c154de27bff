"""An in-process stand-in for the DashScope client, for fast use-case tests (the HTTP fake covers the wire).

Vectors are derived from what is sent: the same image bytes or text always give the same unit vector, different
ones nearly orthogonal vectors, so "the same picture" and "something else" are easy to build.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bot.dashscope.errors import EmbeddingError
from bot.dashscope.models import ModelChoice, choose_model
from bot.dashscope.types import ContentInput, EmbedResult, ImageInput, TextEmbedding, TextInput, Usage


def unit_vector_for(key: bytes, dim: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(key).digest()[:8], "big")
    vector = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return vector / np.linalg.norm(vector)


@dataclass
class FakeEmbeddingClient:
    spec: ModelChoice = field(default_factory=lambda: choose_model("multimodal-embedding-v1"))
    calls: int = 0
    delay: float = 0.0
    errors: list[EmbeddingError] = field(default_factory=list)
    """Raised by the next calls, one each, in order."""

    @property
    def supports_multi_images(self) -> bool:
        return self.spec.supports_multi_images

    def sibling(self, model: str, dimension: int, *, background: bool = False) -> FakeEmbeddingClient:
        """Like DashScopeClient.sibling: another model on the same (fake) account."""
        return FakeEmbeddingClient(spec=choose_model(model, dimension), delay=self.delay)

    async def aclose(self) -> None:
        """Nothing to close; the real client's interface."""

    async def embed(self, contents: Sequence[ContentInput]) -> EmbedResult:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.errors:
            raise self.errors.pop(0)
        vectors = [unit_vector_for(_key(content), self.spec.dimension) for content in contents]
        return EmbedResult(vectors=vectors, types=["x"] * len(vectors), usage=Usage(input_tokens=len(contents)),
                           request_id=f"req-{self.calls}")

    async def embed_text(self, text: str, *, wait: float | None = None) -> TextEmbedding:
        """Unbatched: each text is its own request, whatever it may wait."""
        result = await self.embed([TextInput(text)])
        return TextEmbedding(result.vectors[0], result.usage, batch_size=1)

    async def upload(self, data: bytes, filename: str, content_type: str) -> str:
        return f"oss://fake/{hashlib.sha256(data).hexdigest()[:16]}/{filename}"


def _key(content: ContentInput) -> bytes:
    if isinstance(content, TextInput):
        return b"text:" + content.text.encode()
    if isinstance(content, ImageInput):
        return b"image:" + content.data
    return repr(content).encode()
