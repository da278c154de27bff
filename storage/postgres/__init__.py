"""The PostgreSQL backend (pgvector): the same repositories as the SQLite one, for several bot processes at once."""
