"""calipso-api: its configuration file (with the environments scans reach), checked before
serving, the application it builds, and the real thing on loopback (gunicorn, the embedded store,
the LDAP authenticator and the stored tokens): health, a token issued into the shared store file
and honoured by the server, a directory that is down, scans unavailable without environments."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import yaml

from calipso_api.auth.tokens import StoreTokenService
from calipso_api.security import Principal
from calipso_api.server import ConfigError, build_app, check, load_config
from calipso_core.store import EmbeddedStore
from tests.api.conftest import LAB_HOSTS, CheckedClient
from tests.cloud_server import free_loopback_port
from tests.unit.test_scan_requests import write_inventory

LDAP = {"url": "ldap://127.0.0.1:9", "bind": "direct", "connect_timeout": 1,
        "user_dn_template": "uid={username},ou=people,dc=example,dc=org",
        "groups_from": "memberOf",
        "group_roles": {"cn=noc,ou=groups,dc=example,dc=org": {"lab": "viewer"}}}


def write(path, config):
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_configuration_with_defaults(tmp_path):
    config = load_config(write(tmp_path / "api.yaml", {"ldap": LDAP}))
    assert (config.bind, config.workers, config.threads) == ("127.0.0.1:8757", 2, 4)
    assert config.api.max_body_bytes == 64 * 1024 and config.store is None


@pytest.mark.parametrize(("config", "message"), [
    ({}, "ldap is required"),
    ({"ldap": LDAP, "worker": 2}, "unknown keys ['worker']"),
    ({"ldap": LDAP, "workers": True}, "workers must be"),
    ({"ldap": LDAP, "workers": 0}, "workers must be"),
    ({"ldap": LDAP, "bind": "127.0.0.1"}, "bind must be host:port"),
    ({"ldap": LDAP, "token_ttl_seconds": -5}, "token_ttl_seconds"),
    ({"ldap": LDAP, "types_dir": "/no/such/dir"}, "types_dir must be a directory"),
    ({"ldap": "ldap://x"}, "ldap must be a mapping"),
])
def test_configuration_mistakes_are_named(tmp_path, config, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(write(tmp_path / "api.yaml", config))


def test_not_yaml_and_not_a_mapping(tmp_path):
    (tmp_path / "bad.yaml").write_text("ldap: [")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "bad.yaml")
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config(tmp_path / "missing.yaml")


def test_the_check_before_serving_catches_ldap_and_store_mistakes(tmp_path):
    bad_ldap = load_config(write(tmp_path / "a.yaml", {"ldap": {**LDAP, "bind": "sideways"}}))
    with pytest.raises(ConfigError, match="bind"):
        check(bad_ldap)
    (tmp_path / "not-a-store.db").write_text("hello")
    bad_store = load_config(write(tmp_path / "b.yaml", {
        "ldap": LDAP, "store": str(tmp_path / "not-a-store.db")}))
    with pytest.raises(ConfigError, match="is damaged"):
        check(bad_store)


def test_environments_are_read_relative_to_the_file_and_checked(tmp_path):
    (tmp_path / "inventories").mkdir()
    write_inventory(tmp_path / "inventories" / "lab.yml", LAB_HOSTS)
    config = load_config(write(tmp_path / "api.yaml", {"ldap": LDAP, "environments": {
        "lab": {"inventory": "inventories/lab.yml", "extravars": {"calipso_cloud": "c"}}}}))
    target = config.environments["lab"]
    assert target.inventory == tmp_path / "inventories" / "lab.yml"
    assert dict(target.extravars) == {"calipso_cloud": "c"}
    check(config)  # the inventory defines hosts

    with pytest.raises(ConfigError, match=r"unknown key.*invnetory"):
        load_config(write(tmp_path / "b.yaml", {"ldap": LDAP, "environments": {
            "lab": {"invnetory": "inventories/lab.yml"}}}))
    with pytest.raises(ConfigError, match="environments must be a mapping"):
        load_config(write(tmp_path / "c.yaml", {"ldap": LDAP, "environments": ["lab"]}))
    missing = load_config(write(tmp_path / "d.yaml", {"ldap": LDAP, "environments": {
        "lab": {"inventory": "inventories/missing.yml"}}}))
    with pytest.raises(ConfigError, match=r"missing\.yml defines no host"):
        check(missing)


def test_the_application_scans_the_configured_environments(tmp_path, inventory):
    store_path = tmp_path / "inventory.db"
    shutil.copyfile(inventory.path, store_path)
    write_inventory(tmp_path / "lab.yml", LAB_HOSTS)
    token = StoreTokenService(EmbeddedStore(store_path)).issue(
        Principal("noc", {"*": "operator"})).token
    headers = {"Authorization": f"Bearer {token}"}
    with_scans = load_config(write(tmp_path / "api.yaml", {
        "ldap": LDAP, "store": str(store_path), "environments": {"lab": {"inventory": "lab.yml"}}}))
    client = CheckedClient(build_app(with_scans))
    assert client.simulate_get("/environments/lab/scans", headers=headers).json["total"] == 0
    refused = client.simulate_post("/environments/lab/scans", headers=headers,
                                   json={"hosts": ["nosuchhost"]})
    assert (refused.status_code, refused.json["code"]) == (400, "unknown_hosts")
    # edge is in the store but not in the configuration
    refused = client.simulate_post("/environments/edge/scans", headers=headers, json={})
    assert (refused.status_code, refused.json["code"]) == (404, "unknown_environment")

    without = load_config(write(tmp_path / "bare.yaml", {"ldap": LDAP, "store": str(store_path)}))
    refused = CheckedClient(build_app(without)).simulate_get("/environments/lab/schedules",
                                                             headers=headers)
    assert (refused.status_code, refused.json["code"]) == (503, "scans_unavailable")


def call(url, token=None, body=None):
    """(status, JSON body) of a GET, or of a POST of a JSON body."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None if body is None else json.dumps(body).encode()
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_server_serves_the_store_with_ldap_and_stored_tokens(tmp_path, inventory):
    store_path = tmp_path / "inventory.db"
    shutil.copyfile(inventory.path, store_path)
    port = free_loopback_port()
    config = write(tmp_path / "api.yaml", {
        "ldap": LDAP, "store": str(store_path), "bind": f"127.0.0.1:{port}", "workers": 2,
        "threads": 2, "access_log": False})
    server = subprocess.Popen(
        [sys.executable, "-c", "import sys; from calipso_api.server import main;"
         " sys.exit(main(sys.argv[1:]))", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, body = call(f"{base}/health")
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, \
                    server.stderr.read() if server.poll() is not None else "server not up"
                time.sleep(0.1)
        assert (status, body) == (200, {"status": "ok", "store": "reachable"})
        assert call(f"{base}/environments")[0] == 401
        # A token issued into the store file the server reads: what a login would do.
        issued = StoreTokenService(EmbeddedStore(store_path)).issue(
            Principal("noc", {"lab": "viewer"}))
        status, body = call(f"{base}/environments", issued.token)
        assert status == 200 and [e["name"] for e in body["items"]] == ["lab"]
        status, body = call(f"{base}/auth/login", body={"username": "bob", "password": "pw"})
        assert status == 503 and body["code"] == "directory_unavailable"
        assert "127.0.0.1:9" not in json.dumps(body)
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
    assert server.returncode == 0
