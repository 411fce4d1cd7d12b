"""calipso.topology.sensu_go_resources, run for real through Ansible (ad hoc on localhost, through
ansible-runner) against the fake Sensu Go API of tests/sensu_go_api.py, applying the resources
Calipso renders from the recorded lab's host facts; and its module_utils tested directly where
that is cheaper than a run."""

from __future__ import annotations

import copy
import json
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ansible_runner
import pytest
from ansible_collections.calipso.topology.plugins.module_utils.sensu_go_api import (
    KINDS,
    SensuGoClient,
    SensuGoError,
    comparable,
    differs,
    label_selector,
    prunable,
    unwrap,
)

from calipso_core.ansible_run import ansible_env
from calipso_core.discovery.assemble import Inventory, assemble
from calipso_core.monitoring.checks import MonitoringSettings, check_name
from calipso_core.monitoring.render import render, write_files
from tests.cloud_server import free_loopback_port
from tests.recorded_lab import recorded_facts
from tests.sensu_go_api import FakeSensuGo, running_sensu_go_api

Doc = dict[str, Any]
MODULE = "calipso.topology.sensu_go_resources"
API = "/api/core/v2/namespaces/default"
RESULT_LISTS = ("created", "updated", "deleted", "unchanged")
# Resources Calipso did not make: a check without Calipso's labels, another environment's
# check, and a host's agent entity (agents label themselves as Calipso's, see agent.yml).
FOREIGN: dict[str, Doc] = {
    "checks/disk-usage": {
        "command": "check-disk-usage -w 80", "interval": 300, "subscriptions": ["linux"],
        "publish": True, "metadata": {"name": "disk-usage", "namespace": "default"}},
    "checks/calipso-vnic-5a6e5a6e5a6e": {
        "command": "/usr/bin/true", "interval": 60, "subscriptions": ["calipso-host-x"],
        "publish": True,
        "metadata": {"name": "calipso-vnic-5a6e5a6e5a6e", "namespace": "default",
                     "labels": {"calipso_environment": "staging"}}},
    "entities/compute1": {
        "entity_class": "agent", "subscriptions": ["calipso-host-compute1", "entity:compute1"],
        "metadata": {"name": "compute1", "namespace": "default",
                     "labels": {"calipso_environment": "lab", "calipso_host": "compute1"}}},
}


@dataclass
class Run:
    status: str  # ok or failed
    result: Doc


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    # Host facts alone: enough objects of every monitored type, no cloud API to start.
    return assemble("lab", recorded_facts())


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("inventory") / "hosts"
    path.write_text(f"localhost ansible_connection=local ansible_python_interpreter="
                    f"{sys.executable}\n")
    return path


@pytest.fixture
def sensu() -> Iterator[FakeSensuGo]:
    with running_sensu_go_api() as fake:
        yield fake


def rendered(out: Path, objects: list[Doc], links: list[Doc],
             settings: MonitoringSettings | None = None) -> dict[str, Doc]:
    """Render the lab's monitoring into out, as the monitoring playbook does; return its
    resources as the API takes them (spec fields and metadata), keyed kind/name."""
    monitoring = render("lab", objects, links, settings or MonitoringSettings())
    write_files(monitoring, out)
    return {f"{path.split('/')[0]}/{doc['metadata']['name']}": {**doc["spec"],
                                                                 "metadata": doc["metadata"]}
            for path, doc in monitoring.backend.items()}


def held(sensu: FakeSensuGo) -> dict[str, Doc]:
    """What the backend holds, exactly as it was written."""
    return {f"{kind}/{name}": copy.deepcopy(stored.body)
            for (_, kind, name), stored in sensu.resources.items()}


def seed(sensu: FakeSensuGo, resources: dict[str, Doc]) -> None:
    for key, body in resources.items():
        sensu.seed(key.split("/")[0], body)


