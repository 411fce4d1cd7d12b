"""The API for real on the session's lab: the application over an embedded store holding the
discovered lab, a login against the real slapd (tests/slapd.py) issuing a stored token, and a scan
started through the API, limited to one host, run by ansible-runner over SSH until it succeeds;
its new generation is then what the API shows of the environment and its objects."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from calipso_api.app import create_app
from calipso_api.auth.ldap import LdapAuthenticator, LdapSettings
from calipso_api.auth.tokens import StoreTokenService
from calipso_core.discovery.runner import discover
from calipso_core.scans import EnvironmentTarget, ScanService, Schedules
from calipso_core.store import EmbeddedStore
from tests.api.conftest import CheckedClient
from tests.slapd import Slapd, User, ldap_settings

pytest_plugins = ["tests.slapd"]

ENV = "lab"  # the environment tests/slapd.py's groups give roles in
HOST = "compute2"


@pytest.fixture(scope="module")
def discovered(lab, tmp_path_factory) -> tuple[EmbeddedStore, Path, dict]:
    """The whole lab discovered into a store of this module's own."""
    path = tmp_path_factory.mktemp("api-lab") / "inventory.db"
    inventory = Path(lab.status()["inventory"])
    report = discover(inventory, ENV, store=str(path))
    return EmbeddedStore(path), inventory, report


def test_an_operator_logs_in_and_scans_one_host_through_the_api(
        discovered, slapd: Slapd, ldap_users: dict[str, User]):
    store, inventory, first = discovered
    scans = ScanService(store, {ENV: EnvironmentTarget(inventory)})
    client = CheckedClient(create_app(
        store, LdapAuthenticator(LdapSettings.from_mapping(ldap_settings(slapd))),
        StoreTokenService(store), None, scans, Schedules(store, scans)))
    began = time.monotonic()

    operator = ldap_users["operator"]
    login = client.simulate_post("/auth/login", json={"username": operator.name,
                                                      "password": operator.password})
    assert login.status_code == 201, login.text
    headers = {"Authorization": f"Bearer {login.json['token']}"}
    environment = client.simulate_get(f"/environments/{ENV}", headers=headers).json
    assert environment["role"] == "operator"
    assert environment["last_scan"]["generation"] == first["generation"]

    started = client.simulate_post(f"/environments/{ENV}/scans", json={"hosts": [HOST]},
                                   headers=headers)
    assert started.status_code == 202, started.text
    assert started.json["requested_by"] == operator.name
    deadline = time.monotonic() + 50
    while (done := client.simulate_get(started.headers["Location"], headers=headers).json)[
            "state"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"scan still {done['state']}"
        time.sleep(0.5)
    assert done["state"] == "succeeded", done["error"]
    assert done["results"] == [{"host": HOST, "status": "ok", "message": ""}]
    assert done["generation"] > first["generation"]

    environment = client.simulate_get(f"/environments/{ENV}", headers=headers).json
    assert environment["last_scan"]["generation"] == done["generation"]
    assert environment["last_scan"]["scope"] == {"hosts": [HOST]}
    # What the API reads is the new generation's inventory: as many objects as it counted.
    objects = client.simulate_get(f"/environments/{ENV}/objects", params={"limit": "1"},
                                  headers=headers).json
    assert objects["total"] == done["counts"]["objects"] == environment["counts"]["objects"]
    vedges = client.simulate_get(f"/environments/{ENV}/objects",
                                 params={"host": HOST, "type": "vedge"}, headers=headers).json
    assert vedges["total"] == 1 and vedges["items"][0]["host"] == HOST

    # A viewer of the lab reads the scan but cannot start one.
    viewer = ldap_users["viewer"]
    token = client.simulate_post("/auth/login", json={"username": viewer.name,
                                                      "password": viewer.password}).json["token"]
    viewer_headers = {"Authorization": f"Bearer {token}"}
    assert client.simulate_get(started.headers["Location"],
                               headers=viewer_headers).json["state"] == "succeeded"
    refused = client.simulate_post(f"/environments/{ENV}/scans", json={},
                                   headers=viewer_headers)
    assert (refused.status_code, refused.json["code"]) == (403, "forbidden")
    assert time.monotonic() - began < 60
