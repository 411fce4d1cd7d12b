"""Clique and link types through the API: everyone with a role reads the model's, admins replace
or add one, validated by the model's own rules, kept per environment in the "types" records."""

from __future__ import annotations

import copy
import json

import pytest

from calipso_core.discovery.scan import run_scan
from calipso_core.model.types import load_registry
from tests.api.conftest import EDGE, LAB
from tests.recorded_lab import recorded_facts

ENV = f"/environments/{LAB}"
REGISTRY = load_registry()


@pytest.fixture
def admin(auth):
    return auth("lab-admin")


def entry(client, headers, kind, name, environment=LAB):
    result = client.simulate_get(f"/environments/{environment}/{kind}/{name}", headers=headers)
    assert result.status_code == 200, result.text
    return result.json


def put(client, headers, kind, name, definition, environment=LAB):
    return client.simulate_put(f"/environments/{environment}/{kind}/{name}", headers=headers,
                               json={"definition": definition})


def test_the_model_types_are_listed_with_their_definitions(client, auth):
    viewer = auth("lab-viewer")
    cliques = client.simulate_get(f"{ENV}/clique_types", headers=viewer,
                                  params={"limit": 1000}).json
    assert cliques["total"] == len(REGISTRY.clique_types)
    names = [item["name"] for item in cliques["items"]]
    assert names == sorted(c.entry for c in REGISTRY.clique_types)
    instance = next(item for item in cliques["items"] if item["name"] == "instance")
    assert instance["definition"]["focal_type"] == "instance" and not instance["edited"]
    links = client.simulate_get(f"{ENV}/link_types", headers=viewer, params={"limit": 5}).json
    assert links["total"] == len(REGISTRY.link_types) and len(links["items"]) == 5
    otep = entry(client, viewer, "link_types", "otep-otep")
    assert (otep["definition"]["source_type"], otep["definition"]["target_type"]) == \
        ("otep", "otep")
    missing = client.simulate_get(f"{ENV}/link_types/no-such-type", headers=viewer)
    assert missing.status_code == 404


def test_an_admin_replaces_a_clique_type_for_one_environment(client, admin, auth, store):
    definition = copy.deepcopy(entry(client, admin, "clique_types", "otep")["definition"])
    definition["description"] = "Tunnels only."
    definition["link_types"] = ["otep-otep"]
    result = put(client, admin, "clique_types", "otep", definition)
    assert result.status_code == 200
    assert result.json["edited"] and result.json["updated_by"] == "lab-admin"
    assert result.json["definition"] == definition
    assert entry(client, admin, "clique_types", "otep") == result.json
    # recorded in the store, for this environment only
    with store.transaction(write=False):
        [record] = store.records("types").find({})
    assert (record["environment"], record["kind"], record["name"]) == (LAB, "clique_types", "otep")
    assert json.loads(record["definition"]) == definition and record["updated_at"]
    other = entry(client, auth("admin"), "clique_types", "otep", environment=EDGE)
    assert not other["edited"] and other["definition"]["link_types"] != ["otep-otep"]


def otep_graph_link_types(client, headers, store, environment):
    otep = store.find("objects", environment, {"type": "otep"}, sort=[("id", 1)], limit=1)[0]
    result = client.simulate_get(f"/environments/{environment}/objects/{otep['id']}/clique/graph",
                                 headers=headers)
    assert result.status_code == 200, result.text
    return {edge["link_type"] for edge in result.json["edges"]}


def test_an_edit_shapes_the_environments_cliques_from_its_next_scan(client, admin, auth, store):
    shipped = otep_graph_link_types(client, admin, store, LAB)
    assert {"otep-otep", "vedge-otep"} <= shipped
    definition = copy.deepcopy(entry(client, admin, "clique_types", "otep")["definition"])
    definition["link_types"] = ["otep-otep"]
    assert put(client, admin, "clique_types", "otep", definition).status_code == 200
    # The stored cliques are the last scan's until the next one.
    assert otep_graph_link_types(client, admin, store, LAB) == shipped
    facts = recorded_facts()
    run_scan(LAB, facts, store)
    assert otep_graph_link_types(client, admin, store, LAB) == {"otep-otep"}
    run_scan(EDGE, facts, store)  # another environment keeps the model's clique type
    assert otep_graph_link_types(client, auth("admin"), store, EDGE) == shipped


def test_a_new_link_type_is_201_and_usable_by_a_new_clique_type(client, admin):
    link = {"source_type": "vnic", "target_type": "host_pnic", "description": "A test link.",
            "state": {"up_when": [{"field": "source.attributes.state", "equals": "up"}]}}
    created = put(client, admin, "link_types", "vnic-host_pnic", link)
    assert created.status_code == 201 and created.json["definition"] == link
    assert put(client, admin, "link_types", "vnic-host_pnic", link).status_code == 200
    clique = {"description": "A vnic and its NIC.", "focal_type": "vnic",
              "link_types": ["vnic-host_pnic"]}
    assert put(client, admin, "clique_types", "vnic", clique).status_code == 201