def apply(hosts: Path, sensu: FakeSensuGo, src: Path, *, check: bool = False,
          diff: bool = False, **options: Any) -> Run:
    """Run the module once, ad hoc on localhost, as `ansible localhost -m ... -a '{json}'`."""
    if "api_key" not in options:
        options = {"username": sensu.username, "password": sensu.password, **options}
    args = {"url": sensu.url, "src": str(src), **options}
    flags = [flag for flag, wanted in (("--check", check), ("--diff", diff)) if wanted]
    with tempfile.TemporaryDirectory(prefix="calipso-runner-") as private_dir:
        runner = ansible_runner.run(
            private_data_dir=private_dir, inventory=str(hosts), host_pattern="localhost",
            module=MODULE, module_args=json.dumps(args), quiet=True, envvars=ansible_env(),
            cmdline=" ".join(flags) or None)
        outcomes = [Run(event["event"].removeprefix("runner_on_"), event["event_data"]["res"])
                    for event in runner.events
                    if event.get("event") in ("runner_on_ok", "runner_on_failed")]
        assert len(outcomes) == 1, runner.stdout.read()
    return outcomes[0]


def puts(keys: list[str]) -> list[tuple[str, str]]:
    return [("PUT", f"{API}/{key}") for key in keys]


def test_apply_creates_then_converges_updates_and_prunes(
        hosts: Path, sensu: FakeSensuGo, inventory: Inventory, tmp_path: Path) -> None:
    out = tmp_path / "monitoring"
    seed(sensu, FOREIGN)
    desired = rendered(out, inventory.objects, inventory.links)

    first = apply(hosts, sensu, out, prune_value="lab")
    assert first.status == "ok", first.result
    assert first.result["changed"]
    assert first.result["created"] == sorted(desired, key=lambda k: (KINDS.index(k.split("/")[0]),
                                                                     k))
    assert first.result["updated"] == first.result["deleted"] == first.result["unchanged"] == []
    assert held(sensu) == desired | FOREIGN
    # what a check names exists before it: filters, handlers, entities, then checks
    written_kinds = [path.split("/")[-2] for _, path in sensu.writes()]
    assert written_kinds == sorted(written_kinds, key=KINDS.index)

    sensu.requests.clear()
    second = apply(hosts, sensu, out, prune_value="lab")
    assert second.status == "ok", second.result
    assert not second.result["changed"]
    assert sorted(second.result["unchanged"]) == sorted(desired)
    assert sensu.writes() == []

    sensu.requests.clear()
    slower_oteps = MonitoringSettings(intervals={"otep": 120})
    desired = rendered(out, inventory.objects, inventory.links, slower_oteps)
    third = apply(hosts, sensu, out, prune_value="lab")
    oteps = sorted(key for key in desired if key.startswith("checks/calipso-otep-"))
    assert len(oteps) == 4
    assert third.result["updated"] == oteps
    assert third.result["created"] == third.result["deleted"] == []
    assert sensu.writes() == puts(oteps)
    assert held(sensu) == desired | FOREIGN

    # the router vanishes from the inventory: its check and proxy entity go, nothing else
    router = next(o for o in inventory.objects
                  if o["type"] == "vservice" and o["id"].startswith("controller-qrouter-"))
    objects = [o for o in inventory.objects if o is not router]
    links = [link for link in inventory.links
             if router["id"] not in (link["source_id"], link["target_id"])]
    sensu.requests.clear()
    desired = rendered(out, objects, links, slower_oteps)
    fourth = apply(hosts, sensu, out, prune_value="lab")
    gone = check_name("vservice", router["id"])
    assert fourth.result["deleted"] == [f"checks/{gone}", f"entities/{gone}"]
    assert fourth.result["created"] == fourth.result["updated"] == []
    assert sensu.writes() == [("DELETE", f"{API}/checks/{gone}"),
                              ("DELETE", f"{API}/entities/{gone}")]
    assert held(sensu) == desired | FOREIGN


