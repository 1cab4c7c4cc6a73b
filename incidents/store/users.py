"""Dashboard users and API tokens in PostgreSQL: every SQL statement of sign-in lives here.

Roles are plain strings here (the dashboard owns their meaning); times are passed in by the
caller, never taken from the server's `now()`, so lock-outs and expiries follow an injected
clock in tests exactly as they follow the wall clock in production.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

import asyncpg

from incidents.accounts import (
    TOKEN_PREFIX,
    FailedLogin,
    Person,
    StoredToken,
    StoredUser,
    UserExists,
)
from incidents.store.session import connection, open_pool

_USER_COLUMNS = ("username, display_name, password_hash, role, agency, disabled, failed_logins,"
                 " locked_until, created_at, last_login_at")
_TOKEN_COLUMNS = ("token_id, secret_sha256, role, agency, label, created_at, expires_at,"
                  " revoked_at, last_used_at")


class UserStore:
    """Async access to the users and api_tokens tables through one asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def connect(cls, dsn: str, *, min_size: int = 1, max_size: int = 2) -> UserStore:
        """Open a pool to `dsn`, or raise StoreUnavailable."""
        return cls(await open_pool(dsn, min_size=min_size, max_size=max_size,
                                   command_timeout=10))

    async def close(self) -> None:
        """Close every connection of the pool."""
        await self._pool.close()

    # --- people, for documents -----------------------------------------------------------

    async def people(self, names: Collection[str]) -> dict[str, Person]:
        """Display name and role of the accounts and API tokens among the actor `names`."""
        users = [n for n in names if not n.startswith(TOKEN_PREFIX)]
        tokens = [n.removeprefix(TOKEN_PREFIX) for n in names if n.startswith(TOKEN_PREFIX)]
        found: dict[str, Person] = {}
        async with connection(self._pool) as conn:
            for r in await conn.fetch("SELECT username, display_name, role FROM users"
                                      " WHERE username = ANY($1::text[])", users):
                found[r["username"]] = Person(name=r["display_name"], role=r["role"])
            for r in await conn.fetch("SELECT token_id, label, role FROM api_tokens"
                                      " WHERE token_id = ANY($1::text[])", tokens):
                found[TOKEN_PREFIX + r["token_id"]] = Person(name=r["label"], role=r["role"],
                                                             token=True)
        return found

    # --- users --------------------------------------------------------------------------

    async def add_user(self, username: str, display_name: str, password_hash: str, role: str,
                       agency: str | None, now: datetime) -> StoredUser:
        """Create an account, or raise UserExists."""
        try:
            async with connection(self._pool) as conn:
                row = await conn.fetchrow(
                    f"INSERT INTO users (username, display_name, password_hash, role, agency,"
                    f" created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_USER_COLUMNS}",
                    username, display_name, password_hash, role, agency, now)
        except asyncpg.exceptions.UniqueViolationError as exc:
            raise UserExists(f"user {username!r} already exists") from exc
        assert row is not None
        return _user(row)

    async def put_user(self, username: str, display_name: str, password_hash: str, role: str,
                       agency: str | None, now: datetime) -> StoredUser:
        """Create the account or reset it (password, role, enabled, unlocked): demo accounts."""
        async with connection(self._pool) as conn:
            row = await conn.fetchrow(
                f"INSERT INTO users (username, display_name, password_hash, role, agency,"
                f" created_at) VALUES ($1, $2, $3, $4, $5, $6)"
                f" ON CONFLICT (username) DO UPDATE SET display_name = EXCLUDED.display_name,"
                f" password_hash = EXCLUDED.password_hash, role = EXCLUDED.role,"
                f" agency = EXCLUDED.agency, disabled = false, failed_logins = 0,"
                f" locked_until = NULL RETURNING {_USER_COLUMNS}",
                username, display_name, password_hash, role, agency, now)
        assert row is not None
        return _user(row)

    async def user(self, username: str) -> StoredUser | None:
        """The account named `username`, or None."""
        async with connection(self._pool) as conn:
            row = await conn.fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE username = $1",
                                      username)
        return None if row is None else _user(row)

    async def set_password(self, username: str, password_hash: str) -> bool:
        """Replace the password and lift any lock-out; False when there is no such user."""
        async with connection(self._pool) as conn:
            done = await conn.execute(
                "UPDATE users SET password_hash = $2, failed_logins = 0, locked_until = NULL"
                " WHERE username = $1", username, password_hash)
        return _updated(done)

    async def set_disabled(self, username: str, disabled: bool) -> bool:
        """Disable or enable the account; False when there is no such user."""
        async with connection(self._pool) as conn:
            done = await conn.execute("UPDATE users SET disabled = $2 WHERE username = $1",
                                      username, disabled)
        return _updated(done)

    async def record_failure(self, username: str, now: datetime, max_failures: int,
                             lock_for: timedelta) -> FailedLogin | None:
        """Count a wrong password, locking the account at `max_failures`; None: no such user.

        A lock that has run out starts the count again, so one more wrong password after it
        does not lock the account at once.
        """
        async with connection(self._pool) as conn:
            row = await conn.fetchrow(
                "WITH counted AS ("
                "  SELECT username, CASE WHEN locked_until IS NOT NULL AND locked_until <= $2"
                "    THEN 1 ELSE failed_logins + 1 END AS failures, locked_until"
                "  FROM users WHERE username = $1 FOR UPDATE)"
                " UPDATE users u SET failed_logins = c.failures,"
                "  locked_until = CASE WHEN c.locked_until > $2 THEN c.locked_until"
                "    WHEN c.failures >= $3 THEN $2::timestamptz + $4::interval ELSE NULL END"
                " FROM counted c WHERE u.username = c.username"
                " RETURNING u.failed_logins, u.locked_until",
                username, now, max_failures, lock_for)
        if row is None:
            return None
        return FailedLogin(failed_logins=row["failed_logins"], locked_until=row["locked_until"])

    async def record_success(self, username: str, now: datetime,
                             new_hash: str | None = None) -> None:
        """Reset the failure count, note the sign-in, and store a re-computed hash if given."""
        async with connection(self._pool) as conn:
            await conn.execute(
                "UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = $2,"
                " password_hash = coalesce($3, password_hash) WHERE username = $1",
                username, now, new_hash)

    # --- API tokens ---------------------------------------------------------------------

    async def add_token(self, token_id: str, secret_sha256: bytes, role: str,
                        agency: str | None, label: str, now: datetime,
                        expires_at: datetime | None) -> StoredToken:
        """Record a new token (its id is random: a clash is a bug and raises)."""
        async with connection(self._pool) as conn:
            row = await conn.fetchrow(
                f"INSERT INTO api_tokens (token_id, secret_sha256, role, agency, label,"
                f" created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                f" RETURNING {_TOKEN_COLUMNS}",
                token_id, secret_sha256, role, agency, label, now, expires_at)
        assert row is not None
        return _token(row)

    async def token(self, token_id: str) -> StoredToken | None:
        """The token with this id, or None."""
        async with connection(self._pool) as conn:
            row = await conn.fetchrow(
                f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE token_id = $1", token_id)
        return None if row is None else _token(row)

    async def touch_token(self, token_id: str, now: datetime, every: timedelta) -> None:
        """Note a use of the token, at most once per `every` (a write per request is waste)."""
        async with connection(self._pool) as conn:
            await conn.execute(
                "UPDATE api_tokens SET last_used_at = $2 WHERE token_id = $1"
                " AND (last_used_at IS NULL OR last_used_at <= $2::timestamptz - $3::interval)",
                token_id, now, every)

    async def revoke_token(self, token_id: str, now: datetime) -> bool:
        """Revoke the token; False when there is no such token or it was revoked already."""
        async with connection(self._pool) as conn:
            done = await conn.execute(
                "UPDATE api_tokens SET revoked_at = $2 WHERE token_id = $1"
                " AND revoked_at IS NULL", token_id, now)
        return _updated(done)


def _updated(status: str) -> bool:
    # asyncpg returns the command tag, e.g. "UPDATE 1".
    return status.rsplit(" ", 1)[-1] != "0"


def _user(r: asyncpg.Record) -> StoredUser:
    return StoredUser(
        username=r["username"], display_name=r["display_name"],
        password_hash=r["password_hash"], role=r["role"], agency=r["agency"],
        disabled=r["disabled"], failed_logins=r["failed_logins"],
        locked_until=r["locked_until"], created_at=r["created_at"],
        last_login_at=r["last_login_at"],
    )


def _token(r: asyncpg.Record) -> StoredToken:
    return StoredToken(
        token_id=r["token_id"], secret_sha256=bytes(r["secret_sha256"]), role=r["role"],
        agency=r["agency"], label=r["label"], created_at=r["created_at"],
        expires_at=r["expires_at"], revoked_at=r["revoked_at"],
        last_used_at=r["last_used_at"],
    )
