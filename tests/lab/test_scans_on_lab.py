"""Scans on demand and on schedule, for real: ScanService runs playbooks/discover.yml through
ansible-runner over SSH on the session's lab, records each scoped host's result and commits a
new generation; a host that cannot be reached fails the request and leaves the inventory as it
was; `calipso-scheduler --once` starts a due schedule's scan."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from calipso_core.scans import EnvironmentTarget, ScanService, Schedules
from calipso_core.scans.scheduler import main as scheduler_main
from calipso_core.store import EmbeddedStore

ENV = "lab"


def finish(service: ScanService, request: dict, timeout: float = 90) -> dict:
    """The request once it has ended, polled as an API client would."""
    deadline = time.monotonic() + timeout
    while (record := service.get(request["id"]))["state"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, f"scan still {record['state']} after {timeout} s"
        time.sleep(0.2)
    return record


def committed(store: EmbeddedStore) -> int:
    return max(s["generation"] for s in store.scans(ENV) if s["state"] == "committed")


@pytest.fixture(scope="module")
def lab_scans(lab, tmp_path_factory):
    store = EmbeddedStore(tmp_path_factory.mktemp("scans") / "inventory.db")
    inventory = Path(lab.status()["inventory"])
    return ScanService(store, {ENV: EnvironmentTarget(inventory)}), store, inventory


@pytest.fixture(scope="module")
def whole_lab(lab_scans, description):
    """The whole lab scanned once (the focal scan needs its cliques in the store)."""
    service, store, _ = lab_scans
    done = finish(service, service.start(ENV, "tester"))
    assert done["state"] == "succeeded", done["error"]
    hosts = sorted(h["name"] for h in description["hosts"])
    assert done["results"] == [{"host": h, "status": "ok", "message": ""} for h in hosts]
    assert done["generation"] == committed(store)
    assert done["counts"]["objects"] == store.count("objects", ENV)
    return done


def test_a_scan_limited_to_one_host_commits_a_new_generation(lab_scans, whole_lab):
    service, store, _ = lab_scans
    done = finish(service, service.start(ENV, "tester", hosts=["compute2"]))
    assert done["state"] == "succeeded", done["error"]
    assert done["results"] == [{"host": "compute2", "status": "ok", "message": ""}]
    assert done["generation"] > whole_lab["generation"]
    assert done["generation"] == committed(store)
    assert store.scans(ENV, limit=1)[0]["scope"] == {"hosts": ["compute2"]}


def test_a_scan_through_a_vms_clique_covers_exactly_its_hosts(lab_scans, whole_lab,
                                                              description):
    service, store, _ = lab_scans
    server = description["servers"][0]
    clique_hosts = store.get("cliques", ENV, f"instance:{server['id']}")["hosts"]
    assert server["host"] in clique_hosts
    before = committed(store)
    request = service.start(ENV, "tester", focal_object=server["id"])
    assert request["scope"] == {"hosts": sorted(clique_hosts), "focal_object": server["id"]}
    done = finish(service, request)
    assert done["state"] == "succeeded", done["error"]
    assert [(r["host"], r["status"]) for r in done["results"]] == \
        [(h, "ok") for h in sorted(clique_hosts)]
    assert done["generation"] == committed(store) > before


def test_an_unreachable_host_fails_the_scan_and_keeps_the_inventory(lab_scans, whole_lab,
                                                                    description, tmp_path):
    _, store, inventory = lab_scans
    # A copy of the lab's inventory with a host on the lab's subnet where nothing answers.
    taken = {h["management_ip"] for h in description["hosts"]}
    ghost_ip = description["hosts"][0]["management_ip"].rsplit(".", 1)[0] + ".99"
    assert ghost_ip not in taken
    data = yaml.safe_load(inventory.read_text())
    data["all"]["hosts"] = {"ghost": {"ansible_host": ghost_ip}}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(data))
    service = ScanService(store, {ENV: EnvironmentTarget(tmp_path / "hosts.yml")})
    objects, generation = store.find("objects", ENV), committed(store)

    done = finish(service, service.start(ENV, "tester", hosts=["compute1", "ghost"]))
    assert done["state"] == "failed"
    results = {r["host"]: r for r in done["results"]}
    assert set(results) == {"compute1", "ghost"}
    assert results["compute1"]["status"] == "ok"
    assert results["ghost"]["status"] == "unreachable" and ghost_ip in results["ghost"]["message"]
    assert "ghost unreachable" in done["error"] and "no facts from ghost" in done["error"]
    assert done["generation"] is None
    assert (store.find("objects", ENV), committed(store)) == (objects, generation)


def test_the_scheduler_starts_a_due_schedules_scan(lab_scans, whole_lab, tmp_path, capsys):
    service, store, inventory = lab_scans
    schedule = Schedules(store, service).create(ENV, "FREQ=HOURLY", "tester",
                                                hosts=["compute3"])
    config = tmp_path / "scans.yml"
    config.write_text(yaml.safe_dump({"store": str(store.path),
                                      "environments": {ENV: {"inventory": str(inventory)}}}))
    before = committed(store)

    assert scheduler_main(["--config", str(config), "--once"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    printed = json.loads(line)
    assert (printed["state"], printed["requested_by"]) == ("succeeded",
                                                           f"schedule:{schedule['id']}")
    request = service.get(printed["id"])
    assert [(r["host"], r["status"]) for r in request["results"]] == [("compute3", "ok")]
    assert request["generation"] == committed(store) > before
    ran = Schedules(store, service).get(schedule["id"])
    assert ran["last_request_id"] == printed["id"] and ran["next_run"] > schedule["next_run"]
    # due no more: a second run starts nothing
    assert scheduler_main(["--config", str(config), "--once"]) == 0
    assert capsys.readouterr().out == ""