def test_check_mode_writes_nothing_and_predicts_the_run_diff_included(
        hosts: Path, sensu: FakeSensuGo, inventory: Inventory, tmp_path: Path) -> None:
    out = tmp_path / "monitoring"
    desired = rendered(out, inventory.objects, inventory.links)
    stale_check = next(key for key in desired if key.startswith("checks/calipso-otep-"))
    missing_entity = next(key for key in desired if key.startswith("entities/"))
    vanished = check_name("vnic", "compute9-tap00000000-00")
    backend = {key: copy.deepcopy(body) for key, body in desired.items() if key != missing_entity}
    backend[stale_check]["interval"] = 300
    backend[f"checks/{vanished}"] = {
        **copy.deepcopy(desired[stale_check]),
        "metadata": {"name": vanished, "namespace": "default",
                     "labels": {"calipso_environment": "lab"}}}
    seed(sensu, backend)

    predicted = apply(hosts, sensu, out, check=True, diff=True, prune_value="lab")
    assert predicted.status == "ok", predicted.result
    assert sensu.writes() == []
    assert held(sensu) == backend
    assert predicted.result["changed"]
    assert (predicted.result["created"], predicted.result["updated"],
            predicted.result["deleted"]) == ([missing_entity], [stale_check],
                                             [f"checks/{vanished}"])

    done = apply(hosts, sensu, out, diff=True, prune_value="lab")
    assert done.status == "ok", done.result
    assert {key: done.result[key] for key in RESULT_LISTS} == \
        {key: predicted.result[key] for key in RESULT_LISTS}
    assert held(sensu) == desired
    assert done.result["diff"] == predicted.result["diff"]

    diffs = {entry["after_header"].split(" ")[0]: entry for entry in done.result["diff"]}
    assert diffs.keys() == {missing_entity, stale_check, f"checks/{vanished}"}
    update = diffs[stale_check]
    assert (update["before"]["spec"]["interval"], update["after"]["spec"]["interval"]) == (300, 60)
    assert update["before"]["spec"]["command"] == update["after"]["spec"]["command"]
    # shown without what the backend sets itself
    assert "created_by" not in update["before"]["metadata"]
    created = diffs[missing_entity]
    assert created["before"] == ""
    assert created["after"]["type"] == "Entity"
    assert created["after"]["metadata"]["labels"] == desired[missing_entity]["metadata"]["labels"]
    assert diffs[f"checks/{vanished}"]["after"] == ""


def test_a_refused_password_fails_clearly_and_leaks_nothing(
        hosts: Path, sensu: FakeSensuGo, inventory: Inventory, tmp_path: Path) -> None:
    rendered(tmp_path / "monitoring", inventory.objects, inventory.links)
    wrong = "not-" + sensu.password
    run = apply(hosts, sensu, tmp_path / "monitoring", password=wrong)
    assert run.status == "failed"
    message = run.result["msg"]
    assert message.startswith(f"GET {sensu.url}/auth failed: HTTP 401")
    assert "username or password was refused" in message
    text = json.dumps(run.result)
    assert wrong not in text
    assert sensu.password not in text
    assert sensu.writes() == []
    assert not run.result["changed"]


def test_a_resource_the_backend_refuses_fails_naming_it_and_reports_what_was_written(
        hosts: Path, sensu: FakeSensuGo, inventory: Inventory, tmp_path: Path) -> None:
    out = tmp_path / "monitoring"
    desired = rendered(out, inventory.objects, inventory.links)
    broken = sorted(out.glob("backend/checks/*.json"))[0]  # the first check written
    doc = json.loads(broken.read_text())
    del doc["spec"]["interval"]  # a check with neither interval nor cron
    broken.write_text(json.dumps(doc))

    run = apply(hosts, sensu, out)
    assert run.status == "failed"
    name = doc["metadata"]["name"]
    assert f"PUT {sensu.url}{API}/checks/{name} failed: HTTP 400: " in run.result["msg"]
    assert "interval is required" in run.result["msg"]
    assert run.result["status"] == 400
    # the filter, handler and entities went in before the checks, and are reported as such
    assert run.result["changed"]
    assert sorted(run.result["created"]) == sorted(k for k in desired
                                                   if not k.startswith("checks/"))
    text = json.dumps(run.result)
    assert sensu.issued_tokens
    assert not any(token in text for token in sensu.issued_tokens)
    assert sensu.password not in text


