"""One-off queries on a test database, on a connection of their own (not the store's pool)."""

from __future__ import annotations

from typing import Any

import asyncpg


async def fetch(database_url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """The rows of one query, on a connection opened and closed for it."""
    conn = await asyncpg.connect(database_url)
    try:
        rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
        return rows
    finally:
        await conn.close()
