"""Scan requests (calipso_core.scans.requests): validated, recorded from queued to their outcome
with each host's result, one at a time per environment across services on the same store, and
failed as interrupted when the process that ran them died. The discovery playbook is replaced by
a fake that answers what ansible-runner would; the store is the embedded one, on a file."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import mongomock
import pytest

from calipso_core.ansible_run import HostOutcome, PlaybookRun
from calipso_core.scans import (
    EnvironmentBusy,
    EnvironmentTarget,
    EnvironmentUnavailable,
    InvalidRequest,
    ScanService,
    UnknownEnvironment,
    UnknownFocalObject,
    UnknownHosts,
)
from calipso_core.scans.clock import iso
from calipso_core.scans.requests import MESSAGE_LIMIT
from calipso_core.store import EmbeddedStore, MongoStore

HOSTS = ("controller", "compute1", "compute2")
SECRET = "s3cret-cloud-password"
T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def write_inventory(path: Path, hosts: tuple[str, ...] = HOSTS) -> Path:
    lines = ["all:", "  hosts:"] + [f"    {host}:\n      ansible_host: 10.9.0.{i + 10}"
                                     for i, host in enumerate(hosts)]
    path.write_text("\n".join(lines) + "\n")
    return path


class FakeClock:
    """Time that moves only when a test moves it."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def report(generation: int) -> dict[str, Any]:
    return {"generation": generation, "documents_written": 7,
            "counts": {"objects": 5, "links": 4, "cliques": 2}, "cloud_error": None}


def successful_run(hosts: list[str], generation: int) -> PlaybookRun:
    """What the playbook answers when every host did its part: the report is the first host's
    last result (the debug task runs once, there)."""
    outcomes = {host: HostOutcome("ok", {}) for host in hosts}
    outcomes[hosts[0]] = HostOutcome("ok", {"msg": report(generation)})
    return PlaybookRun("successful", outcomes, {})


class FakeDiscovery:
    """Stands for the discovery playbook: records its calls, answers `answer(hosts)` (by
    default a successful run of the limited hosts, or of all), and holds each run until
    released when `hold` is set."""

    def __init__(self, hosts: tuple[str, ...] = HOSTS) -> None:
        self.hosts = hosts
        self.calls: list[dict[str, Any]] = []
        self.hold = False
        self.release = threading.Event()
        self.answer = lambda hosts: successful_run(hosts, len(self.calls))

    def __call__(self, inventory: Path, environment: str, store_url: str, limit: str | None,
                 extravars: Mapping[str, Any]) -> PlaybookRun:
        self.calls.append({"inventory": inventory, "environment": environment,
                           "store_url": store_url, "limit": limit,
                           "extravars": dict(extravars)})
        if self.hold:
            assert self.release.wait(10), "the test never released the discovery"
        return self.answer(limit.split(",") if limit else list(self.hosts))


@pytest.fixture
def discovery() -> Iterator[FakeDiscovery]:
    fake = FakeDiscovery()
    yield fake
    fake.release.set()  # never leave a worker waiting


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "inventory.db"


@pytest.fixture
def environments(tmp_path: Path) -> dict[str, EnvironmentTarget]:
    return {"lab": EnvironmentTarget(write_inventory(tmp_path / "lab.yml"),
                                     {"calipso_cloud": "lab-cloud", "password": SECRET}),
            "other": EnvironmentTarget(write_inventory(tmp_path / "other.yml", ("edge1",)))}


@pytest.fixture
def service_for(store_path, environments, discovery, clock):
    """A ScanService on the store file; each call is a new one, as another process's."""
    def make(**kwargs: Any) -> ScanService:
        return ScanService(EmbeddedStore(store_path), environments, discovery=discovery,
                           clock=clock, **kwargs)
    return make


@pytest.fixture
def service(service_for) -> ScanService:
    return service_for()


def finished(service: ScanService, request_id: str) -> dict[str, Any]:
    record = service.wait(request_id, timeout=10)
    assert record is not None and record["state"] in ("succeeded", "failed"), record
    return record