def test_an_unreachable_backend_fails_clearly(
        hosts: Path, inventory: Inventory, tmp_path: Path) -> None:
    out = tmp_path / "monitoring"
    rendered(out, inventory.objects, inventory.links)
    with running_sensu_go_api() as sensu:
        sensu.url = f"http://127.0.0.1:{free_loopback_port()}"  # nothing listens there
        run = apply(hosts, sensu, out)
    assert run.status == "failed"
    assert run.result["msg"].startswith(
        f"GET {sensu.url}/auth failed: cannot reach the Sensu Go API at {sensu.url}: ")
    assert "refused" in run.result["msg"].lower()


def test_a_malformed_document_fails_naming_its_file_before_any_request(
        hosts: Path, sensu: FakeSensuGo, inventory: Inventory, tmp_path: Path) -> None:
    out = tmp_path / "monitoring"
    rendered(out, inventory.objects, inventory.links)
    bad = out / "backend" / "checks" / "hand-written.json"
    # a Sensu classic check definition, not a wrapped core/v2 resource
    bad.write_text(json.dumps({"checks": {"disk": {"command": "check-disk", "interval": 60}}}))
    run = apply(hosts, sensu, out, prune_value="lab")
    assert run.status == "failed"
    assert run.result["msg"] == f"{bad}: not a wrapped Sensu Go resource: unexpected checks"
    assert sensu.requests == []


def test_api_key_and_a_backend_that_ignores_the_label_selector(
        hosts: Path, inventory: Inventory, tmp_path: Path) -> None:
    out = tmp_path / "monitoring"
    desired = rendered(out, inventory.objects, inventory.links)
    stale = check_name("otep", "compute9-otep")
    # Without response filtering the backend lists every resource: the module must check the
    # label itself, or it would prune everything not in src.
    with running_sensu_go_api(honour_label_selector=False) as sensu:
        seed(sensu, FOREIGN)
        seed(sensu, {f"checks/{stale}": {
            "command": "/usr/bin/true", "interval": 60, "subscriptions": ["calipso-host-x"],
            "publish": True, "metadata": {"name": stale, "namespace": "default",
                                          "labels": {"calipso_environment": "lab"}}}})
        run = apply(hosts, sensu, out, api_key=sensu.api_key, prune_value="lab")
        assert run.status == "ok", run.result
        assert sorted(run.result["created"]) == sorted(desired)
        assert run.result["deleted"] == [f"checks/{stale}"]
        assert held(sensu) == desired | FOREIGN
        assert ("GET", "/auth") not in sensu.requests
        assert sensu.api_key not in json.dumps(run.result)


# The module_utils, directly.

def served(sensu: FakeSensuGo, key: str) -> Doc:
    kind, name = key.split("/")
    return sensu.served(kind, sensu.resources[("default", kind, name)])


def test_what_the_backend_serves_compares_equal_to_what_was_written(
        sensu: FakeSensuGo, inventory: Inventory, tmp_path: Path) -> None:
    desired = rendered(tmp_path / "m", inventory.objects, inventory.links)
    seed(sensu, desired)
    for key, body in desired.items():
        kind = key.split("/")[0]
        current = served(sensu, key)
        assert current != body  # nulls, zero values, created_by, an entity's last_seen ...
        assert not differs(kind, current, body), key
        assert comparable(kind, current) == comparable(kind, body)


