"""calipso-sensu-handler: Sensu Go and classic events recorded against the inventory of the
recorded lab: status with history, messages deduplicated and cleared, unknown objects reported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from calipso_core.discovery.scan import run_scan
from calipso_core.monitoring_results import BadEvent, handle, messages, parse_event, statuses
from calipso_core.store import EmbeddedStore
from tests.recorded_lab import recorded_description, recorded_facts

DESCRIPTION = recorded_description()
VEDGE = next(h["system_id"] for h in DESCRIPTION["hosts"] if h["name"] == "compute2")


@pytest.fixture
def store(tmp_path):
    facts = recorded_facts()
    store = EmbeddedStore(tmp_path / "inventory.db")
    run_scan("lab", facts, store)
    return store


def go_event(object_id, status, output="", executed=1_790_000_000):
    labels = {"calipso_object_id": object_id, "calipso_object_type": "vedge",
              "calipso_environment": "lab"}
    return {"entity": {"entity_class": "proxy", "metadata": {"name": "calipso-vedge-x",
                                                             "labels": labels}},
            "check": {"metadata": {"name": "calipso-vedge-x"}, "status": status,
                      "output": output, "executed": executed}}


def classic_event(object_id, status, output=""):
    return {"client": {"name": "calipso-vedge-x"},
            "check": {"name": "calipso-vedge-x", "status": status, "output": output,
                      "executed": 1_790_000_100, "calipso_object_id": object_id,
                      "calipso_object_type": "vedge", "calipso_environment": "lab"}}


def test_a_problem_is_one_message_counted_then_cleared(store):
    handle(json.dumps(go_event(VEDGE, 0, "CHECK_VEDGE OK")), store)
    for second in range(3):
        handle(json.dumps(go_event(VEDGE, 2, "CHECK_VEDGE CRITICAL - ovs-vswitchd down",
                                   1_790_000_060 + second)), store)
    [status] = statuses(store, "lab", VEDGE)
    assert status["status"] == "critical" and status["status_code"] == 2
    assert [h["status"] for h in status["history"]] == ["ok", "critical", "critical",
                                                        "critical"]
    [message] = messages(store, "lab", object_id=VEDGE)
    assert (message["severity"], message["count"], message["state"]) == ("critical", 3, "active")
    assert message["first_seen"] < message["last_seen"]
    report = handle(json.dumps(classic_event(VEDGE, 0, "CHECK_VEDGE OK")), store)
    assert report.startswith(f"recorded: {VEDGE} ok (changed)")
    [message] = messages(store, "lab", object_id=VEDGE)
    assert message["state"] == "cleared" and message["cleared_at"]
    assert statuses(store, "lab", VEDGE)[0]["status"] == "ok"


def test_a_change_of_severity_closes_the_old_message(store):
    handle(json.dumps(go_event(VEDGE, 1, "warning")), store)
    handle(json.dumps(go_event(VEDGE, 2, "critical", 1_790_000_001)), store)
    states = {m["severity"]: m["state"] for m in messages(store, "lab", object_id=VEDGE)}
    assert states == {"warning": "cleared", "critical": "active"}


def test_problems_within_one_second_each_get_their_message(store):
    """A warning then a critical, then OK and critical again, all stamped the same second."""
    for status in (1, 2, 0, 2):
        handle(json.dumps(go_event(VEDGE, status, f"status {status}")), store)
    found = sorted((m["severity"], m["state"]) for m in messages(store, "lab", object_id=VEDGE))
    assert found == [("critical", "active"), ("critical", "cleared"), ("warning", "cleared")]
    assert len({m["id"] for m in messages(store, "lab", object_id=VEDGE)}) == 3


def test_results_for_objects_gone_are_reported_not_recorded(store):
    report = handle(json.dumps(go_event("no-such-object", 2, "gone")), store)
    assert report.startswith("ignored: no-such-object is not in the inventory")
    assert statuses(store, "lab") == [] and messages(store, "lab") == []


@pytest.mark.parametrize("event, message", [
    ({}, "no check"),
    ({"check": {"name": "x", "status": 0}}, "names no Calipso object"),
    ({"check": {"name": "x", "status": "2", "calipso_object_id": "o",
                "calipso_environment": "lab"}}, "must be an integer"),
])
def test_bad_events_are_refused_clearly(event, message):
    with pytest.raises(BadEvent, match=message):
        parse_event(event)


def test_the_handler_command_reads_stdin(store, tmp_path):
    command = [str(Path(sys.executable).parent / "calipso-sensu-handler"),
               "--store", str(tmp_path / "inventory.db")]
    done = subprocess.run(command, input=json.dumps(go_event(VEDGE, 2, "down")),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and done.stdout.startswith(f"recorded: {VEDGE} critical")
    bad = subprocess.run(command, input="{not json", capture_output=True, text=True,
                         timeout=60, check=False)
    assert bad.returncode == 2 and "bad event: not JSON" in bad.stderr
