"""What each DashScope embedding model accepts, in one table, so requests can be checked before they cost anything.

The provider's later docs list more models and choosable dimensions, and disagree between versions
(`shared/dashscope-multimodal-embedding.md`, "Newer models"): the table records what they claim, and every answer's
vector length is checked against the dimension asked for, so a wrong claim surfaces as a clear error, never as a
stored vector.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CHARS_PER_TOKEN = 4
"""Generous characters-per-token bound used to cap text before sending.

The service truncates long text itself; the cap only keeps a pasted novel from becoming a megabyte body.
"""

_SNAPSHOT_SUFFIX = re.compile(r"-\d{4}-\d{2}-\d{2}$")
"""Dated snapshots (`tongyi-embedding-vision-plus-2026-03-06`) behave as their base model."""

SPACE_SEPARATOR = "@"


@dataclass(frozen=True)
class ModelSpec:
    """One model's row: dimensions, request limits, text languages and whether it can fuse inputs into one vector."""

    name: str
    dimension: int
    """The default dimension: what the model answers when no `parameters.dimension` is sent."""
    dimensions: tuple[int, ...]
    """Every dimension the model offers, the default included."""
    max_elements: int
    max_images: int | None
    max_videos: int | None
    supports_multi_images: bool
    max_text_tokens: int
    text_languages: tuple[str, ...]
    fusion: bool
    """`parameters.enable_fusion` can return one vector for all elements; the bot keeps media and caption apart."""

    @property
    def max_text_chars(self) -> int:
        """Client-side character cap for one text element."""
        return self.max_text_tokens * CHARS_PER_TOKEN


@dataclass(frozen=True)
class ModelChoice:
    """The model the operator configured (possibly a dated snapshot) and the dimension asked of it.

    Vectors are comparable only within one choice, so its `space` tags every stored vector and cached embedding.
    """

    name: str
    spec: ModelSpec
    dimension: int

    @property
    def non_default_dimension(self) -> int | None:
        """The dimension to send as `parameters.dimension`, only when the operator asked for a non-default one."""
        return None if self.dimension == self.spec.dimension else self.dimension

    @property
    def space(self) -> str:
        return space_key(self.name, self.dimension)

    # The model's row as the client and the EmbeddingModel seam (bot.core.embedding) read it.
    @property
    def supports_multi_images(self) -> bool:
        return self.spec.supports_multi_images

    @property
    def max_text_chars(self) -> int:
        return self.spec.max_text_chars

    @property
    def max_elements(self) -> int:
        return self.spec.max_elements


_BOTH = ("zh", "en")

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="multimodal-embedding-v1",
            dimension=1024,
            dimensions=(1024,),
            max_elements=20,
            max_images=1,
            max_videos=1,
            supports_multi_images=False,
            max_text_tokens=512,
            text_languages=_BOTH,
            fusion=False,
        ),
        # The vision models are bounded by tokens per batch, not by a published element count: 20 is a
        # conservative choice that also keeps one bad element from failing a huge batch.
        ModelSpec(
            name="tongyi-embedding-vision-plus",
            dimension=1152,
            dimensions=(1152, 1024, 512, 256, 128, 64),
            max_elements=20,
            max_images=None,
            max_videos=None,
            supports_multi_images=True,
            max_text_tokens=1024,
            text_languages=_BOTH,
            fusion=False,
        ),
        ModelSpec(
            name="tongyi-embedding-vision-flash",
            dimension=768,
            dimensions=(768, 512, 256, 128, 64),
            max_elements=20,
            max_images=None,
            max_videos=None,
            supports_multi_images=True,
            max_text_tokens=1024,
            text_languages=_BOTH,
            fusion=False,
        ),
        ModelSpec(
            name="qwen3-vl-embedding",
            dimension=2560,
            dimensions=(2560, 2048, 1536, 1024, 768, 512, 256),
            max_elements=20,
            max_images=None,
            max_videos=None,
            supports_multi_images=False,
            max_text_tokens=1024,
            text_languages=_BOTH,
            fusion=True,
        ),
    )
}


def model_spec(name: str) -> ModelSpec:
    """Look a model up (a dated snapshot finds its base row); an unknown name is a configuration mistake."""
    spec = MODELS.get(name) or MODELS.get(_SNAPSHOT_SUFFIX.sub("", name))
    if spec is None:
        known = ", ".join(sorted(MODELS))
        raise ValueError(f"unknown model {name!r}; expected one of: {known} (or a dated snapshot of one)")
    return spec


def choose_model(name: str, dimension: int | None = None) -> ModelChoice:
    """The configured model at the configured dimension (None: its default); ValueError names what is offered."""
    spec = model_spec(name)
    chosen = spec.dimension if dimension is None else dimension
    if chosen not in spec.dimensions:
        offered = ", ".join(str(d) for d in spec.dimensions)
        raise ValueError(f"{name} does not offer dimension {chosen}; it offers {offered} (default {spec.dimension})")
    return ModelChoice(name, spec, chosen)


def space_key(model: str, dimension: int) -> str:
    """The tag of every stored vector: `model@dimension`."""
    return f"{model}{SPACE_SEPARATOR}{dimension}"


def choice_for_space(space: str) -> ModelChoice:
    """The model choice a stored tag names, so a chat's old vectors can still be queried with their own model."""
    name, _, dimension = space.rpartition(SPACE_SEPARATOR)
    if not name or not dimension.isdigit():
        raise ValueError(f"not a model@dimension tag: {space!r}")
    return choose_model(name, int(dimension))