@pytest.mark.parametrize(("kind", "definition", "reason"), [
    ("link_types", {"source_type": "vnic", "target_type": "nothing", "description": "x",
                    "state": {"up_when": [{"field": "source.attributes.state", "equals": "up"}]}},
     "is not an object type"),
    ("link_types", {"source_type": "vnic", "target_type": "vnic", "description": "x",
                    "state": {"up_when": []}}, "up_when"),
    ("link_types", {"source_type": "vnic", "target_type": "vnic", "description": "x",
                    "state": {"up_when": [{"field": "link.state", "equals": "up"}]}},
     "link.state"),
    ("link_types", {"source_type": "vnic", "target_type": "vnic", "description": "x",
                    "state": {"up_when": [{"field": "source.attributes.nope", "equals": 1}]}},
     "not an attribute"),
    ("link_types", {"source_type": "vnic", "target_type": "vnic", "description": "x",
                    "state": {"up_when": [{"field": "x", "$where": "1"}]}}, "unknown keys"),
    ("clique_types", {"description": "x", "focal_type": "instance",
                      "link_types": ["otep-otep"]}, "touches neither"),
    ("clique_types", {"description": "x", "focal_type": "instance",
                      "link_types": ["instance-vnic"], "color": "red"}, "'color' was unexpected"),
    # Shapes the model's loader is not ready for (it expects YAML authors to write names as
    # strings): refused against the document's schema before the model sees them.
    ("link_types", {"source_type": {}, "target_type": "vnic", "description": "x",
                    "state": {"up_when": [{}]}}, "source_type"),
    ("clique_types", {"description": "x", "focal_type": ["instance"],
                      "link_types": ["instance-vnic"]}, "focal_type"),
    ("clique_types", {"description": " ", "focal_type": "instance",
                      "link_types": ["instance-vnic"]}, "description"),
])
def test_invalid_definitions_are_400_and_stored_nowhere(client, admin, kind, definition, reason,
                                                       unchanged):
    with unchanged():
        result = put(client, admin, kind, "broken", definition)
    assert result.status_code == 400 and result.json["code"] == "invalid_body"
    assert reason in result.json["detail"]
    assert "/tmp" not in result.json["detail"]  # the validation's scratch directory


def test_a_link_type_edit_that_breaks_a_clique_type_is_refused(client, admin, unchanged):
    definition = entry(client, admin, "link_types", "instance-vnic")["definition"]
    # instance-vnic joined to something else: the instance clique walk no longer reaches vnic
    broken = {**definition, "source_type": "host", "target_type": "host_pnic",
              "state": {"up_when": [{"field": "source.name", "equals": "x"}]}}
    with unchanged():
        result = put(client, admin, "link_types", "instance-vnic", broken)
    assert result.status_code == 400 and "clique_types" in result.json["detail"]


def test_only_admins_edit_types(client, auth, unchanged):
    definition = {"description": "x", "focal_type": "instance", "link_types": ["instance-vnic"]}
    with unchanged():
        for user in ("lab-viewer", "lab-operator"):
            result = put(client, auth(user), "clique_types", "instance", definition)
            assert result.status_code == 403 and result.json["code"] == "forbidden"
        hidden = put(client, auth("lab-admin"), "clique_types", "instance", definition,
                     environment=EDGE)
        assert hidden.status_code == 404


@pytest.mark.parametrize(("body", "headers", "status", "code"), [
    (b"{}", {}, 400, "invalid_body"),
    (b'{"definition": []}', {}, 400, "invalid_body"),
    (b'{"definition": {}, "name": "x"}', {}, 400, "invalid_body"),
    (b'{"definition": ', {}, 400, "invalid_body"),
    (b'{"definition": {"description": "x"}}', {"Content-Type": "text/yaml"}, 415,
     "unsupported_media_type"),
    (b'{"definition": {"description": "' + b"x" * 70_000 + b'"}}', {}, 413,
     "payload_too_large"),
    (b'{"definition": {"description": "x", "focal_type": "instance", "link_types": '
     b'["instance-vnic"], "restrict": {"vnic": ' + b"[" * 20_000 + b"]" * 20_000 + b"}}}",
     {}, 400, "invalid_body"),
])
def test_malformed_type_bodies(client, admin, body, headers, status, code, unchanged):
    with unchanged():
        result = client.simulate_put(f"{ENV}/clique_types/instance", body=body,
                                     headers={**admin, "Content-Type": "application/json",
                                              **headers})
    assert result.status_code == status and result.json["code"] == code


@pytest.mark.parametrize("levels", [3000, 400])
def test_deeply_nested_state_rules_are_400(client, admin, unchanged, levels):
    """Nested deeper than Python's recursion limit allows the JSON parser (3000), or the model's
    loader (400), within the body size limit (the text is built by hand: json.dumps could not
    nest it)."""
    condition = ('{"any": [' * levels + '{"field": "source.attributes.state", "equals": "up"}'
                 + "]}" * levels)
    body = ('{"definition": {"source_type": "vnic", "target_type": "vnic", "description": "x",'
            f' "state": {{"up_when": [{condition}]}}}}}}')
    assert len(body) < 64 * 1024
    with unchanged():
        result = client.simulate_put(f"{ENV}/link_types/deep", body=body,
                                     headers={**admin, "Content-Type": "application/json"})
    assert result.status_code == 400 and result.json["code"] == "invalid_body"


@pytest.mark.parametrize("name", ["-x", "a b", "x" * 101, "ünïcode", "a$b"])
def test_type_names_are_checked(client, admin, name, unchanged):
    definition = {"description": "x", "focal_type": "instance", "link_types": ["instance-vnic"]}
    with unchanged():
        result = put(client, admin, "clique_types", name, definition)
    assert result.status_code == 400 and result.json["code"] == "invalid_parameter"


def test_definitions_with_keys_mongodb_reads_as_operators_are_kept_as_data(client, admin):
    """Attribute names are an admin's: "$" or "." in them must not become query syntax."""
    link = {"source_type": "vnic", "target_type": "vnic", "description": "x",
            "attributes": {"$where": {"kind": "string", "description": "odd",
                                      "required": False},
                           "a.b": {"kind": "string", "description": "odd", "required": False}},
            "state": {"up_when": [{"field": "source.attributes.state", "equals": "up"}]}}
    result = put(client, admin, "link_types", "vnic-vnic", link)
    assert result.status_code == 201
    assert entry(client, admin, "link_types", "vnic-vnic")["definition"] == link
