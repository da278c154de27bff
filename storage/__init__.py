"""Persistence for mediabot: SQLite through aiosqlite, and the per-chat in-memory vector indexes built on it.

Nothing here knows about Telegram or HTTP; everything crosses the boundary as the plain records of
`storage.models`. Start with `storage.store.Store`; `bot.search.index.IndexRegistry` serves searches.
"""
