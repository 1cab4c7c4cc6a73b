"""Sign-in, sessions and bearer tokens: the rules, over the user store and the session store.

Runs on the dashboard's event loop (see dashboard.portal.AsyncBridge). Password hashing runs
in a worker thread so one sign-in does not stall every other request's Redis and PostgreSQL
calls for the ~150 ms Argon2 takes.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import msgspec

from config.settings import AuthSettings, Settings
from dashboard.auth.keys import check_secret, derive_key
from dashboard.auth.passwords import Passwords, Verified
from dashboard.auth.roles import AuthMethod, Role, User
from dashboard.auth.sessions import Clock, Session, SessionStore
from dashboard.auth.tokens import digest_matches, parse_api_token
from incidents.accounts import StoredUser
from incidents.store import StoreUnavailable
from incidents.store.users import UserStore

log = logging.getLogger(__name__)

RECHECK_EVERY = timedelta(minutes=1)
"""How often a session re-reads its account, so disabling or demoting takes effect."""

TOKEN_TOUCH_EVERY = timedelta(minutes=1)
"""A token's last-used time is written at most this often."""

_USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")


def utc_now() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


def normalize_username(name: str) -> str:
    """User names are case-insensitive: compared and stored in lower case, trimmed."""
    return name.strip().lower()


def valid_username(name: str) -> bool:
    """True for 2–64 lower-case letters, digits, `.`, `_`, `-`, starting with a letter or digit."""
    return _USERNAME_RE.fullmatch(name) is not None


class LoginStatus(StrEnum):
    """How a sign-in attempt ended."""

    OK = "ok"
    BAD_CREDENTIALS = "bad_credentials"
    LOCKED = "locked"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class LoginResult:
    """The outcome of one sign-in attempt."""

    status: LoginStatus
    """What happened."""
    user: User | None = None
    """Who signed in (OK only)."""
    session_id: str | None = None
    """The new session's id for the cookie (OK only)."""
    locked_until: datetime | None = None
    """When a locked account opens again (LOCKED only)."""


@dataclass(frozen=True, slots=True)
class TokenCheck:
    """The outcome of checking a bearer token."""

    user: User | None
    """The token's principal, when it is accepted."""
    reason: str = ""
    """Why it was refused: malformed, unknown, revoked or expired."""


class LazyUsers:
    """The user store, connected on first use (PostgreSQL may start after the dashboard)."""

    def __init__(self, database_url: str | None) -> None:
        self._dsn = database_url
        self._store: UserStore | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> UserStore:
        """The connected store, or StoreUnavailable (the next call tries again)."""
        if self._store is not None:
            return self._store
        async with self._lock:
            if self._store is None:
                if self._dsn is None:
                    raise StoreUnavailable("no database_url is configured")
                self._store = await UserStore.connect(self._dsn)
        return self._store

    async def close(self) -> None:
        """Close the pool if it was opened."""
        if self._store is not None:
            await self._store.close()
            self._store = None


def user_of(record: StoredUser) -> User:
    """The principal of a signed-in account."""
    return User(username=record.username, display_name=record.display_name,
                role=Role(record.role), agency=record.agency, via=AuthMethod.SESSION)


