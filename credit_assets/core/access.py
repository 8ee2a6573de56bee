"""People and systems who may use the platform: users with one role, login sessions,
access tokens, lockout after repeated failed logins.

Passwords and tokens are stored as argon2 hashes; a session cookie holds a random id whose
SHA-256 is stored, so neither a leaked table nor a leaked backup logs anyone in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from credit_assets.core.audit import AuditLog
from credit_assets.core.decision_log import DecisionLog
from credit_assets.core.decision_log_schema import access_tokens, sessions, users
from credit_assets.core.errors import CreditAssetsError
from credit_assets.core.roles import Role

MAX_FAILED_LOGINS = 5
LOCKOUT = dt.timedelta(minutes=15)
SESSION_LIFETIME = dt.timedelta(hours=8)
MIN_PASSWORD_LENGTH = 12
_TOKEN_PREFIX = "ct"


class AccessError(CreditAssetsError):
    """Login refused, a session or token not valid, or a user that cannot be created."""


@dataclass(frozen=True)
class Principal:
    """Who is asking: a logged-in person or a system with a token."""

    username: str
    role: Role
    csrf_token: str = ""  # sessions only: forms must echo it

    def may(self, needed: Role) -> bool:
        return self.role.at_least(needed)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(at: dt.datetime | None) -> dt.datetime | None:
    return at if at is None or at.tzinfo else at.replace(tzinfo=dt.UTC)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Access:
    """Users, sessions and tokens in the decision log's database."""

    def __init__(self, log: DecisionLog) -> None:
        from argon2 import PasswordHasher

        self.log = log
        self.audit = AuditLog(log)
        self._hasher = PasswordHasher()

    # -- users -------------------------------------------------------------------------------

    def create_user(self, username: str, role: Role, password: str, *, by: str) -> None:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise AccessError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
        row = {
            "username": username,
            "role": role.value,
            "password_hash": self._hasher.hash(password),
            "created_at": _now(),
            "failed_logins": 0,
            "locked_until": None,
        }
        with self.log.transaction() as conn:
            if conn.execute(
                sa.select(users.c.username).where(users.c.username == username)
            ).first():
                raise AccessError(f"user {username!r} exists already")
            conn.execute(users.insert(), row)
            self.audit.record(by, "user.create", username, conn, role=role.value)

    def users(self) -> list[tuple[str, Role]]:
        with self.log.transaction() as conn:
            rows = conn.execute(
                sa.select(users.c.username, users.c.role).order_by(users.c.username)
            )
            return [(r.username, Role(r.role)) for r in rows]

    # -- login and sessions -------------------------------------------------------------------

    def login(self, username: str, password: str) -> tuple[str, Principal]:
        """A new session (its cookie value, who it is) for a right password; every attempt
        is audited, and the account locks for ``LOCKOUT`` after ``MAX_FAILED_LOGINS``
        wrong ones in a row."""
        from argon2.exceptions import VerificationError

        now = _now()
        with self.log.transaction() as conn:
            user = conn.execute(sa.select(users).where(users.c.username == username)).first()
            locked = user is not None and (_utc(user.locked_until) or now) > now
            ok = False
            if user is not None and not locked:
                try:
                    ok = self._hasher.verify(user.password_hash, password)
                except VerificationError:
                    ok = False
            if not ok:
                failed = 0
                if user is not None and not locked:
                    failed = user.failed_logins + 1
                    lock = now + LOCKOUT if failed >= MAX_FAILED_LOGINS else None
                    conn.execute(
                        users.update()
                        .where(users.c.username == username)
                        .values(failed_logins=0 if lock else failed, locked_until=lock)
                    )
                self.audit.record(
                    username, "login.failed", username, conn, locked=locked, failed=failed
                )
        if not ok:
            if locked:
                raise AccessError("this account is locked after repeated failed logins")
            raise AccessError("wrong user name or password")
        assert user is not None
        session_id = secrets.token_urlsafe(32)
        principal = Principal(user.username, Role(user.role), secrets.token_urlsafe(24))
        with self.log.transaction() as conn:
            conn.execute(
                users.update()
                .where(users.c.username == username)
                .values(failed_logins=0, locked_until=None)
            )
            conn.execute(
                sessions.insert(),
                {
                    "session_hash": _digest(session_id),
                    "username": user.username,
                    "csrf_token": principal.csrf_token,
                    "created_at": now,
                    "expires_at": now + SESSION_LIFETIME,
                    "ended_at": None,
                },
            )
            self.audit.record(username, "login", username, conn)
        return session_id, principal

    def session(self, session_id: str) -> Principal | None:
        """Who a live session is (None for an unknown, ended or expired one)."""
        query = (
            sa.select(sessions, users.c.role)
            .join(users, users.c.username == sessions.c.username)
            .where(sessions.c.session_hash == _digest(session_id))
        )
        with self.log.transaction() as conn:
            row = conn.execute(query).first()
        if row is None or row.ended_at is not None or _utc(row.expires_at) <= _now():
            return None
        return Principal(row.username, Role(row.role), row.csrf_token)

    def logout(self, session_id: str) -> None:
        with self.log.transaction() as conn:
            row = conn.execute(
                sessions.update()
                .where(
                    sessions.c.session_hash == _digest(session_id), sessions.c.ended_at.is_(None)
                )
                .values(ended_at=_now())
                .returning(sessions.c.username)
            ).first()
            if row is not None:
                self.audit.record(row.username, "logout", row.username, conn)

    # -- tokens for systems ------------------------------------------------------------------

    def create_token(self, username: str, *, by: str) -> str:
        """A token that acts as ``username`` with its role (``credit-assets trigger
        --token``); returned once, stored hashed."""
        token_id = secrets.token_hex(6)
        token = f"{_TOKEN_PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
        with self.log.transaction() as conn:
            if not conn.execute(
                sa.select(users.c.username).where(users.c.username == username)
            ).first():
                raise AccessError(f"no user {username!r}")
            conn.execute(
                access_tokens.insert(),
                {
                    "token_id": token_id,
                    "username": username,
                    "secret_hash": self._hasher.hash(token),
                    "created_at": _now(),
                    "revoked_at": None,
                },
            )
            self.audit.record(by, "token.create", username, conn, token_id=token_id)
        return token

    def token(self, token: str) -> Principal | None:
        """Who a token acts as (None for a malformed, unknown or revoked one)."""
        from argon2.exceptions import VerificationError

        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != _TOKEN_PREFIX:
            return None
        query = (
            sa.select(access_tokens, users.c.role)
            .join(users, users.c.username == access_tokens.c.username)
            .where(access_tokens.c.token_id == parts[1])
        )
        with self.log.transaction() as conn:
            row = conn.execute(query).first()
        if row is None or row.revoked_at is not None:
            return None
        try:
            self._hasher.verify(row.secret_hash, token)
        except VerificationError:
            return None
        return Principal(row.username, Role(row.role))
