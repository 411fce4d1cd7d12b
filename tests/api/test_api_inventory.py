"""Environments, objects, links, cliques and clique graphs read through the API: filters, paging,
roles per environment, strict query strings and literal filter values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from calipso_core.discovery.scan import run_scan
from tests.api.conftest import DESCRIPTION, EDGE, LAB
from tests.recorded_lab import recorded_facts, without_vm

ENV = f"/environments/{LAB}"


@pytest.fixture
def admin(auth):
    return auth("admin")


def items(client, headers, path, **params):
    result = client.simulate_get(path, headers=headers, params=params)
    assert result.status_code == 200, result.text
    return result.json


def ids_of(page):
    return [item["id"] for item in page["items"]]


# Environments and roles


def test_environments_are_those_the_user_holds_a_role_in(client, auth, store):
    assert [e["name"] for e in items(client, auth("admin"), "/environments")["items"]] == \
        [EDGE, LAB]
    viewer = items(client, auth("lab-viewer"), "/environments")
    assert viewer["total"] == 1
    [lab] = viewer["items"]
    assert lab["name"] == LAB and lab["role"] == "viewer"
    assert lab["counts"] == {kind: store.count(kind, LAB)
                             for kind in ("objects", "links", "cliques")}
    assert lab["last_scan"]["state"] == "committed"
    assert lab["scans_configured"]  # tests/api/conftest.py configures scans of lab only
    edge = items(client, auth("admin"), "/environments")["items"][0]
    assert edge["name"] == EDGE and not edge["scans_configured"]
    assert "owner" not in lab["last_scan"] and "heartbeat" not in lab["last_scan"]


def test_an_environment_without_a_role_answers_as_one_that_does_not_exist(client, auth):
    viewer = auth("lab-viewer")
    hidden = client.simulate_get(f"/environments/{EDGE}/objects", headers=viewer)
    missing = client.simulate_get("/environments/nowhere/objects", headers=viewer)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json["code"] == missing.json["code"] == "not_found"
    assert hidden.json["detail"].replace(EDGE, "X") == missing.json["detail"].replace(
        "nowhere", "X")
    for path in ("", "/links", "/cliques", "/status", "/messages", "/clique_types",
                 "/link_types", "/objects/x", "/objects/x/status", "/objects/x/clique/graph"):
        assert client.simulate_get(f"/environments/{EDGE}{path}",
                                   headers=viewer).status_code == 404, path


def test_one_environment(client, auth, store):
    env = items(client, auth("edge-viewer"), f"/environments/{EDGE}")
    assert env["name"] == EDGE and env["role"] == "viewer"
    assert env["counts"]["objects"] == store.count("objects", EDGE)
    assert env["last_scan"]["generation"] == 1


def test_a_new_environment_has_default_settings(client, auth):
    env = items(client, auth("lab-viewer"), ENV)
    assert env["settings"] == {"description": "", "labels": {}, "scans_paused": False,
                               "updated_by": None, "updated_at": None}


def test_an_admin_of_the_environment_changes_its_settings(client, auth):
    lab_admin = auth("lab-admin")
    labels = {"site": "par-2", "owner.team": "noc/core"}
    changed = client.simulate_patch(ENV, headers=lab_admin, json={
        "description": "Paris lab", "labels": labels})
    assert changed.status_code == 200, changed.text
    settings = changed.json["settings"]
    assert (settings["description"], settings["labels"], settings["scans_paused"]) == \
        ("Paris lab", labels, False)
    assert settings["updated_by"] == "lab-admin" and settings["updated_at"]
    # Given settings replace theirs, the others stay; every reader sees them.
    client.simulate_patch(ENV, headers=lab_admin, json={"scans_paused": True})
    seen = items(client, auth("lab-viewer"), "/environments")["items"][0]["settings"]
    assert (seen["description"], seen["labels"], seen["scans_paused"]) == \
        ("Paris lab", labels, True)
    # Another environment keeps its own.
    assert items(client, auth("admin"), f"/environments/{EDGE}")["settings"]["labels"] == {}


@pytest.mark.parametrize(("user", "status"), [("lab-viewer", 403), ("lab-operator", 403),
                                              ("edge-viewer", 404)])
def test_only_admins_change_settings(client, auth, user, status, unchanged):
    with unchanged():
        result = client.simulate_patch(ENV, headers=auth(user), json={"scans_paused": True})
    assert result.status_code == status


@pytest.mark.parametrize("body", [
    {}, {"scans_paused": "yes"}, {"owner": "x"}, {"labels": {"$where": "1"}},
    {"labels": {"a.b": 1}}, {"labels": {"k": "v" * 257}}, {"description": "d" * 1001},
    {"labels": {f"k{i}": "v" for i in range(33)}}, {"updated_by": "mallory"},
])
def test_malformed_settings_are_400_and_change_nothing(client, auth, body, unchanged):
    with unchanged():
        result = client.simulate_patch(ENV, headers=auth("lab-admin"), json=body)
    assert (result.status_code, result.json["code"]) == (400, "invalid_body")


# Objects


def test_objects_are_paged_by_id_with_the_total(client, admin, store):
    everything = sorted(o["id"] for o in store.find("objects", LAB))
    first = items(client, admin, f"{ENV}/objects", limit=10)
    assert (first["total"], first["limit"], first["offset"]) == (len(everything), 10, 0)
    assert ids_of(first) == everything[:10]
    seen = []
    for offset in range(0, len(everything), 30):
        seen += ids_of(items(client, admin, f"{ENV}/objects", limit=30, offset=offset))
    assert seen == everything
    assert items(client, admin, f"{ENV}/objects")["limit"] == 100


def test_a_page_past_the_end_and_an_empty_result_are_empty_lists(client, admin):
    past = items(client, admin, f"{ENV}/objects", offset=100_000)
    assert past["items"] == [] and past["total"] > 0
    none = items(client, admin, f"{ENV}/objects", type="no-such-type")
    assert none == {"items": [], "total": 0, "limit": 100, "offset": 0}


@pytest.mark.parametrize(("param", "field"), [
    ("type", "type"), ("host", "host"), ("name", "name"), ("id", "id"),
    ("parent", "parent_id"), ("project", "project")])
def test_each_object_filter_matches_its_field_exactly(client, admin, store, param, field):
    sample = store.find("objects", LAB, {field: {"$ne": None}}, sort=[("id", -1)], limit=1)[0]
    page = items(client, admin, f"{ENV}/objects", **{param: sample[field]})
    expected = sorted(o["id"] for o in store.find("objects", LAB, {field: sample[field]}))
    assert ids_of(page) == expected and page["total"] == len(expected)
    assert sample["id"] in expected


def test_filters_combine(client, admin, ids, store):
    page = items(client, admin, f"{ENV}/objects", type="vnic", host=ids["host"])
    expected = sorted(o["id"] for o in store.find("objects", LAB,
                                                  {"type": "vnic", "host": ids["host"]}))
    assert ids_of(page) == expected and ids["vnic"] in expected
    assert all(o["type"] == "vnic" and o["host"] == ids["host"] for o in page["items"])


def test_the_network_filter_finds_what_is_on_the_network_and_the_network(client, admin, ids):
    page = items(client, admin, f"{ENV}/objects", network=ids["network"])
    found = {o["id"]: o for o in page["items"]}
    assert {ids["network"], ids["port"], ids["vnic"]} <= set(found)
    assert {o["type"] for o in found.values()} >= {"network", "port", "vnic"}
    assert all(o["attributes"].get("network_id") == ids["network"]
               for i, o in found.items() if i != ids["network"])


def test_q_searches_names_as_a_literal_substring_in_any_case(client, admin, store):
    web = items(client, admin, f"{ENV}/objects", q="WEB-")
    names = sorted(o["name"] for o in web["items"])
    assert names == sorted(o["name"] for o in store.find("objects", LAB)
                           if "web-" in o["name"].lower())
    assert "web-1" in names and "webshop" not in names
    assert items(client, admin, f"{ENV}/objects", q=".*")["total"] == 0
    assert items(client, admin, f"{ENV}/objects", q="web-[12]")["total"] == 0


@pytest.mark.parametrize("query", [
    {"name": ".*"}, {"name": "^web"}, {"id": '{"$ne": null}'}, {"type": "{'$gt': ''}"},
    {"q": '"; return true; var x="'}, {"host": "this.host"}])
def test_filter_values_are_matched_literally(client, admin, query, unchanged):
    with unchanged():
        assert items(client, admin, f"{ENV}/objects", **query)["total"] == 0


@pytest.mark.parametrize("query_string", [
    "type[$ne]=x", "type[$where]=1", "$where=1", "name[$regex]=.*", "filter=%7B%7D",
    "type=vnic&type=host", "type=", "limit=0", "limit=1001", "limit=-1", "limit=ten",
    "limit=1.5", "limit=%201", "limit=%D9%A1", "offset=-1", "offset=99999999999999",
    "limit=1&limit=2", "q=" + "x" * 257, "unknown=1"])
def test_malformed_query_strings_are_400(client, admin, query_string, unchanged):
    with unchanged():
        result = client.simulate_get(f"{ENV}/objects", headers=admin, query_string=query_string)
    assert result.status_code == 400, query_string
    assert result.json["code"] == "invalid_parameter"


def test_one_object_and_a_missing_one(client, admin, ids, store):
    result = client.simulate_get(f"{ENV}/objects/{ids['instance']}", headers=admin)
    assert result.status_code == 200
    assert result.json == store.get("objects", LAB, ids["instance"])
    missing = client.simulate_get(f"{ENV}/objects/nothing-here", headers=admin)
    assert missing.status_code == 404 and missing.json["code"] == "not_found"


def test_ids_with_slashes_and_stored_times_are_served(client, admin, store):
    """A VPP host NIC's id holds its interface's name, slashes included; a time stored as a BSON
    date (the model's timestamp kind allows it) is answered as ISO 8601 UTC."""
    run = store.begin_scan("vpp")
    nic = {"id": "compute9-GigabitEthernet0/8/0", "type": "host_pnic", "name": "Gig0/8/0",
           "host": "compute9", "parent_type": "host", "parent_id": "compute9", "project": None,
           "source": ["vpp_facts"],
           "attributes": {"link_changed": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)}}
    with run:
        run.write("objects", [nic])
    for path in ("compute9-GigabitEthernet0/8/0", "compute9-GigabitEthernet0%2F8%2F0"):
        result = client.simulate_get(f"/environments/vpp/objects/{path}", headers=admin)
        assert result.status_code == 200 and result.json["id"] == nic["id"]
        assert result.json["attributes"] == {"link_changed": "2026-01-02T03:04:05.000000Z"}
    status = client.simulate_get(f"/environments/vpp/objects/{nic['id']}/status", headers=admin)
    assert status.json == {"object_id": nic["id"], "object_type": "host_pnic", "status": None,
                           "checks": []}


