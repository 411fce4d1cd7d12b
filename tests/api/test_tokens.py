"""API tokens on the store's records (the embedded store and MongoStore over mongomock): issued
at a real LDAP login, verified, expiring (an injected clock), revocable one by one, by id and all
at once; the store holds neither a token nor its secret; a tampered token is nobody's."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mongomock
import pytest
from bson import json_util

from calipso_api.auth.ldap import LdapAuthenticator, LdapSettings
from calipso_api.auth.tokens import StoreTokenService
from calipso_api.security import Principal
from calipso_core.store import EmbeddedStore, MongoStore, Store
from tests.slapd import Slapd, User, ldap_settings

pytest_plugins = ["tests.slapd"]

TTL = 3600
ADMIN = Principal("admin", {"lab": "admin", "*": "viewer"})
VIEWER = Principal("viewer", {"*": "viewer"})


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(params=["embedded", "mongo"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "embedded":
        return EmbeddedStore(tmp_path / "inventory.db")
    return MongoStore(mongomock.MongoClient()["calipso"])


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tokens(store: Store, clock: Clock) -> StoreTokenService:
    return StoreTokenService(store, ttl_seconds=TTL, clock=clock)


def stored(store: Store) -> list[dict]:
    with store.transaction(write=False):
        return store.records("tokens").find({})


def test_a_login_s_token_carries_the_login_s_principal(slapd: Slapd, ldap_users: dict[str, User],
                                                       tokens: StoreTokenService,
                                                       clock: Clock) -> None:
    principal = LdapAuthenticator(LdapSettings.from_mapping(ldap_settings(slapd))).authenticate(
        "admin", ldap_users["admin"].password)
    issued = tokens.issue(principal)
    token_id, secret = issued.token.split(".")
    assert token_id == issued.token_id and re.fullmatch(r"[0-9a-f]{16}", token_id)
    assert len(secret) == 43  # secrets.token_urlsafe(32)
    assert issued.expires == "2026-11-21T13:00:00.000000Z"
    assert tokens.verify(issued.token) == principal == ADMIN
    assert tokens.verify(issued.token).role_in("prod") == "viewer"


def test_the_store_holds_no_token_and_no_secret(store: Store, tokens: StoreTokenService) -> None:
    issued = [tokens.issue(ADMIN), tokens.issue(VIEWER)]
    dump = json_util.dumps(stored(store))
    if isinstance(store, EmbeddedStore):
        dump += store.path.read_bytes().decode("latin-1")
    for token in issued:
        secret = token.token.split(".")[1]
        assert token.token not in dump and secret not in dump
        assert token.token_id in dump  # the dump is the tokens' records
        assert hashlib.sha256(secret.encode()).hexdigest() in dump


def test_tokens_expire(tokens: StoreTokenService, clock: Clock) -> None:
    token = tokens.issue(VIEWER).token
    clock.advance(TTL - 1)
    assert tokens.verify(token) == VIEWER
    clock.advance(1)
    assert tokens.verify(token) is None
    assert not tokens.revoke(token)
    assert [t["state"] for t in tokens.list("viewer")] == ["expired"]


def test_expired_tokens_are_dropped_at_the_next_issue(store: Store, tokens: StoreTokenService,
                                                      clock: Clock) -> None:
    old = tokens.issue(VIEWER)
    clock.advance(TTL / 2)
    live = tokens.issue(VIEWER)
    clock.advance(TTL / 2)
    newest = tokens.issue(ADMIN)
    assert sorted(r["_id"] for r in stored(store)) == sorted([live.token_id, newest.token_id])
    assert old.token_id not in {t["token_id"] for t in tokens.list("viewer")}


def test_revoke(tokens: StoreTokenService) -> None:
    token, other = tokens.issue(ADMIN).token, tokens.issue(ADMIN).token
    assert tokens.revoke(token)
    assert tokens.verify(token) is None
    assert not tokens.revoke(token)  # no longer valid
    assert tokens.verify(other) == ADMIN


@pytest.mark.parametrize("damage", ["secret", "id"])
def test_a_tampered_token_is_nobody_s(tokens: StoreTokenService, damage: str) -> None:
    token = tokens.issue(ADMIN).token
    token_id, secret = token.split(".")
    forged = tokens.issue(VIEWER).token.split(".")
    tampered = (f"{token_id}.{forged[1]}" if damage == "secret"  # a real secret, another token's
                else f"{forged[0]}.{secret}")
    assert tokens.verify(tampered) is None
    assert not tokens.revoke(tampered)  # revoking takes the secret, not just the id
    assert tokens.verify(token) == ADMIN


@pytest.mark.parametrize("token", [
    "", ".", "abc", "0123456789abcdef", "0123456789abcdef.", "0123456789abcdef.x",
    "0123456789abcdef." + "A" * 43 + "\n", "0123456789ABCDEF." + "A" * 43, None, 42,
    "x" * 100_000,
])
def test_malformed_tokens_are_nobody_s(tokens: StoreTokenService, token: object) -> None:
    tokens.issue(ADMIN)
    assert tokens.verify(token) is None  # type: ignore[arg-type]
    assert not tokens.revoke(token)  # type: ignore[arg-type]


def test_the_secret_is_compared_in_constant_time(tokens: StoreTokenService,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    compared = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    token = tokens.issue(ADMIN).token
    token_id = token.split(".")[0]
    stored_hash = hashlib.sha256(token.split(".")[1].encode()).hexdigest()
    assert tokens.verify(token) == ADMIN
    assert tokens.verify(f"{token_id}.{'B' * 43}") is None
    assert compared == [(stored_hash, stored_hash),
                        (stored_hash, hashlib.sha256(b"B" * 43).hexdigest())]


def test_revoke_all(tokens: StoreTokenService, clock: Clock) -> None:
    expired = tokens.issue(ADMIN).token
    clock.advance(TTL)
    revoked = tokens.issue(ADMIN).token
    tokens.revoke(revoked)
    admin = [tokens.issue(ADMIN).token for _ in range(3)]
    viewer = tokens.issue(VIEWER).token
    assert tokens.revoke_all("admin") == 3  # the live ones
    assert all(tokens.verify(t) is None for t in [expired, revoked, *admin])
    assert tokens.verify(viewer) == VIEWER
    assert tokens.revoke_all("admin") == 0


def test_revoke_by_id_is_for_the_token_s_user(tokens: StoreTokenService) -> None:
    issued = tokens.issue(ADMIN)
    assert not tokens.revoke_id(issued.token_id, user="viewer")
    assert tokens.verify(issued.token) == ADMIN
    assert not tokens.revoke_id("0" * 16)
    assert tokens.revoke_id(issued.token_id, user="admin")
    assert tokens.verify(issued.token) is None
    assert not tokens.revoke_id(issued.token_id)  # already revoked
    other = tokens.issue(ADMIN)
    assert tokens.revoke_id(other.token_id)  # an admin's call: any user's token


def test_list_shows_no_hash(tokens: StoreTokenService, clock: Clock) -> None:
    first = tokens.issue(ADMIN)
    clock.advance(60)
    second = tokens.issue(ADMIN)
    tokens.revoke(second.token)
    tokens.issue(VIEWER)
    listed = tokens.list("admin")
    assert [t["token_id"] for t in listed] == [first.token_id, second.token_id]
    assert [t["state"] for t in listed] == ["active", "revoked"]
    assert listed[0] == {"token_id": first.token_id, "user": "admin", "roles": ADMIN.roles,
                         "issued": "2026-11-21T12:00:00.000000Z", "expires": first.expires,
                         "revoked": None, "state": "active"}
    assert listed[1]["revoked"] == "2026-11-21T12:01:00.000000Z"
    text = json.dumps(listed)
    for token in (first, second):
        secret = token.token.split(".")[1]
        assert secret not in text and hashlib.sha256(secret.encode()).hexdigest() not in text


def test_roles_are_those_of_the_login(slapd: Slapd, ldap_users: dict[str, User],
                                      store: Store) -> None:
    """A role given in the directory after a login counts from the next login on: the token of
    the earlier login keeps the roles it was issued with."""
    settings = ldap_settings(slapd)
    promoted = f"cn=lab-promoted-{secrets.token_hex(4)},{slapd.groups_dn}"
    settings["group_roles"] |= {promoted: {"lab": "admin"}}
    auth = LdapAuthenticator(LdapSettings.from_mapping(settings))
    tokens = StoreTokenService(store)
    before = tokens.issue(auth.authenticate("viewer", ldap_users["viewer"].password))
    slapd.add_group(promoted.split(",")[0].removeprefix("cn="), [ldap_users["viewer"].dn])
    after = tokens.issue(auth.authenticate("viewer", ldap_users["viewer"].password))
    assert tokens.verify(before.token) == VIEWER
    assert tokens.verify(after.token).roles == {"*": "viewer", "lab": "admin"}


def test_api_workers_share_tokens_through_the_embedded_store(tmp_path: Path) -> None:
    issuer = StoreTokenService(EmbeddedStore(tmp_path / "inventory.db"))
    other = StoreTokenService(EmbeddedStore(tmp_path / "inventory.db"))
    token = issuer.issue(ADMIN).token
    assert other.verify(token) == ADMIN
    assert other.revoke(token)
    assert issuer.verify(token) is None


def test_ttl_must_be_positive(store: Store) -> None:
    with pytest.raises(ValueError, match="ttl_seconds must be > 0"):
        StoreTokenService(store, ttl_seconds=0)
