"""Scans on demand and scheduled scans through the API, with the discovery playbook replaced by a
fake (tests/api/conftest.py): a scan is started (202 and Location) and read from queued to its
outcome with each host's result; refusals answer their documented status and code (busy 409,
unknown host 400, unknown focal object 404, environment not configured 404, schedules' rules
400 with the reason); operators start and manage, viewers read, others see nothing."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from calipso_api.app import create_app
from calipso_core.ansible_run import HostOutcome, PlaybookRun
from calipso_core.scans import EnvironmentTarget, ScanService, Schedules
from tests.api.conftest import EDGE, LAB, LAB_HOSTS, SECRET, CheckedClient

SCANS = f"/environments/{LAB}/scans"
SCHEDULES = f"/environments/{LAB}/schedules"

Auth = Callable[[str], dict[str, str]]


def start(client: CheckedClient, headers: dict[str, str], body: dict[str, Any],
          environment: str = LAB) -> Any:
    return client.simulate_post(f"/environments/{environment}/scans", json=body,
                                headers=headers)


def test_a_started_scan_is_queued_then_shows_each_hosts_result(client, auth, discovery):
    operator, viewer = auth("lab-operator"), auth("lab-viewer")
    discovery.hold = True
    started = start(client, operator, {"hosts": ["compute2", "compute1"]})
    assert started.status_code == 202
    request = started.json
    assert started.headers["Location"] == f"{SCANS}/{request['id']}"
    assert (request["state"], request["requested_by"]) == ("queued", "lab-operator")
    assert request["scope"] == {"hosts": ["compute1", "compute2"], "focal_object": None}

    # Held in the discovery: a viewer sees it running, and nobody can start a second one.
    deadline = time.monotonic() + 10
    while client.simulate_get(started.headers["Location"], headers=viewer).json[
            "state"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    busy = start(client, operator, {})
    assert (busy.status_code, busy.json["code"]) == (409, "environment_busy")
    assert request["id"] in busy.json["detail"]

    discovery.release.set()
    done = client.until_done(viewer, started.headers["Location"])
    assert done["state"] == "succeeded" and done["error"] is None
    assert done["results"] == [{"host": "compute1", "status": "ok", "message": ""},
                               {"host": "compute2", "status": "ok", "message": ""}]
    assert done["generation"] == 1 and done["counts"]["objects"] == 5
    assert [call["limit"] for call in discovery.calls] == ["compute1,compute2"]

    listed = client.simulate_get(SCANS, headers=viewer).json
    assert (listed["total"], [r["id"] for r in listed["items"]]) == (1, [request["id"]])


def test_a_failed_host_is_shown_with_its_message_and_the_scans_error(client, auth, discovery):
    operator = auth("lab-operator")
    discovery.answer = lambda hosts: PlaybookRun("failed", {
        "controller": HostOutcome("ok", {}),
        "compute3": HostOutcome("unreachable", {"msg": "ssh: connect to host timed out"})}, {})
    location = start(client, operator, {"hosts": ["controller", "compute3"]}).headers["Location"]
    done = client.until_done(operator, location)
    assert done["state"] == "failed" and done["generation"] is None
    assert done["results"][0] == {"host": "compute3", "status": "unreachable",
                                  "message": "ssh: connect to host timed out"}
    assert "compute3 unreachable" in done["error"]


def test_nothing_secret_is_in_a_scan_request(client, auth, discovery):
    operator = auth("lab-operator")
    started = start(client, operator, {})
    done = client.until_done(operator, started.headers["Location"])
    # The discovery got the environment's extra variables; no answer shows them.
    assert discovery.calls[0]["extravars"] == {"cloud_password": SECRET}
    for answer in (started.text, str(done), client.simulate_get(SCANS, headers=operator).text):
        assert SECRET not in answer and "extravars" not in answer


def test_a_scan_of_a_focal_objects_clique_covers_its_hosts(client, auth, discovery, ids,
                                                           store):
    clique_hosts = sorted({host for clique in store.find("cliques", LAB,
                                                         {"focal_id": ids["instance"]})
                           for host in clique["hosts"]})
    started = start(client, auth("lab-operator"), {"focal_object": ids["instance"]})
    assert started.status_code == 202
    assert started.json["scope"] == {"hosts": clique_hosts, "focal_object": ids["instance"]}
    assert len(clique_hosts) >= 2  # a VM's clique reaches beyond its own host


@pytest.mark.parametrize(("body", "status", "code", "detail"), [
    ({"hosts": ["compute1", "nosuchhost"]}, 400, "unknown_hosts", "nosuchhost"),
    ({"focal_object": "no-such-object"}, 404, "unknown_focal_object", "no-such-object"),
    ({"hosts": ["compute1"], "focal_object": "web-1"}, 400, "invalid_request", "not both"),
    ({"hosts": []}, 400, "invalid_body", "hosts"),
    ({"hosts": "compute1"}, 400, "invalid_body", "hosts"),
    ({"limit": "compute1"}, 400, "invalid_body", "limit"),
])
def test_a_refused_scan_answers_its_code_and_starts_nothing(client, auth, discovery, body,
                                                            status, code, detail, unchanged):
    with unchanged():
        answer = start(client, auth("lab-operator"), body)
    assert (answer.status_code, answer.json["code"]) == (status, code)
    assert detail in answer.json["detail"]
    assert discovery.calls == []


def test_paused_scans_are_409_until_an_admin_resumes_them(client, auth, discovery, scans):
    operator, lab_admin = auth("lab-operator"), auth("lab-admin")
    assert client.simulate_patch(f"/environments/{LAB}", headers=lab_admin,
                                 json={"scans_paused": True}).status_code == 200
    paused = start(client, operator, {})
    assert (paused.status_code, paused.json["code"]) == (409, "scans_paused")
    assert scans.count(LAB) == 0 and discovery.calls == []
    client.simulate_patch(f"/environments/{LAB}", headers=lab_admin,
                          json={"scans_paused": False})
    resumed = start(client, operator, {})
    assert resumed.status_code == 202
    assert client.until_done(operator, resumed.headers["Location"])["state"] == "succeeded"


def test_an_environment_not_configured_for_scans_is_404_unknown_environment(client, auth):
    # "edge" is in the store, and the admin holds a role everywhere, but no inventory is set.
    answer = start(client, auth("admin"), {}, EDGE)
    assert (answer.status_code, answer.json["code"]) == (404, "unknown_environment")


@pytest.mark.parametrize(("user", "path", "status", "code"), [
    ("lab-viewer", SCANS, 403, "forbidden"),
    ("edge-viewer", SCANS, 404, "not_found"),
    ("edge-viewer", f"/environments/{EDGE}/scans", 403, "forbidden"),
    ("lab-operator", "/environments/nowhere/scans", 404, "not_found"),
    ("admin", "/environments/nowhere/scans", 404, "not_found"),
])
def test_only_an_operator_of_the_environment_starts_a_scan(client, auth, discovery, user,
                                                           path, status, code):
    answer = client.simulate_post(path, json={}, headers=auth(user))
    assert (answer.status_code, answer.json["code"]) == (status, code)
    assert discovery.calls == []


def test_reads_need_a_role_in_the_environment_and_a_scan_of_its_own(client, auth):
    location = start(client, auth("lab-operator"), {}).headers["Location"]
    scan_id = location.rpartition("/")[2]
    for user, path, status in (("edge-viewer", SCANS, 404), ("edge-viewer", location, 404),
                               ("lab-viewer", f"{SCANS}/nosuchscan", 404),
                               # a scan of lab is not found under another environment
                               ("admin", f"/environments/{EDGE}/scans/{scan_id}", 404),
                               ("lab-viewer", location, 200), (None, location, 401)):
        headers = auth(user) if user else {}
        assert client.simulate_get(path, headers=headers).status_code == status, (user, path)


def test_scans_are_paged_newest_first(client, auth, scans):
    operator = auth("lab-operator")
    made = []
    for host in LAB_HOSTS[:3]:
        request = start(client, operator, {"hosts": [host]}).json
        scans.wait(request["id"], timeout=10)
        made.append(request["id"])
    first = client.simulate_get(SCANS, params={"limit": "2"}, headers=operator).json
    rest = client.simulate_get(SCANS, params={"limit": "2", "offset": "2"}, headers=operator).json
    assert [r["id"] for r in first["items"] + rest["items"]] == made[::-1]
    assert (first["total"], rest["total"]) == (3, 3)
    bad = client.simulate_get(SCANS, params={"state": "running"}, headers=operator)
    assert (bad.status_code, bad.json["code"]) == (400, "invalid_parameter")


def test_without_a_scan_service_the_routes_answer_503(store, authenticator, tokens, auth):
    client = CheckedClient(create_app(store, authenticator, tokens))
    for method, path in (("POST", SCANS), ("GET", SCANS), ("GET", SCHEDULES),
                         ("POST", SCHEDULES), ("DELETE", f"{SCHEDULES}/x")):
        answer = client.simulate_request(method, path, headers=auth("lab-operator"),
                                         json={"rrule": "FREQ=DAILY"})
        assert (answer.status_code, answer.json["code"]) == (503, "scans_unavailable"), path


def test_an_unreadable_inventory_is_503_and_its_path_stays_in_the_log(
        store, authenticator, tokens, auth, discovery, tmp_path, caplog):
    missing = tmp_path / "gone" / "hosts.yml"
    scans = ScanService(store, {LAB: EnvironmentTarget(missing)}, discovery=discovery)
    client = CheckedClient(create_app(store, authenticator, tokens, None, scans,
                                      Schedules(store, scans)))
    answer = start(client, auth("lab-operator"), {"hosts": ["compute1"]})
    assert (answer.status_code, answer.json["code"]) == (503, "environment_unavailable")
    assert answer.headers["Retry-After"] and str(tmp_path) not in answer.text
    assert str(missing) in caplog.text
    assert discovery.calls == []


# Schedules


def create(client: CheckedClient, headers: dict[str, str], body: dict[str, Any]) -> Any:
    return client.simulate_post(SCHEDULES, json=body, headers=headers)


def test_schedules_are_created_read_disabled_and_deleted_by_an_operator(client, auth,
                                                                         discovery):
    operator, viewer = auth("lab-operator"), auth("lab-viewer")
    created = create(client, operator, {"rrule": "FREQ=HOURLY;INTERVAL=6",
                                        "hosts": ["compute1"]})
    assert created.status_code == 201
    schedule = created.json
    location = created.headers["Location"]
    assert location == f"{SCHEDULES}/{schedule['id']}"
    assert (schedule["enabled"], schedule["created_by"]) == (True, "lab-operator")
    assert schedule["scope"] == {"hosts": ["compute1"], "focal_object": None}
    assert schedule["next_run"] is not None and schedule["last_run"] is None

    assert client.simulate_get(location, headers=viewer).json == schedule
    listed = client.simulate_get(SCHEDULES, headers=viewer).json
    assert (listed["total"], listed["items"]) == (1, [schedule])

    disabled = client.simulate_patch(location, json={"enabled": False}, headers=operator)
    assert disabled.status_code == 200 and disabled.json["enabled"] is False
    assert client.simulate_get(location, headers=viewer).json["enabled"] is False

    assert client.simulate_delete(location, headers=operator).status_code == 204
    assert client.simulate_get(location, headers=viewer).status_code == 404
    assert client.simulate_delete(location, headers=operator).status_code == 404
    assert discovery.calls == []  # creating a schedule scans nothing: the scheduler does


@pytest.mark.parametrize(("rrule", "reason"), [
    ("FREQ=MINUTELY", "more often than every"),
    ("FREQ=DAILY;INTERVAL=0", "INTERVAL must be a positive integer"),
    ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "no occurrence"),
    ("DTSTART:20260101T020000\nFREQ=DAILY", "DTSTART must be in UTC"),
    ("INTERVAL=2", "no FREQ"),
    ("FREQ=DAILY;UNTIL=20200101T000000Z", "no occurrence"),
])
def test_a_schedules_rule_is_refused_with_the_reason(client, auth, rrule, reason, unchanged):
    with unchanged():
        answer = create(client, auth("lab-operator"), {"rrule": rrule})
    assert (answer.status_code, answer.json["code"]) == (400, "invalid_schedule")
    assert reason in answer.json["detail"]


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"rrule": "FREQ=DAILY", "hosts": ["nosuchhost"]}, 400, "unknown_hosts"),
    ({"rrule": "FREQ=DAILY", "focal_object": "nothing-here"}, 404, "unknown_focal_object"),
    ({"hosts": ["compute1"]}, 400, "invalid_body"),
    ({"rrule": "FREQ=DAILY", "enabled": "yes"}, 400, "invalid_body"),
])
def test_a_refused_schedule_answers_its_code(client, auth, body, status, code, unchanged):
    with unchanged():
        answer = create(client, auth("lab-operator"), body)
    assert (answer.status_code, answer.json["code"]) == (status, code)


def test_viewers_read_schedules_and_only_operators_change_them(client, auth):
    operator, viewer = auth("lab-operator"), auth("lab-viewer")
    location = create(client, operator, {"rrule": "FREQ=DAILY"}).headers["Location"]
    before = client.simulate_get(location, headers=viewer).json
    refused = [create(client, viewer, {"rrule": "FREQ=DAILY"}),
               client.simulate_patch(location, json={"enabled": False}, headers=viewer),
               client.simulate_delete(location, headers=viewer)]
    assert [(r.status_code, r.json["code"]) for r in refused] == [(403, "forbidden")] * 3
    assert client.simulate_get(location, headers=viewer).json == before
    assert client.simulate_get(SCHEDULES, headers=viewer).json["total"] == 1
    # No role in lab: the schedule does not exist for them.
    outsider = auth("edge-viewer")
    assert client.simulate_get(location, headers=outsider).status_code == 404
    assert client.simulate_delete(location, headers=outsider).status_code == 404
    assert client.simulate_get(location, headers=viewer).status_code == 200


def test_a_schedule_is_found_only_under_its_environment(client, auth):
    location = create(client, auth("lab-operator"), {"rrule": "FREQ=DAILY"}).headers["Location"]
    elsewhere = location.replace(f"/environments/{LAB}/", f"/environments/{EDGE}/")
    admin = auth("admin")
    assert client.simulate_patch(elsewhere, json={"enabled": False},
                                 headers=admin).status_code == 404
    assert client.simulate_delete(elsewhere, headers=admin).status_code == 404
    assert client.simulate_get(location, headers=admin).json["enabled"] is True