class AuthService:
    """Checks passwords, keeps lock-outs, and turns cookies and tokens into users."""

    def __init__(self, users: LazyUsers, sessions: SessionStore, passwords: Passwords,
                 settings: AuthSettings, clock: Clock = utc_now) -> None:
        self._users = users
        self._sessions = sessions
        self._passwords = passwords
        self._settings = settings
        self._clock = clock

    @classmethod
    def open(cls, settings: Settings, clock: Clock = utc_now,
             passwords: Passwords | None = None) -> AuthService:
        """The service for `settings`; call on the event loop that will use it."""
        if settings.redis_url is None:
            raise ValueError("sign-in needs redis_url: sessions are kept in Redis")
        auth = settings.auth
        sessions = SessionStore.from_url(
            settings.redis_url, settings.redis_prefix,
            idle=timedelta(minutes=auth.session_idle_minutes),
            lifetime=timedelta(hours=auth.session_max_hours), clock=clock,
            mac_key=derive_key(check_secret(auth.secret_key), "sessions"))
        return cls(LazyUsers(settings.database_url), sessions, passwords or Passwords(), auth,
                   clock)

    @property
    def sessions(self) -> SessionStore:
        """The session store (tests and sign-out of every session of a user use it)."""
        return self._sessions

    async def close(self) -> None:
        """Close the Redis and PostgreSQL connections."""
        try:
            await self._sessions.close()
        finally:
            await self._users.close()

    async def _verify(self, password: str, stored_hash: str | None) -> Verified:
        return await asyncio.to_thread(self._passwords.verify, password, stored_hash)

    async def login(self, username: str, password: str, client: str) -> LoginResult:
        """Check a password; on success start a session. Every outcome is logged."""
        name = normalize_username(username)
        now = self._clock()
        users = await self._users.get()
        record = await users.user(name) if valid_username(name) else None
        if record is None:
            await self._verify(password, None)
            log.warning("sign-in failed: unknown user %r from %s", name[:64], client)
            return LoginResult(LoginStatus.BAD_CREDENTIALS)
        if record.locked_until is not None and record.locked_until > now:
            await self._verify(password, None)  # same time as a real check; no guess counts
            log.warning("sign-in refused: %s is locked until %s (from %s)", name,
                        record.locked_until.isoformat(), client)
            return LoginResult(LoginStatus.LOCKED, locked_until=record.locked_until)
        verified = await self._verify(password, record.password_hash)
        if not verified.ok:
            failed = await users.record_failure(
                name, now, self._settings.max_failed_logins,
                timedelta(minutes=self._settings.lockout_minutes))
            if failed is not None and failed.locked_until is not None:
                log.warning("account %s locked until %s after %d failed sign-ins (last from %s)",
                            name, failed.locked_until.isoformat(), failed.failed_logins, client)
                return LoginResult(LoginStatus.LOCKED, locked_until=failed.locked_until)
            log.warning("sign-in failed: wrong password for %s from %s (%d in a row)", name,
                        client, failed.failed_logins if failed else 0)
            return LoginResult(LoginStatus.BAD_CREDENTIALS)
        if record.disabled:
            log.warning("sign-in refused: %s is disabled (from %s)", name, client)
            return LoginResult(LoginStatus.DISABLED)
        await users.record_success(name, now, verified.new_hash)
        user = user_of(record)
        session_id, _ = await self._sessions.create(user)
        log.info("sign-in: %s (%s) from %s", name, user.role, client)
        return LoginResult(LoginStatus.OK, user=user, session_id=session_id)

    async def session_user(self, session_id: str) -> tuple[User, Session] | None:
        """The user of a live session (slid forward), or None when it is unknown or ended."""
        session = await self._sessions.get(session_id)
        if session is None:
            return None
        now = self._clock()
        since = now.timestamp() - session.checked_at
        # A check "from the future" (a clock set back) is no check: read the account again.
        if since >= RECHECK_EVERY.total_seconds() or since < 0:
            session = await self._recheck(session_id, session, now)
            if session is None:
                return None
        user = User(username=session.username, display_name=session.display_name,
                    role=session.role, agency=session.agency, via=AuthMethod.SESSION)
        return user, session

    async def _recheck(self, session_id: str, session: Session,
                       now: datetime) -> Session | None:
        try:
            record = await (await self._users.get()).user(session.username)
        except StoreUnavailable as exc:
            # PostgreSQL down must not sign everyone out: keep the session, try next time.
            log.warning("cannot re-check the session of %s: %s", session.username, exc)
            return session
        if record is None or record.disabled:
            log.info("session of %s ended: the account is gone or disabled", session.username)
            await self._sessions.delete(session_id)
            return None
        fresh = msgspec.structs.replace(
            session, role=Role(record.role), agency=record.agency,
            display_name=record.display_name, checked_at=now.timestamp())
        await self._sessions.replace(session_id, fresh)
        return fresh

    async def logout(self, session_id: str) -> None:
        """End one session."""
        await self._sessions.delete(session_id)

    async def token_user(self, text: str) -> TokenCheck:
        """The principal of a bearer token, or why it is refused."""
        parsed = parse_api_token(text)
        if parsed is None:
            return TokenCheck(None, "malformed")
        token_id, secret = parsed
        users = await self._users.get()
        stored = await users.token(token_id)
        if stored is None or not digest_matches(secret, stored.secret_sha256):
            return TokenCheck(None, "unknown")
        now = self._clock()
        if stored.revoked_at is not None:
            return TokenCheck(None, "revoked")
        if stored.expires_at is not None and stored.expires_at <= now:
            return TokenCheck(None, "expired")
        await users.touch_token(token_id, now, TOKEN_TOUCH_EVERY)
        return TokenCheck(User(username=f"token:{token_id}",
                               display_name=stored.label or f"API token {token_id}",
                               role=Role(stored.role), agency=stored.agency,
                               via=AuthMethod.TOKEN))
