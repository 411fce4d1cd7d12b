"""Fixtures of the API tests: a store holding the recorded lab discovered with its cloud's view
(environment "lab") and without it ("edge"), with monitoring results recorded on it; small
in-test stand-ins for the two security protocols (users and passwords in a dict, tokens in a
dict); a scan service for "lab" (only) whose discovery is a fake that never runs Ansible; and a
Falcon test client that checks every response against api/openapi.yaml."""

from __future__ import annotations

import hmac
import json
import secrets
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import falcon.testing
import pytest

from calipso_api.app import ApiSettings, create_app
from calipso_api.security import (
    DirectoryUnavailable,
    IssuedToken,
    LoginFailed,
    Principal,
)
from calipso_core.discovery.scan import run_scan
from calipso_core.lab.spec import vm_port
from calipso_core.monitoring_results import handle
from calipso_core.scans import EnvironmentTarget, ScanService, Schedules
from calipso_core.store import EmbeddedStore
from tests.api.openapi_check import check_response
from tests.cloud_server import configured_cloud
from tests.recorded_lab import recorded_description, recorded_facts
from tests.unit.test_scan_requests import FakeDiscovery, write_inventory

DESCRIPTION = recorded_description()
LAB, EDGE = "lab", "edge"
EPOCH = 1_790_000_000  # monitoring results are stamped from here on, a minute apart

# user: (password, roles)
USERS = {
    "admin": ("admin-secret", {"*": "admin"}),
    "lab-viewer": ("viewer-secret", {LAB: "viewer"}),
    "lab-operator": ("operator-secret", {LAB: "operator"}),
    "lab-admin": ("lab-admin-secret", {LAB: "admin"}),
    "edge-viewer": ("edge-secret", {EDGE: "viewer"}),
}


class DictAuthenticator:
    """The Authenticator protocol over USERS; `available = False` plays a directory that is
    down."""

    def __init__(self, users: dict[str, tuple[str, dict[str, str]]]) -> None:
        self._users = users
        self.available = True

    def authenticate(self, username: str, password: str) -> Principal:
        if not self.available:
            raise DirectoryUnavailable("ldap://127.0.0.1:1 refused the connection")
        known = self._users.get(username)
        if known is None or not hmac.compare_digest(known[0], password):
            raise LoginFailed()
        return Principal(username, dict(known[1]))


class DictTokens:
    """The TokenService protocol in a dict; `expire` ends a token's life early."""

    def __init__(self, ttl_seconds: float = 3600) -> None:
        self._ttl = ttl_seconds
        self._live: dict[str, tuple[Principal, float]] = {}

    def issue(self, principal: Principal) -> IssuedToken:
        token, expires = secrets.token_urlsafe(32), time.time() + self._ttl
        self._live[token] = (principal, expires)
        return IssuedToken(token, uuid.uuid4().hex[:16],
                           datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))

    def verify(self, token: str) -> Principal | None:
        principal, expires = self._live.get(token, (None, 0.0))
        return principal if expires > time.time() else None

    def revoke(self, token: str) -> bool:
        return self._live.pop(token, None) is not None

    def expire(self, token: str) -> None:
        self._live[token] = (self._live[token][0], time.time() - 1)


class CheckedClient(falcon.testing.TestClient):
    """A test client whose every response must conform to the OpenAPI document."""

    def simulate_request(self, method: str = "GET", path: str = "/", *args: Any,
                         **kwargs: Any) -> falcon.testing.Result:
        result = super().simulate_request(method, path, *args, **kwargs)
        # As a WSGI server would, the API sees the path percent-decoded, without the query.
        check_response(method, falcon.uri.decode(path.partition("?")[0], unquote_plus=False),
                       result.status_code, result.headers, result.content)
        return result

    def until_done(self, headers: dict[str, str], location: str, timeout: float = 10,
                   poll: float = 0.01) -> dict[str, Any]:
        """The scan request at `location` once it has ended, polled as a client would."""
        deadline = time.monotonic() + timeout
        while (record := self.simulate_get(location, headers=headers).json)["state"] in (
                "queued", "running"):
            assert time.monotonic() < deadline, f"scan still {record['state']}"
            time.sleep(poll)
        return record


@dataclass(frozen=True)
class Inventory:
    """The session's store file and ids of things in it the tests ask for."""

    path: Path
    ids: dict[str, str]


def _event(object_id: str, object_type: str, status: int, minute: int, output: str) -> str:
    labels = {"calipso_object_id": object_id, "calipso_object_type": object_type,
              "calipso_environment": LAB}
    name = f"calipso-{object_type}-{object_id}"
    return json.dumps({
        "entity": {"entity_class": "proxy", "metadata": {"name": name, "labels": labels}},
        "check": {"metadata": {"name": name}, "status": status, "output": output,
                  "executed": EPOCH + 60 * minute}})


