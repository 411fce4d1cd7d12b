"""API tokens: the `TokenService` of `calipso_api.security`, on the store's operational records
(collection "tokens").

A token is `<token_id>.<secret>`: 16 hex digits that name its record, a dot, and 32 random bytes
(`secrets.token_urlsafe(32)`). The record holds the sha256 of the secret, never the token or the
secret: whoever reads the store (a backup, a stolen file) holds no usable token. A plain sha256 is
enough because the secret is random and 256 bits long: there is nothing to guess, so a slow
password hash would only slow every request down. The presented secret's hash is compared with
`hmac.compare_digest`, in constant time.

What a token grants is fixed when it is issued: the user and their roles per environment as LDAP
gave them at login. A role changed in the directory takes effect at the user's next login; a token
issued before keeps the old roles until it expires (ttl_seconds bounds that) or is revoked.

Tokens are issued only at login, from the principal the `Authenticator` returned for a username
and password: the principal `verify` returns for a token must never be passed to `issue`, so a
token cannot mint another one (nor outlive its own expiry through one).

No "last used" time is recorded: it would make every request a write, and a write of the
embedded store rewrites its file.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pymongo import DeleteMany

from calipso_api.security import IssuedToken, Principal
from calipso_core.store import Store
from calipso_core.store.mongo import iso

TOKENS: Final = "tokens"
DEFAULT_TTL_SECONDS: Final = 8 * 3600
_TOKEN: Final = re.compile(r"^(?P<id>[0-9a-f]{16})\.(?P<secret>[A-Za-z0-9_-]{43})$")




def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _state(record: dict[str, Any], now: str) -> str:
    if record["revoked"]:
        return "revoked"
    return "active" if record["expires"] > now else "expired"


class StoreTokenService:
    """API tokens stored hashed in the store's "tokens" records, valid for ttl_seconds from
    issue; `clock` gives the current time (aware datetime), for tests."""

    def __init__(self, store: Store, ttl_seconds: float = DEFAULT_TTL_SECONDS,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"token ttl_seconds must be > 0, got {ttl_seconds}")
        self._store = store
        self._ttl = timedelta(seconds=ttl_seconds)
        self._clock = clock

    def issue(self, principal: Principal) -> IssuedToken:
        """A new token for a principal that has just logged in with its credentials (see the
        module doc: never for the principal of a token)."""
        now = self._clock()
        token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        expires = iso(now + self._ttl)
        with self._store.transaction(write=True):
            tokens = self._store.records(TOKENS)
            # Expired tokens are useless: dropped here, so that the records stay as many as the
            # live tokens.
            tokens.bulk([DeleteMany({"expires": {"$lte": iso(now)}})])
            tokens.insert_one({
                "_id": token_id, "secret_sha256": _digest(secret), "user": principal.user,
                # Pairs, not a mapping: environment names are not safe as field names.
                "roles": sorted([environment, role]
                                for environment, role in principal.roles.items()),
                "issued": iso(now), "expires": expires, "revoked": None})
        return IssuedToken(f"{token_id}.{secret}", token_id, expires)

    def _valid(self, token: str, now: str) -> dict[str, Any] | None:
        """The record of a well-formed, known, unexpired, unrevoked token whose secret matches;
        inside a transaction."""
        match = _TOKEN.match(token) if isinstance(token, str) else None
        if match is None:
            return None
        record = self._store.records(TOKENS).find_one({"_id": match["id"]})
        if record is None or not hmac.compare_digest(record["secret_sha256"],
                                                     _digest(match["secret"])):
            return None
        return record if _state(record, now) == "active" else None

    def verify(self, token: str) -> Principal | None:
        with self._store.transaction(write=False):
            record = self._valid(token, iso(self._clock()))
        if record is None:
            return None
        return Principal(record["user"], {environment: role for environment, role
                                          in record["roles"]})

    def revoke(self, token: str) -> bool:
        """Revoke the presented token (its secret is needed, not just its id)."""
        now = iso(self._clock())
        with self._store.transaction(write=True):
            record = self._valid(token, now)
            return record is not None and self._revoke(record["_id"], now)

    def revoke_id(self, token_id: str, user: str | None = None) -> bool:
        """Revoke a token by the id `list` shows, only if it is the user's when a user is
        given (users revoke their own tokens, admins any); False when there was no such live
        token."""
        now = iso(self._clock())
        with self._store.transaction(write=True):
            record = self._store.records(TOKENS).find_one(
                {"_id": token_id, **({"user": user} if user is not None else {})})
            return (record is not None and _state(record, now) == "active"
                    and self._revoke(token_id, now))

    def revoke_all(self, user: str) -> int:
        """Revoke every live token of the user; how many."""
        now = iso(self._clock())
        with self._store.transaction(write=True):
            tokens = self._store.records(TOKENS)
            live = tokens.find({"user": user, "revoked": None, "expires": {"$gt": now}},
                               {"_id": 1})
            return sum(self._revoke(record["_id"], now) for record in live)

    def _revoke(self, token_id: str, now: str) -> bool:
        return self._store.records(TOKENS).update_one({"_id": token_id, "revoked": None},
                                                      {"$set": {"revoked": now}})

    def list(self, user: str) -> list[dict[str, Any]]:
        """The user's tokens, oldest first, without their hashes: id, roles, issued, expires,
        revoked (time or None) and state (active, expired or revoked)."""
        now = iso(self._clock())
        with self._store.transaction(write=False):
            records = self._store.records(TOKENS).find({"user": user}, {"secret_sha256": 0},
                                                       sort=[("issued", 1), ("_id", 1)])
        return [{"token_id": record["_id"], "user": record["user"],
                 "roles": {environment: role for environment, role in record["roles"]},
                 "issued": record["issued"], "expires": record["expires"],
                 "revoked": record["revoked"], "state": _state(record, now)}
                for record in records]
