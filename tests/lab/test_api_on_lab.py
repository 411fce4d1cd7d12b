"""The API for real on the session's lab: the application over an embedded store holding the
discovered lab, a login against the real slapd (tests/slapd.py) issuing a stored token, and a scan
started through the API, limited to one host, run by ansible-runner over SSH until it succeeds;
its new generation is then what the API shows of the environment and its objects. Then a scan of
everything related to one tenant, asked for by the project's name."""

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


def api_client(discovered, slapd: Slapd) -> CheckedClient:
    store, inventory, _ = discovered
    scans = ScanService(store, {ENV: EnvironmentTarget(inventory)})
    return CheckedClient(create_app(
        store, LdapAuthenticator(LdapSettings.from_mapping(ldap_settings(slapd))),
        StoreTokenService(store), None, scans, Schedules(store, scans)))


def login(client: CheckedClient, user: User) -> dict[str, str]:
    """The Authorization header of a real login's token."""
    answer = client.simulate_post("/auth/login", json={"username": user.name,
                                                       "password": user.password})
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json['token']}"}


def test_an_operator_logs_in_and_scans_one_host_through_the_api(
        discovered, slapd: Slapd, ldap_users: dict[str, User]):
    first = discovered[2]
    client = api_client(discovered, slapd)
    began = time.monotonic()

    operator = ldap_users["operator"]
    headers = login(client, operator)
    environment = client.simulate_get(f"/environments/{ENV}", headers=headers).json
    assert environment["role"] == "operator"
    assert environment["last_scan"]["generation"] == first["generation"]

    started = client.simulate_post(f"/environments/{ENV}/scans", json={"hosts": [HOST]},
                                   headers=headers)
    assert started.status_code == 202, started.text
    assert started.json["requested_by"] == operator.name
    done = client.until_done(headers, started.headers["Location"], timeout=50, poll=0.5)
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
    viewer_headers = login(client, ldap_users["viewer"])
    assert client.simulate_get(started.headers["Location"],
                               headers=viewer_headers).json["state"] == "succeeded"
    refused = client.simulate_post(f"/environments/{ENV}/scans", json={},
                                   headers=viewer_headers)
    assert (refused.status_code, refused.json["code"]) == (403, "forbidden")
    assert time.monotonic() - began < 60


def test_a_tenant_is_scanned_by_its_projects_name(discovered, slapd: Slapd,
                                                  ldap_users: dict[str, User]):
    store = discovered[0]
    client = api_client(discovered, slapd)
    headers = login(client, ldap_users["operator"])
    hosts_of = {project["id"]: {member["host"] for member in store.find(
        "objects", ENV, {"project": project["id"]}) if member.get("host")}
        for project in store.find("objects", ENV, {"type": "project"})}
    # The tenant on the fewest hosts (a project with VMs or services), for a short scan.
    project_id = min((p for p in hosts_of if hosts_of[p]), key=lambda p: len(hosts_of[p]))
    project, own_hosts = store.get("objects", ENV, project_id), hosts_of[project_id]

    started = client.simulate_post(f"/environments/{ENV}/scans",
                                   json={"focal_object": project["name"]}, headers=headers)
    assert started.status_code == 202, started.text
    scope = started.json["scope"]
    assert scope["focal_object"] == project["id"]
    # Where its objects are, and what their cliques pass through; each of those hosts scanned.
    assert own_hosts <= set(scope["hosts"])
    done = client.until_done(headers, started.headers["Location"], timeout=50, poll=0.5)
    assert done["state"] == "succeeded", done["error"]
    assert [result["host"] for result in done["results"]] == scope["hosts"]
    assert {result["status"] for result in done["results"]} == {"ok"}
