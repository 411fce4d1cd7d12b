"""Role calipso_service on the lab's controller, over SSH: the API's and the scheduler's
configuration without secrets, the secrets in a 0600 environment file, the systemd units, a second
run changing nothing; then the deployed configuration serves: calipso-api started on the
controller with it answers on the lab's management network. (The lab has no systemd: the test
starts the command the unit would.)"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from calipso_core.ansible_run import run_playbook
from calipso_core.lab.manager import Lab
from tests.conftest import ssh

LDAP_PASSWORD = "svc-Ldap-pw-81c3"
PORT = 8757


def playbook(tmp_path: Path, lab: Lab, address: str, store: Path) -> Path:
    roles = Path(__file__).resolve().parents[2] / "roles"
    play = [{
        "name": "Deploy Calipso's API and scheduler",
        "hosts": "controller",
        "gather_facts": False,
        "roles": [{"role": str(roles / "calipso_service"), "vars": {
            "calipso_service_manager": "none",
            "calipso_service_venv": sys.prefix,
            "calipso_service_state_dir": str(store.parent),
            "calipso_service_api_config": {
                "bind": f"{address}:{PORT}", "workers": 1, "threads": 2, "store": str(store),
                "ldap": {"url": "ldap://127.0.0.1:389", "bind": "search",
                         "bind_dn": "cn=calipso,dc=calipso,dc=test",
                         "user_base": "ou=people,dc=calipso,dc=test",
                         "groups_from": "memberOf", "group_roles": {
                             "cn=noc,ou=groups,dc=calipso,dc=test": {"*": "viewer"}}}},
            "calipso_service_scheduler_config": {"store": str(store), "environments": {}},
            "calipso_service_ldap_bind_password": LDAP_PASSWORD}}],
    }]
    path = tmp_path / "deploy.yml"
    path.write_text(yaml.safe_dump(play))
    return path


@pytest.fixture(scope="module")
def deployed(lab: Lab, description: dict, tmp_path_factory: pytest.TempPathFactory):
    tmp_path = tmp_path_factory.mktemp("calipso-service")
    controller = next(h for h in description["hosts"] if h["name"] == "controller")
    store = tmp_path / "state" / "inventory.db"
    book = playbook(tmp_path, lab, controller["management_ip"], store)
    inventory = Path(lab.status()["inventory"])
    first = run_playbook(inventory, book)
    again = run_playbook(inventory, book)
    return first, again, controller["management_ip"]


def test_configuration_without_secrets_and_secrets_apart(lab, deployed):
    first, _, _ = deployed
    assert first.status == "successful", first.failures()
    assert first.changed.get("controller", 0) >= 3
    api = ssh(lab, "controller", ["cat", "/etc/calipso/api.yaml"])
    assert LDAP_PASSWORD not in api
    assert yaml.safe_load(api)["ldap"]["bind_password_env"] == "CALIPSO_LDAP_BIND_PASSWORD"
    secrets = ssh(lab, "controller", ["cat", "/etc/calipso/secrets.env"])
    assert f"CALIPSO_LDAP_BIND_PASSWORD={LDAP_PASSWORD}" in secrets.splitlines()
    modes = ssh(lab, "controller", ["stat", "-c", "%n %a", "/etc/calipso/api.yaml",
                                    "/etc/calipso/secrets.env", "/etc/calipso"]).split("\n")
    assert modes[:3] == ["/etc/calipso/api.yaml 640", "/etc/calipso/secrets.env 600",
                         "/etc/calipso 750"]
    # Only the controller got it: another host's /etc/calipso is its own, and empty.
    assert ssh(lab, "compute1", ["ls", "-A", "/etc/calipso"]).strip() == ""


def test_a_second_run_changes_nothing(deployed):
    _, again, _ = deployed
    assert again.status == "successful" and again.changed.get("controller", 0) == 0


def test_the_deployed_configuration_serves(lab, deployed):
    _, _, address = deployed
    secrets = ssh(lab, "controller", ["cat", "/etc/calipso/secrets.env"]).split()
    config = lab.paths.ssh_dir / "config"
    server = subprocess.Popen(
        ["ssh", "-F", str(config), "-o", "BatchMode=yes", "controller", "--", "env",
         *secrets, f"{sys.prefix}/bin/calipso-api", "--config", "/etc/calipso/api.yaml"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        health = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://{address}:{PORT}/health", timeout=2) as r:
                    health = (r.status, json.load(r))
                    break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.3)
        assert health is not None, server.stderr.read().decode() if server.poll() else "no answer"
        assert health[0] == 200
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://{address}:{PORT}/environments", timeout=5)
        assert refused.value.code == 401
        assert refused.value.headers["Content-Type"].startswith("application/problem+json")
    finally:
        ssh(lab, "controller", ["pkill", "-f", "calipso-api --config /etc/calipso/api.yaml"],
            check=False)
        server.terminate()
        server.wait(timeout=30)