# Links and cliques


@pytest.mark.parametrize("field", ["link_type", "source_id", "target_id", "host", "state"])
def test_each_link_filter_matches_its_field(client, admin, store, field):
    sample = store.find("links", LAB, {field: {"$ne": None}}, sort=[("id", 1)], limit=1)[0]
    page = items(client, admin, f"{ENV}/links", **{field: sample[field]})
    expected = sorted(x["id"] for x in store.find("links", LAB, {field: sample[field]}))
    assert ids_of(page) == expected and sample["id"] in expected


def test_links_by_state_and_one_link(client, admin, store):
    assert items(client, admin, f"{ENV}/links", state="down")["total"] == 0
    assert items(client, admin, f"{ENV}/links", state="up")["total"] == store.count("links", LAB)
    result = client.simulate_get(f"{ENV}/links", headers=admin, params={"state": "sideways"})
    assert result.status_code == 400
    link = store.find("links", LAB, {"link_type": "otep-otep"}, limit=1)[0]
    one = client.simulate_get(f"{ENV}/links/{link['id']}", headers=admin)
    assert one.status_code == 200 and one.json == link


def test_cliques_by_focal_object_and_one_clique(client, admin, ids, store):
    page = items(client, admin, f"{ENV}/cliques", focal_id=ids["instance"])
    [clique] = page["items"]
    assert clique["id"] == f"instance:{ids['instance']}" and ids["vnic"] in clique["nodes"]
    instances = items(client, admin, f"{ENV}/cliques", focal_type="instance", limit=1000)
    assert instances["total"] == store.count("cliques", LAB, {"focal_type": "instance"}) == 7
    one = client.simulate_get(f"{ENV}/cliques/{clique['id']}", headers=admin)
    assert one.status_code == 200 and one.json == clique


