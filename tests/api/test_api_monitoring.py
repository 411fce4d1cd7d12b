"""Monitoring through the API, on results recorded by the Sensu handler (tests/api/conftest.py):
messages with their filters and acknowledgement, the environment's status summary, one object's
checks with their history."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from calipso_core.monitoring_results import messages as stored_messages
from tests.api.conftest import EPOCH, LAB

ENV = f"/environments/{LAB}"


def at(minute):
    """When the conftest's results of that minute were stamped (EPOCH + minute * 60)."""
    return datetime.fromtimestamp(EPOCH + 60 * minute, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def listed(client, headers, **params):
    result = client.simulate_get(f"{ENV}/messages", headers=headers, params=params)
    assert result.status_code == 200, result.text
    return result.json


def test_messages_newest_first_with_their_fields(client, auth, ids):
    page = listed(client, auth("lab-viewer"))
    assert page["total"] == 3
    assert [m["object_id"] for m in page["items"]] == [ids["host_pnic"], ids["vnic"],
                                                        ids["vedge"]]
    vedge = page["items"][2]
    assert (vedge["severity"], vedge["state"], vedge["count"]) == ("critical", "active", 3)
    assert vedge["check"] == f"calipso-vedge-{ids['vedge']}"
    assert vedge["acknowledged"] is False and vedge["acknowledged_by"] is None


@pytest.mark.parametrize(("params", "expected"), [
    ({"severity": "critical"}, {"vedge", "host_pnic"}),
    ({"severity": "warning"}, {"vnic"}),
    ({"state": "cleared"}, {"vnic"}),
    ({"state": "active", "severity": "critical"}, {"vedge", "host_pnic"}),
    ({"object_id": "<vedge>"}, {"vedge"}),
    ({"source": "calipso-vnic-<vnic>"}, {"vnic"}),
    # a message lives from first seen to cleared (the vnic's: minutes 4 to 5), or to now
    ({"since": at(5)}, {"vedge", "vnic", "host_pnic"}),
    ({"since": at(6)}, {"vedge", "host_pnic"}),
    ({"until": at(3)}, {"vedge"}),
    ({"since": at(4), "until": at(5)}, {"vedge", "vnic"}),
    ({"state": "cleared", "since": at(6)}, set()),
    ({"severity": "unknown"}, set()),
])
def test_message_filters(client, auth, ids, params, expected):
    params = {k: v.replace("<vedge>", ids["vedge"]).replace("<vnic>", ids["vnic"])
              for k, v in params.items()}
    page = listed(client, auth("lab-viewer"), **params)
    by_object = {ids[kind]: kind for kind in ("vedge", "vnic", "host_pnic")}
    assert {by_object[m["object_id"]] for m in page["items"]} == expected
    assert page["total"] == len(expected)


def test_time_bounds_take_any_offset_and_paging_applies(client, auth):
    viewer = auth("lab-viewer")
    # the vnic's message was cleared at minute 5, which is minute 65 on a +01:00 clock
    for minute, found in ((64, 1), (66, 0)):
        in_paris = at(minute).replace("Z", "+01:00")
        assert listed(client, viewer, since=in_paris, state="cleared")["total"] == found
    assert listed(client, viewer, since=at(64), state="cleared")["total"] == 0
    assert listed(client, viewer, since=at(4).lower(), state="cleared")["total"] == 1
    page = listed(client, viewer, limit=1, offset=1)
    assert page["total"] == 3 and len(page["items"]) == 1


@pytest.mark.parametrize("query_string", [
    "since=yesterday", "since=2026-13-01T00:00:00Z", "until=2026-11-21T25:00:00Z",
    f"since={at(5)}&until={at(4)}", "severity=fatal", "state=open", "object_id=",
    "severity[$ne]=ok", "source=a&source=b", "limit=0"])
def test_malformed_message_queries_are_400(client, auth, query_string):
    result = client.simulate_get(f"{ENV}/messages", headers=auth("lab-viewer"),
                                 query_string=query_string)
    assert result.status_code == 400 and result.json["code"] == "invalid_parameter"


def test_an_operator_acknowledges_a_message_once(client, auth, ids, store):
    [message] = stored_messages(store, LAB, object_id=ids["vedge"])
    path = f"{ENV}/messages/{message['id']}/acknowledge"
    result = client.simulate_post(path, headers=auth("lab-operator"))
    assert result.status_code == 200
    acked = result.json
    assert acked["acknowledged"] is True and acked["acknowledged_by"] == "lab-operator"
    assert acked["acknowledged_at"] and acked["id"] == message["id"]
    [stored] = stored_messages(store, LAB, object_id=ids["vedge"])
    assert (stored["acknowledged"], stored["acknowledged_by"]) == (True, "lab-operator")
    again = client.simulate_post(path, headers=auth("admin"))
    assert again.status_code == 200 and again.json == acked


def test_acknowledging_needs_an_operator_and_a_known_message(client, auth, ids, store,
                                                             unchanged):
    [message] = stored_messages(store, LAB, object_id=ids["vedge"])
    with unchanged():
        viewer = client.simulate_post(f"{ENV}/messages/{message['id']}/acknowledge",
                                      headers=auth("lab-viewer"))
        assert viewer.status_code == 403 and viewer.json["code"] == "forbidden"
        for message_id in ("no-such-message", '{"$ne": null}', ".*"):
            result = client.simulate_post(f"{ENV}/messages/{message_id}/acknowledge",
                                          headers=auth("lab-operator"))
            assert result.status_code == 404 and result.json["code"] == "not_found"
        other = client.simulate_post(f"/environments/edge/messages/{message['id']}/acknowledge",
                                     headers=auth("admin"))
        assert other.status_code == 404


def test_the_status_summary_counts_checks_per_status_and_type(client, auth):
    summary = client.simulate_get(f"{ENV}/status", headers=auth("lab-viewer")).json
    assert summary == {"environment": LAB, "checks": 3,
                       "by_status": {"critical": 2, "ok": 1},
                       "by_object_type": {"host_pnic": {"critical": 1}, "vedge": {"critical": 1},
                                          "vnic": {"ok": 1}},
                       "active_messages": 2}


def test_an_objects_status_is_its_checks_with_history(client, auth, ids):
    viewer = auth("lab-viewer")
    vedge = client.simulate_get(f"{ENV}/objects/{ids['vedge']}/status", headers=viewer).json
    assert vedge["object_type"] == "vedge" and vedge["status"] == "critical"
    [check] = vedge["checks"]
    assert [h["status"] for h in check["history"]] == ["ok", "critical", "critical", "critical"]
    assert check["since"] == at(1).replace("Z", ".000000Z")
    vnic = client.simulate_get(f"{ENV}/objects/{ids['vnic']}/status", headers=viewer).json
    assert vnic["status"] == "ok"
    quiet = client.simulate_get(f"{ENV}/objects/{ids['instance']}/status", headers=viewer).json
    assert quiet == {"object_id": ids["instance"], "object_type": "instance", "status": None,
                     "checks": []}
    missing = client.simulate_get(f"{ENV}/objects/nothing/status", headers=viewer)
    assert missing.status_code == 404
