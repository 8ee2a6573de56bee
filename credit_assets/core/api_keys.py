"""API keys of the decision API: stored hashed (argon2), scoped per dataset, revocable.

A key reads ``ck_<key id>_<secret>``; only the argon2 hash of the whole key is stored, so a
leaked table does not give keys away. Scopes are per dataset: ``{"santander": ["decide",
"read"]}``, ``"*"`` for every dataset.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass

import sqlalchemy as sa

from credit_assets.core.decision_log import DecisionLog
from credit_assets.core.decision_log_schema import api_keys
from credit_assets.core.errors import CreditAssetsError

SCOPES = ("decide", "read")
ALL_DATASETS = "*"
_PREFIX = "ck"


class ApiKeyError(CreditAssetsError):
    """A key is unknown, revoked, malformed, or was asked for with an unknown scope."""


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    scopes: dict[str, list[str]]
    created_at: dt.datetime
    revoked_at: dt.datetime | None

    def allows(self, dataset: str, scope: str) -> bool:
        return scope in self.scopes.get(dataset, []) or scope in self.scopes.get(ALL_DATASETS, [])


def parse_scopes(grants: list[str]) -> dict[str, list[str]]:
    """``["santander:decide", "loans:read", "*:read"]`` -> ``{dataset: [scopes]}``."""
    out: dict[str, list[str]] = {}
    for grant in grants:
        dataset, _, scope = grant.partition(":")
        if not dataset or scope not in SCOPES:
            raise ApiKeyError(
                f"bad scope {grant!r}: write DATASET:SCOPE with SCOPE one of {', '.join(SCOPES)}"
            )
        out.setdefault(dataset, [])
        if scope not in out[dataset]:
            out[dataset].append(scope)
    return out


def _key(row: sa.Row) -> ApiKey:
    def utc(at: dt.datetime | None) -> dt.datetime | None:
        return at if at is None or at.tzinfo else at.replace(tzinfo=dt.UTC)

    created = utc(row.created_at)
    assert created is not None
    return ApiKey(row.key_id, row.name, json.loads(row.scopes), created, utc(row.revoked_at))


class ApiKeys:
    """Create, list, revoke and check keys in the decision log's database.

    Checking a key with argon2 costs milliseconds by design; a key that passed is
    remembered for ``recheck_seconds`` (by a SHA-256 of it, in memory), after which only its
    revocation is read again, so a revoked key stops working within that time.
    """

    def __init__(self, log: DecisionLog, recheck_seconds: float = 5.0) -> None:
        from argon2 import PasswordHasher

        self.log = log
        self.recheck_seconds = recheck_seconds
        self._hasher = PasswordHasher()
        self._verified: dict[str, tuple[ApiKey, float]] = {}
        self._lock = threading.Lock()

    def create(self, name: str, scopes: dict[str, list[str]]) -> tuple[ApiKey, str]:
        """A new key; the secret is returned once and never stored."""
        key_id = secrets.token_hex(6)
        token = f"{_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        row = {
            "key_id": key_id,
            "name": name,
            "secret_hash": self._hasher.hash(token),
            "scopes": json.dumps(scopes, sort_keys=True),
            "created_at": dt.datetime.now(dt.UTC),
            "revoked_at": None,
        }
        with self.log.transaction() as conn:
            conn.execute(api_keys.insert(), row)
        return ApiKey(key_id, name, scopes, row["created_at"], None), token

    def keys(self) -> list[ApiKey]:
        with self.log.transaction() as conn:
            rows = conn.execute(sa.select(api_keys).order_by(api_keys.c.created_at)).all()
        return [_key(r) for r in rows]

    def revoke(self, key_id: str) -> ApiKey:
        now = dt.datetime.now(dt.UTC)
        with self.log.transaction() as conn:
            done = conn.execute(
                api_keys.update()
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            row = conn.execute(sa.select(api_keys).where(api_keys.c.key_id == key_id)).first()
        if row is None:
            raise ApiKeyError(f"no API key {key_id!r}")
        if done.rowcount == 0:
            raise ApiKeyError(f"API key {key_id!r} was already revoked")
        return _key(row)

    def authenticate(self, token: str) -> ApiKey:
        """The key ``token`` is, if it is valid and not revoked; else :class:`ApiKeyError`."""
        from argon2.exceptions import VerificationError

        digest = hashlib.sha256(token.encode()).hexdigest()
        with self._lock:
            cached = self._verified.get(digest)
        if cached and time.monotonic() - cached[1] < self.recheck_seconds:
            return cached[0]
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != _PREFIX:
            raise ApiKeyError("malformed API key")
        with self.log.transaction() as conn:
            row = conn.execute(sa.select(api_keys).where(api_keys.c.key_id == parts[1])).first()
        if row is None:
            raise ApiKeyError("unknown API key")
        if row.revoked_at is not None:
            raise ApiKeyError("revoked API key")
        if cached is None:
            try:
                self._hasher.verify(row.secret_hash, token)
            except VerificationError:
                raise ApiKeyError("unknown API key") from None
        key = _key(row)
        with self._lock:
            self._verified[digest] = (key, time.monotonic())
        return key