def test_a_clique_graph_is_its_objects_and_links_ready_to_draw(client, admin, ids, store):
    graph = items(client, admin, f"{ENV}/objects/{ids['instance']}/clique/graph")
    clique = store.get("cliques", LAB, f"instance:{ids['instance']}")
    assert (graph["clique_id"], graph["clique_type"], graph["focal_id"]) == \
        (clique["id"], "instance", ids["instance"])
    assert graph["clique_types"] == ["instance"]
    nodes = {node["id"]: node for node in graph["nodes"]}
    assert set(nodes) == set(clique["nodes"])
    vm = nodes[ids["instance"]]
    assert (vm["type"], vm["name"], vm["host"]) == ("instance", "web-1", ids["host"])
    assert {edge["id"] for edge in graph["edges"]} == set(clique["links"])
    for edge in graph["edges"]:
        assert edge["source"] in nodes and edge["target"] in nodes
        link = store.get("links", LAB, edge["id"])
        assert (edge["source"], edge["target"], edge["link_type"], edge["state"]) == \
            (link["source_id"], link["target_id"], link["link_type"], link["state"])


def test_clique_graph_choices_and_misses(client, admin, ids):
    path = f"{ENV}/objects/{ids['instance']}/clique/graph"
    assert items(client, admin, path, clique_type="instance")["clique_type"] == "instance"
    other = client.simulate_get(path, headers=admin, params={"clique_type": "network"})
    assert other.status_code == 404 and other.json["code"] == "not_found"
    not_focal = client.simulate_get(f"{ENV}/objects/{ids['port']}/clique/graph", headers=admin)
    assert not_focal.status_code == 404
    bad = client.simulate_get(path, headers=admin, params={"focal": "x"})
    assert bad.status_code == 400


def test_a_graph_read_again_after_a_scan_is_the_new_generations(client, admin, store):
    server = next(s for s in DESCRIPTION["servers"] if s["layout"] == "ovs-native")
    path = f"{ENV}/objects/{server['id']}/clique/graph"
    assert items(client, admin, path) == items(client, admin, path)  # the second from the cache
    run_scan(LAB, without_vm(recorded_facts(), server), store)  # the VM was deleted
    gone = client.simulate_get(path, headers=admin)
    assert (gone.status_code, gone.json["code"]) == (404, "not_found")