def wait_for_state(service: ScanService, request_id: str, state: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while (record := service.get(request_id))["state"] != state:
        assert time.monotonic() < deadline, f"request never reached {state}: {record}"
        time.sleep(0.01)
    return record


def test_a_scan_is_recorded_from_queued_to_succeeded_with_each_hosts_result(
        service, discovery, clock, environments, store_path):
    discovery.hold = True
    request = service.start("lab", "alice", hosts=["compute2", "compute1"])
    assert request["state"] == "queued" and request["created"] == iso(T0)
    assert request["scope"] == {"hosts": ["compute1", "compute2"], "focal_object": None}
    running = wait_for_state(service, request["id"], "running")
    assert running["started"] == iso(T0) and running["finished"] is None

    clock.now = T0 + timedelta(seconds=30)
    discovery.release.set()
    done = finished(service, request["id"])
    assert done["state"] == "succeeded"
    assert done["finished"] == iso(T0 + timedelta(seconds=30))
    assert done["results"] == [{"host": "compute1", "status": "ok", "message": ""},
                               {"host": "compute2", "status": "ok", "message": ""}]
    assert (done["generation"], done["counts"], done["documents_written"]) == \
        (1, {"objects": 5, "links": 4, "cliques": 2}, 7)
    assert done["error"] is None and done["requested_by"] == "alice"
    # the playbook got the scope as its limit, the store and the environment's variables...
    [call] = discovery.calls
    assert call == {"inventory": environments["lab"].inventory, "environment": "lab",
                    "store_url": str(store_path), "limit": "compute1,compute2",
                    "extravars": {"calipso_cloud": "lab-cloud", "password": SECRET}}
    # ...which are recorded nowhere
    assert SECRET not in json.dumps(service.list()) and "extravars" not in done


def test_a_scan_of_the_whole_environment_has_no_limit(service, discovery):
    done = finished(service, service.start("lab", "alice")["id"])
    assert discovery.calls[0]["limit"] is None
    assert done["scope"] == {"hosts": None, "focal_object": None}
    assert [r["host"] for r in done["results"]] == sorted(HOSTS)


def test_a_failed_discovery_records_which_hosts_failed_and_why(service, discovery):
    discovery.answer = lambda hosts: PlaybookRun("failed", {
        # the inventory scan runs delegated to the controller, reported under the first host
        "compute1": HostOutcome("failed", {
            "msg": "no facts from compute2: the inventory is left as it was",
            "_ansible_delegated_vars": {"ansible_host": "localhost"}}),
        "compute2": HostOutcome("unreachable", {
            "msg": "ssh: connect to host 10.9.0.12 port 22: No route to host"}),
        "controller": HostOutcome("failed", {"msg": "x" * (MESSAGE_LIMIT + 500)}),
    }, {})
    done = finished(service, service.start("lab", "bob")["id"])
    assert done["state"] == "failed" and done["generation"] is None
    results = {r["host"]: r for r in done["results"]}
    assert results["compute1"] == {"host": "compute1", "status": "ok", "message": ""}
    assert results["compute2"]["status"] == "unreachable"
    assert "No route to host" in results["compute2"]["message"]
    assert results["controller"]["status"] == "failed"
    assert len(results["controller"]["message"]) < MESSAGE_LIMIT + 10  # clipped
    assert done["error"].startswith("discovery failed: ")
    assert "compute2 unreachable: ssh: connect" in done["error"]
    assert "inventory scan: no facts from compute2" in done["error"]


def test_a_run_without_a_scan_report_fails(service, discovery):
    discovery.answer = lambda hosts: PlaybookRun("successful",
                                                 {h: HostOutcome("ok", {}) for h in hosts}, {})
    done = finished(service, service.start("lab", "bob")["id"])
    assert done["state"] == "failed" and "printed no scan report" in done["error"]


def test_a_discovery_that_cannot_run_fails_the_request_and_frees_the_environment(
        service, discovery):
    def broken(hosts):
        raise RuntimeError("ansible-playbook command not found")

    discovery.answer = broken
    done = finished(service, service.start("lab", "bob")["id"])
    assert (done["state"], done["error"]) == ("failed",
                                              "RuntimeError: ansible-playbook command not found")
    discovery.answer = lambda hosts: successful_run(hosts, 2)
    assert finished(service, service.start("lab", "bob")["id"])["state"] == "succeeded"


def test_one_scan_at_a_time_per_environment_even_across_services(service, service_for,
                                                                    discovery):
    discovery.hold = True
    first = service.start("lab", "alice")
    with pytest.raises(EnvironmentBusy, match=first["id"]) as refused:
        service.start("lab", "bob", hosts=["compute1"])
    assert refused.value.code == "environment_busy"
    # another process's service on the same store sees the same running scan
    with pytest.raises(EnvironmentBusy):
        service_for().start("lab", "carol")
    # refused requests leave no record; other environments are free
    assert service.count() == 1
    other = service.start("other", "bob")
    discovery.release.set()
    assert finished(service, first["id"])["state"] == "succeeded"
    assert finished(service, other["id"])["state"] == "succeeded"
    assert finished(service, service.start("lab", "bob")["id"])["state"] == "succeeded"


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("death", ["its pid is gone", "its lease expired elsewhere"])
def test_a_request_whose_process_died_is_failed_as_interrupted(service, service_for, discovery,
                                                               store_path, death):
    discovery.hold = True
    request = service.start("lab", "alice")
    wait_for_state(service, request["id"], "running")
    # Make the slot's owner look like a process that died, as a crash would leave it.
    if death == "its pid is gone":
        change = {"lease.owner.pid": _dead_pid()}
    else:
        change = {"lease.owner.pid_space": "another machine", "lease.expires": time.time() - 1}
    store = EmbeddedStore(store_path)
    with store.transaction(write=True):
        store.records("scan_requests").update_one({"_id": "slot:lab"}, {"$set": change})

    restarted = service_for()  # the service starting again after the crash
    interrupted = restarted.get(request["id"])
    assert interrupted["state"] == "failed" and interrupted["error"].startswith("interrupted:")
    assert interrupted["finished"] is not None
    # the environment is free again; the dead request's late end changes nothing
    second = restarted.start("lab", "bob")
    discovery.release.set()
    assert finished(restarted, second["id"])["state"] == "succeeded"
    assert finished(service, request["id"])["state"] == "failed"


def test_a_live_scan_elsewhere_is_not_interrupted(service, service_for, discovery, store_path):
    discovery.hold = True
    request = service.start("lab", "alice")
    store = EmbeddedStore(store_path)
    with store.transaction(write=True):
        store.records("scan_requests").update_one(
            {"_id": "slot:lab"}, {"$set": {"lease.owner.pid_space": "another machine"}})
    assert service_for().recover() == []
    assert service.get(request["id"])["state"] in ("queued", "running")
    discovery.release.set()
    assert finished(service, request["id"])["state"] == "succeeded"


def test_a_long_scan_keeps_its_lease_alive(service_for, discovery):
    service = service_for(lease_seconds=0.3)
    discovery.hold = True
    request = service.start("lab", "alice")
    time.sleep(1.0)  # three leases long: only heartbeats keep it alive
    assert service_for(lease_seconds=0.3).recover() == []
    with pytest.raises(EnvironmentBusy):
        service.start("lab", "bob")
    discovery.release.set()
    assert finished(service, request["id"])["state"] == "succeeded"


def _store_with_cliques(store_path: Path) -> None:
    objects = [
        {"id": "vm-uuid-1", "type": "instance", "name": "web-1", "host": "compute1"},
        {"id": "compute2-br-int", "type": "vedge", "name": "br-int", "host": "compute2"},
        {"id": "net-1", "type": "network", "name": "web"},
        {"id": "proj-1", "type": "project", "name": "webshop", "project": "proj-1"},
        {"id": "vm-uuid-2", "type": "instance", "name": "shop-1", "host": "compute1",
         "project": "proj-1"},
        {"id": "dhcp-1", "type": "vservice", "name": "dhcp", "host": "controller",
         "project": "proj-1"},
        {"id": "proj-2", "type": "project", "name": "empty", "project": "proj-2"},
    ]
    cliques = [{"id": "instance:vm-uuid-1", "focal_id": "vm-uuid-1", "focal_type": "instance",
                # compute9 is gone from the Ansible inventory: it cannot be scanned
                "hosts": ["compute1", "controller", "compute9"]},
               {"id": "instance:vm-uuid-2", "focal_id": "vm-uuid-2", "focal_type": "instance",
                "hosts": ["compute1", "compute2"]}]
    with EmbeddedStore(store_path).begin_scan("lab") as scan:
        scan.write("objects", objects)
        scan.write("cliques", cliques)


@pytest.mark.parametrize(("focal", "hosts", "focal_id"), [
    ("vm-uuid-1", ["compute1", "controller"], "vm-uuid-1"),
    ("web-1", ["compute1", "controller"], "vm-uuid-1"),  # by name, as operators know VMs
    ("compute2-br-int", ["compute2"], "compute2-br-int"),  # in no clique: its own host
    # A tenant, by name: its VM's clique, and its service's own host (in no clique).
    ("webshop", ["compute1", "compute2", "controller"], "proj-1"),
])
def test_a_focal_object_scans_the_hosts_of_its_cliques(service, discovery, store_path, focal,
                                                       hosts, focal_id):
    _store_with_cliques(store_path)
    done = finished(service, service.start("lab", "alice", focal_object=focal)["id"])
    assert done["scope"] == {"hosts": hosts, "focal_object": focal_id}
    assert discovery.calls[0]["limit"] == ",".join(hosts)
    assert [r["host"] for r in done["results"]] == hosts


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"environment": "nowhere"}, UnknownEnvironment, "no environment 'nowhere'"),
    ({"hosts": ["compute1", "compute7"]}, UnknownHosts, "compute7"),
    ({"hosts": []}, InvalidRequest, "non-empty list"),
    ({"hosts": "compute1"}, InvalidRequest, "non-empty list"),  # a name, not a list of them
    ({"hosts": ["compute1"], "focal_object": "web-1"}, InvalidRequest, "not both"),
    ({"focal_object": "db-9"}, UnknownFocalObject, "no object 'db-9'"),
    ({"focal_object": "net-1"}, InvalidRequest, "on no host"),
    ({"focal_object": "empty"}, InvalidRequest, "on no host"),  # a project with nothing
    ({"requested_by": ""}, InvalidRequest, "requested_by"),
])
def test_bad_requests_are_refused_and_leave_nothing(service, discovery, store_path, kwargs,
                                                    error, message):
    _store_with_cliques(store_path)
    arguments = {"environment": "lab", "requested_by": "alice", **kwargs}
    with pytest.raises(error, match=message) as refused:
        service.start(**arguments)
    assert isinstance(refused.value, ValueError)
    assert service.count() == 0 and discovery.calls == []


