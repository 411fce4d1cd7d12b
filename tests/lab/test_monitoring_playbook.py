"""playbooks/monitoring.yml on the lab, through ansible-runner as `calipso monitor` runs it: the
discovered inventory rendered, every host's agent configured over SSH (the lab's hosts each have
their own /etc/sensu), the backend's resources applied through a Sensu Go API (the fake backend
of tests/sensu_go_api.py: no Sensu Go can run here), a second run changing nothing, check mode
changing nothing, and --limit touching only its hosts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from calipso_core.discovery.runner import discover
from calipso_core.lab.manager import Lab
from calipso_core.monitoring.runner import MonitoringDeployFailed, deploy_monitoring
from tests.conftest import ssh
from tests.sensu_go_api import FakeSensuGo, running_sensu_go_api

PASSWORD = "lab-Sensu-pw-5d1e"


@pytest.fixture(scope="module")
def store_path(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("monitoring-store") / "inventory.db")
    discover(Path(lab.status()["inventory"]), "lab", path)
    return path


@pytest.fixture(scope="module")
def sensu() -> Iterator[FakeSensuGo]:
    with running_sensu_go_api(password=PASSWORD) as fake:
        yield fake


def api_vars(sensu: FakeSensuGo) -> dict:
    return {"sensu_backend_api_url": sensu.url, "sensu_backend_username": sensu.username,
            "sensu_backend_password": PASSWORD}


def restarts(lab: Lab, host: str) -> int:
    return len(ssh(lab, host, ["cat", "/var/lib/sensu/restarts"], check=False).splitlines())


def rendered_backend(lab: Lab) -> dict[str, set[str]]:
    backend = lab.paths.monitoring_dir / "lab" / "backend"
    return {kind: {p.stem for p in (backend / kind).glob("*.json")}
            for kind in ("checks", "entities", "handlers", "filters")}


@pytest.fixture(scope="module")
def first_run(lab: Lab, store_path: str, sensu: FakeSensuGo):
    inventory = Path(lab.status()["inventory"])
    return deploy_monitoring(inventory, "lab", store_path, extravars=api_vars(sensu))


def test_every_host_gets_its_agent_plugins_and_one_restart(lab, description, first_run):
    hosts = [h["name"] for h in description["hosts"]]
    assert set(first_run.changed) >= set(hosts)
    for host in hosts:
        config = yaml.safe_load(ssh(lab, host, ["cat", "/etc/sensu/agent.yml"]))
        assert config["name"] == host
        assert config["subscriptions"] == [f"calipso-host-{host}"]
        assert config["labels"] == {"calipso_environment": "lab", "calipso_host": host,
                                    "calipso_object_id": host, "calipso_object_type": "host"}
        assert config["backend-url"] == ["ws://127.0.0.1:8081"]
        mode = ssh(lab, host, ["stat", "-c", "%a", "/etc/sensu/agent.yml"]).strip()
        assert mode == "600"
        plugins = ssh(lab, host, ["ls", "/usr/local/lib/calipso/plugins"]).split()
        assert {"check_vnic.py", "check_otep.py", "calipso_check_common.py"} <= set(plugins)
        # An installed plugin runs on its host: the host's own management NIC is up.
        line = ssh(lab, host, ["/usr/bin/python3", "/usr/local/lib/calipso/plugins/"
                               "check_host_pnic.py", "--device", "eth0"])
        assert line.startswith("HOST_PNIC OK - ")
        assert restarts(lab, host) == 1


def test_the_backend_holds_exactly_the_rendered_resources(lab, sensu, first_run):
    rendered = rendered_backend(lab)
    assert len(rendered["checks"]) > 20 and rendered["handlers"] == {"calipso"}
    for kind, names in rendered.items():
        assert set(sensu.names(kind)) == names, kind
    check = sensu.body("checks", sorted(rendered["checks"])[0])
    assert check["subscriptions"][0].startswith("calipso-host-")


def deploy(lab: Lab, store_path: str, **kwargs):
    return deploy_monitoring(Path(lab.status()["inventory"]), "lab", store_path, **kwargs)


def test_a_second_run_changes_nothing_and_restarts_nothing(lab, description, store_path, sensu,
                                                           first_run):
    writes = len(sensu.writes())
    again = deploy(lab, store_path, extravars=api_vars(sensu))
    assert sum(again.changed.values()) == 0, again.changed
    assert sensu.writes()[writes:] == []
    assert all(restarts(lab, h["name"]) == 1 for h in description["hosts"])


def test_check_mode_previews_a_change_and_makes_none(lab, description, store_path, sensu,
                                                     first_run):
    agent_before = {h["name"]: ssh(lab, h["name"], ["cat", "/etc/sensu/agent.yml"])
                    for h in description["hosts"]}
    writes = len(sensu.writes())
    preview = deploy(lab, store_path, check=True, extravars={
        **api_vars(sensu), "calipso_monitoring": {"intervals": {"otep": 30}},
        "sensu_agent_extra_subscriptions": ["linux"]})
    # Every agent's agent.yml would change, and the backend's otep checks.
    assert all(preview.changed.get(host) for host in agent_before), preview.changed
    assert sensu.writes()[writes:] == []
    for host, text in agent_before.items():
        assert ssh(lab, host, ["cat", "/etc/sensu/agent.yml"]) == text
        assert restarts(lab, host) == 1
    # Back to the settings the other tests deploy with (the render is the controller's copy).
    deploy(lab, store_path, extravars=api_vars(sensu))


def test_limit_configures_only_its_hosts(lab, description, store_path, sensu, first_run):
    """Sensu classic on compute1 alone: its client conf.d and RabbitMQ password appear there,
    the other hosts keep their Sensu Go agent.yml untouched."""
    others = [h["name"] for h in description["hosts"] if h["name"] != "compute1"]
    try:
        run = deploy(lab, store_path, limit="compute1", extravars={
            "calipso_monitoring": {"target": "sensu-classic"},
            "sensu_agent_rabbitmq_password": PASSWORD})
        assert set(run.changed) == {"compute1"}
        client = json.loads(ssh(lab, "compute1", ["cat", "/etc/sensu/conf.d/client.json"]))
        assert client["client"]["name"] == "compute1"
        assert client["client"]["subscriptions"] == ["calipso-host-compute1"]
        secret = ssh(lab, "compute1", ["stat", "-c", "%a",
                                       "/etc/sensu/conf.d/rabbitmq-password.json"]).strip()
        assert secret == "600"
        checks = ssh(lab, "compute1", ["ls", "/etc/sensu/conf.d/checks"]).split()
        assert checks and all(name.startswith("calipso-") for name in checks)
        assert restarts(lab, "compute1") == 2
        for host in others:
            assert ssh(lab, host, ["ls", "/etc/sensu"]).split() == ["agent.yml"]
            assert restarts(lab, host) == 1
    finally:
        deploy(lab, store_path, extravars=api_vars(sensu))


def test_a_bad_setting_fails_before_any_host_is_touched(lab, description, store_path, sensu,
                                                        first_run):
    before = {h["name"]: restarts(lab, h["name"]) for h in description["hosts"]}
    writes = len(sensu.writes())
    with pytest.raises(MonitoringDeployFailed, match="unknown monitoring settings: intervall"):
        deploy(lab, store_path, extravars={**api_vars(sensu),
                                           "calipso_monitoring": {"intervall": 5}})
    assert {host: restarts(lab, host) for host in before} == before
    assert sensu.writes()[writes:] == []