@pytest.mark.parametrize("change, different", [
    (lambda b: b.update(interval=120), True),
    (lambda b: b.update(cron="* * * * *"), True),
    (lambda b: b["metadata"]["labels"].update(calipso_host="elsewhere"), True),
    (lambda b: b.update(ttl=0, check_hooks=None, subdue=None), False),
    (lambda b: b.update(scheduler="etcd"), False),
    (lambda b: b["metadata"].update(created_by="someone", annotations=None), False),
])
def test_check_differences(inventory: Inventory, tmp_path: Path, change: Callable[[Doc], None],
                           different: bool) -> None:
    desired = rendered(tmp_path / "m", inventory.objects, inventory.links)
    key = next(k for k in desired if k.startswith("checks/"))
    current = copy.deepcopy(desired[key])
    change(current)
    assert differs("checks", current, desired[key]) is different


def test_entity_state_the_backend_fills_is_no_difference() -> None:
    desired = {"entity_class": "proxy", "subscriptions": [],
               "metadata": {"name": "calipso-vnic-1", "namespace": "default",
                            "labels": {"calipso_environment": "lab"}, "annotations": {}}}
    current = {**copy.deepcopy(desired), "last_seen": 1767225600, "user": "agent",
               "sensu_agent_version": "6.11.0", "subscriptions": ["entity:calipso-vnic-1"],
               "system": {"hostname": "x", "network": {"interfaces": None}},
               "deregister": False, "deregistration": {}, "redact": None}
    assert not differs("entities", current, desired)
    assert differs("entities", {**current, "subscriptions": ["web"]}, desired)
    assert differs("entities", {**current, "entity_class": "agent"}, desired)


def test_only_labelled_non_agent_resources_are_prunable() -> None:
    lab = {"metadata": {"name": "a", "labels": {"calipso_environment": "lab"}}}
    assert prunable("checks", lab, "calipso_environment", "lab")
    assert prunable("entities", {**lab, "entity_class": "proxy"}, "calipso_environment", "lab")
    assert not prunable("entities", {**lab, "entity_class": "agent"}, "calipso_environment", "lab")
    assert not prunable("checks", lab, "calipso_environment", "staging")
    assert not prunable("checks", {"metadata": {"name": "a", "labels": None}},
                        "calipso_environment", "lab")


@pytest.mark.parametrize("doc, problem", [
    ([], "not a wrapped Sensu Go resource (a JSON object)"),
    ({"type": "Asset", "api_version": "core/v2", "metadata": {"name": "a"}, "spec": {}},
     "type must be one of CheckConfig, Entity, EventFilter, Handler, not 'Asset'"),
    ({"type": "Handler", "api_version": "core/v3", "metadata": {"name": "a"}, "spec": {}},
     "api_version must be core/v2, not 'core/v3'"),
    ({"type": "Handler", "api_version": "core/v2", "metadata": {}, "spec": {}},
     "metadata must be an object with a name"),
    ({"type": "Handler", "api_version": "core/v2", "metadata": {"name": "a"}, "spec": None},
     "spec must be an object"),
    ({"type": "Handler", "api_version": "core/v2", "metadata": {"name": "a"},
      "spec": {"metadata": {}}}, "spec must not hold metadata"),
    ({"type": "Handler", "api_version": "core/v2",
      "metadata": {"name": "a", "namespace": "ops"}, "spec": {}},
     "metadata.namespace is 'ops', not the namespace 'default'"),
])
def test_unwrap_refuses_what_is_not_a_wrapped_resource(doc: Any, problem: str) -> None:
    with pytest.raises(ValueError) as caught:
        unwrap(doc, "default")
    assert str(caught.value) == problem


