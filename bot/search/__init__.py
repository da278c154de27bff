"""In-memory similarity search over a chat's stored vectors: a cache of what storage holds, never the truth."""