def test_an_unreadable_inventory_is_the_services_fault(store_path, discovery, tmp_path):
    service = ScanService(EmbeddedStore(store_path),
                          {"lab": EnvironmentTarget(tmp_path / "missing.yml")},
                          discovery=discovery)
    with pytest.raises(EnvironmentUnavailable) as refused:
        service.start("lab", "alice", hosts=["compute1"])
    assert not isinstance(refused.value, ValueError)


def test_a_mongodb_store_needs_its_url_for_the_playbook(environments, discovery):
    with pytest.raises(ValueError, match="store_url"):
        ScanService(MongoStore(mongomock.MongoClient()["calipso"]), environments)


def test_requests_are_listed_newest_first_and_counted(service, clock):
    ids = []
    for minute, environment in enumerate(["lab", "other", "lab"]):
        clock.now = T0 + timedelta(minutes=minute)
        ids.append(finished(service, service.start(environment, "alice")["id"])["id"])
    assert [r["id"] for r in service.list(limit=2)] == [ids[2], ids[1]]
    assert [r["id"] for r in service.list(limit=2, offset=2)] == [ids[0]]
    assert [r["id"] for r in service.list("lab")] == [ids[2], ids[0]]
    assert (service.count(), service.count("lab"), service.count("nowhere")) == (3, 2, 0)
    assert service.get(ids[1])["environment"] == "other" and service.get("nope") is None
    # bookkeeping stays inside: no _id, no slot records among requests
    assert all(set(r) >= {"id", "state"} and "_id" not in r and "kind" not in r
               for r in service.list())
