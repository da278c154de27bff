"""DashScope multimodal embeddings: client, wire format, errors, retries, rate limit and upload."""

from bot.dashscope.batcher import TextBatcher
from bot.dashscope.client import DashScopeClient
from bot.dashscope.errors import (
    AccountError,
    AuthError,
    ContentRejected,
    EmbeddingError,
    InvalidInput,
    MalformedResponse,
    RateLimited,
    ServerError,
    TransportError,
    error_from_response,
)
from bot.dashscope.models import MODELS, ModelSpec, model_spec
from bot.dashscope.ratelimit import RateLimiter
from bot.dashscope.retry import RetryPolicy
from bot.dashscope.types import (
    ContentInput,
    EmbedResult,
    ImageInput,
    MultiImageInput,
    TextEmbedding,
    TextInput,
    Usage,
    VideoInput,
)

__all__ = [
    "MODELS",
    "AccountError",
    "AuthError",
    "ContentInput",
    "ContentRejected",
    "DashScopeClient",
    "EmbedResult",
    "EmbeddingError",
    "ImageInput",
    "InvalidInput",
    "MalformedResponse",
    "ModelSpec",
    "MultiImageInput",
    "RateLimited",
    "RateLimiter",
    "RetryPolicy",
    "ServerError",
    "TextBatcher",
    "TextEmbedding",
    "TextInput",
    "TransportError",
    "Usage",
    "VideoInput",
    "error_from_response",
    "model_spec",
]
