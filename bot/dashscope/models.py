"""What each DashScope embedding model accepts, so requests can be checked before they cost anything."""

from __future__ import annotations

from dataclasses import dataclass

CHARS_PER_TOKEN = 4
"""Generous characters-per-token bound used to cap text before sending.

The service truncates long text itself; the cap only keeps a pasted novel from becoming a megabyte body.
"""


@dataclass(frozen=True)
class ModelSpec:
    """Limits of one model, as DashScope's multimodal-embedding API reference states them (dimension, elements and
    images/videos per request, multi_images support, text tokens per element)."""

    name: str
    dimension: int
    max_elements: int
    max_images: int | None
    max_videos: int | None
    supports_multi_images: bool
    max_text_tokens: int

    @property
    def max_text_chars(self) -> int:
        """Client-side character cap for one text element."""
        return self.max_text_tokens * CHARS_PER_TOKEN


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="multimodal-embedding-v1",
            dimension=1024,
            max_elements=20,
            max_images=1,
            max_videos=1,
            supports_multi_images=False,
            max_text_tokens=512,
        ),
        # The vision models are bounded by tokens per batch, not by a published element count: 20 is a
        # conservative choice that also keeps one bad element from failing a huge batch.
        ModelSpec(
            name="tongyi-embedding-vision-plus",
            dimension=1152,
            max_elements=20,
            max_images=None,
            max_videos=None,
            supports_multi_images=True,
            max_text_tokens=1024,
        ),
        ModelSpec(
            name="tongyi-embedding-vision-flash",
            dimension=768,
            max_elements=20,
            max_images=None,
            max_videos=None,
            supports_multi_images=True,
            max_text_tokens=1024,
        ),
    )
}


def model_spec(name: str) -> ModelSpec:
    """Look a model up; an unknown name is a configuration mistake worth failing loudly on."""
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise ValueError(f"unknown model {name!r}; expected one of: {known}") from None