def test_unwrap_gives_the_api_body_in_the_namespace() -> None:
    doc = {"type": "EventFilter", "api_version": "core/v2",
           "metadata": {"name": "f", "labels": {}}, "spec": {"action": "allow"}}
    assert unwrap(doc, "ops") == ("filters", "f", {
        "action": "allow", "metadata": {"name": "f", "labels": {}, "namespace": "ops"}})


def test_label_selector_quotes_the_value_and_refuses_what_it_cannot_quote() -> None:
    assert label_selector("calipso_environment", "lab") == 'calipso_environment == "lab"'
    for key, value in (("calipso environment", "lab"), ("k", 'a"b'), ("k", "a\\b"), ("k", "")):
        with pytest.raises(ValueError):
            label_selector(key, value)


def test_client_lists_every_page_and_filters_by_label(sensu: FakeSensuGo) -> None:
    for index in range(5):
        labels = {"calipso_environment": "lab" if index % 2 else "staging"}
        sensu.seed("handlers", {"type": "pipe", "command": "true",
                                "metadata": {"name": f"h{index}", "namespace": "default",
                                             "labels": labels}})
    client = SensuGoClient(sensu.url, api_key=sensu.api_key, page_size=2)
    assert [h["metadata"]["name"] for h in client.list("default", "handlers")] == \
        ["h0", "h1", "h2", "h3", "h4"]
    assert sensu.requests.count(("GET", f"{API}/handlers")) == 3
    selector = label_selector("calipso_environment", "lab")
    assert [h["metadata"]["name"] for h in client.list("default", "handlers", selector)] == \
        ["h1", "h3"]
    assert client.list("default", "filters") == []
    with pytest.raises(SensuGoError, match=r"HTTP 400: failed to parse labelSelector$"):
        client.list("default", "handlers", "calipso_environment = lab")


def test_client_logs_in_again_when_its_token_expires(sensu: FakeSensuGo) -> None:
    client = SensuGoClient(sensu.url, username=sensu.username, password=sensu.password)
    assert client.get("default", "checks", "absent") is None
    sensu.expire_tokens()
    assert client.get("default", "checks", "absent") is None
    assert sensu.requests.count(("GET", "/auth")) == 2
    assert len(sensu.issued_tokens) == 2
    assert client.delete("default", "checks", "absent") is False


def test_client_errors_name_the_request_and_hold_no_secret(sensu: FakeSensuGo) -> None:
    client = SensuGoClient(sensu.url, username=sensu.username, password=sensu.password)
    with pytest.raises(SensuGoError) as caught:
        client.put("default", "checks", "c", {"command": "true", "metadata": {"name": "c"}})
    error = caught.value
    assert (error.method, error.path, error.status) == ("PUT", f"{API}/checks/c", 400)
    assert str(error).startswith(f"PUT {sensu.url}{API}/checks/c failed: HTTP 400: ")
    assert "(code 1)" in str(error)
    assert sensu.issued_tokens[0] not in str(error)

    refused = SensuGoClient(sensu.url, username=sensu.username, password="wrong-password")
    with pytest.raises(SensuGoError) as caught:
        refused.list("default", "checks")
    assert str(caught.value) == (f"GET {sensu.url}/auth failed: HTTP 401 (the username or "
                                 "password was refused): Request unauthorized")

    bad_key = SensuGoClient(sensu.url, api_key="k")
    with pytest.raises(SensuGoError) as caught:
        bad_key.get("default", "checks", "c")
    assert str(caught.value) == (f"GET {sensu.url}{API}/checks/c failed: HTTP 401 (the API key "
                                 "was refused): Request unauthorized")


def test_client_refuses_incomplete_settings() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        SensuGoClient("sensu.example:8080", api_key="k")
    with pytest.raises(ValueError, match="either api_key or username and password"):
        SensuGoClient("https://sensu.example:8080", username="u", password="p", api_key="k")
    with pytest.raises(ValueError, match="either api_key or username and password"):
        SensuGoClient("https://sensu.example:8080", username="u")