@pytest.fixture(scope="session")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    """Built once: scans and results recorded exactly as discovery and the Sensu handler do."""
    workdir = tmp_path_factory.mktemp("api-inventory")
    facts = recorded_facts()
    store = EmbeddedStore(workdir / "inventory.db")
    with configured_cloud(DESCRIPTION, workdir) as cloud:
        report = run_scan(LAB, facts, store, cloud)
    assert report.cloud_error is None
    run_scan(EDGE, facts, store)

    def first(object_type: str, **match: Any) -> str:
        return store.find("objects", LAB, {"type": object_type, **match}, sort=[("id", 1)],
                          limit=1)[0]["id"]

    web1 = next(s for s in DESCRIPTION["servers"] if s["name"] == "web-1")
    port = vm_port(DESCRIPTION, web1)
    ids = {"instance": web1["id"], "network": port["network_id"],
           "project": web1["project_id"], "port": port["id"], "host": web1["host"],
           "vnic": f"{web1['host']}-{port['devices']['tap']}",
           "vedge": first("vedge"), "host_pnic": first("host_pnic")}
    # The vedge: OK, then critical three times (one active message counted 3); the vnic: a
    # warning, then OK (a cleared message); the host NIC: critical since minute 10.
    for object_type, status, minute in (("vedge", 0, 0), ("vedge", 2, 1), ("vedge", 2, 2),
                                        ("vedge", 2, 3), ("vnic", 1, 4), ("vnic", 0, 5),
                                        ("host_pnic", 2, 10)):
        handle(_event(ids[object_type], object_type, status, minute,
                      f"CHECK_{object_type.upper()} status {status}"), store)
    return Inventory(store.path, ids)


@pytest.fixture
def store(inventory: Inventory, tmp_path: Path) -> EmbeddedStore:
    """A copy of the session's store for one test: writes of one test never reach another."""
    path = tmp_path / "inventory.db"
    shutil.copyfile(inventory.path, path)
    return EmbeddedStore(path)


@pytest.fixture
def ids(inventory: Inventory) -> dict[str, str]:
    return inventory.ids


@pytest.fixture
def authenticator() -> DictAuthenticator:
    return DictAuthenticator(USERS)


@pytest.fixture
def tokens() -> DictTokens:
    return DictTokens()


LAB_HOSTS = tuple(sorted(host["name"] for host in DESCRIPTION["hosts"]))
SECRET = "extravar-s3cret"


@pytest.fixture
def discovery() -> Iterator[FakeDiscovery]:
    """The discovery playbook's stand-in (tests/unit/test_scan_requests.py)."""
    fake = FakeDiscovery(LAB_HOSTS)
    yield fake
    fake.release.set()  # never leave a scan's worker waiting


@pytest.fixture
def scans(store: EmbeddedStore, discovery: FakeDiscovery, tmp_path: Path) -> ScanService:
    """Scans of "lab" (the Ansible inventory of its hosts); "edge" is not configured for scans.
    The extra variable stands for a secret that no answer may show."""
    inventory = write_inventory(tmp_path / "lab-hosts.yml", LAB_HOSTS)
    return ScanService(store, {LAB: EnvironmentTarget(inventory, {"cloud_password": SECRET})},
                       discovery=discovery)


@pytest.fixture
def schedules(store: EmbeddedStore, scans: ScanService) -> Schedules:
    return Schedules(store, scans)


@pytest.fixture
def client(store: EmbeddedStore, authenticator: DictAuthenticator, tokens: DictTokens,
           scans: ScanService, schedules: Schedules) -> CheckedClient:
    return CheckedClient(create_app(store, authenticator, tokens, ApiSettings(), scans,
                                    schedules))


@pytest.fixture
def auth(tokens: DictTokens) -> Callable[[str], dict[str, str]]:
    """The Authorization header of a token issued to one of USERS."""
    def headers(user: str) -> dict[str, str]:
        issued = tokens.issue(Principal(user, dict(USERS[user][1])))
        return {"Authorization": f"Bearer {issued.token}"}
    return headers


@pytest.fixture
def unchanged(store: EmbeddedStore) -> Callable[[], AbstractContextManager[None]]:
    """A block that must leave the store's file exactly as it was (the embedded store rewrites
    its file on every write, and only then)."""
    @contextmanager
    def block() -> Iterator[None]:
        before = store.path.read_bytes()
        yield
        assert store.path.read_bytes() == before, "the store changed"
    return block
