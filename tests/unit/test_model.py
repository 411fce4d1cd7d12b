"""Calipso's model as data: the shipped types load and hold together, operators override them
without code changes, bad data is refused naming its file and entry, link states follow their
rules, and cliques hold exactly what their clique types walk to."""

from __future__ import annotations

import textwrap
from collections import Counter
from pathlib import Path

import pytest

from bench.cliques import synthetic_topology
from calipso_core.discovery.assemble import assemble
from calipso_core.model.cliques import compute_cliques
from calipso_core.model.state import RuleError, evaluate_state, parse_rule
from calipso_core.model.types import (
    SHIPPED_DIR,
    TYPES_DIR_ENV,
    TypeDataError,
    TypeLayer,
    load_registry,
)
from tests.recorded_lab import recorded_facts

REGISTRY = load_registry()
OVS_VXLAN = {"distribution": "openstack", "mechanism_drivers": ["openvswitch"],
             "type_drivers": ["vxlan"]}
# Fields the store adds to what builders produce.
STORE_FIELDS = {"source", "first_seen", "last_seen", "generation", "status", "project",
                "environment"}


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


# The shipped types


def test_shipped_types_load_and_reference_only_known_types():
    objects, links = REGISTRY.object_types, REGISTRY.link_types
    assert set(objects) == {"region", "project", "availability_zone", "host", "network", "port",
                            "instance", "vnic", "vservice", "vconnector", "vedge", "otep",
                            "host_pnic", "network_agent", "switch", "switch_pnic"}
    for object_type in objects.values():
        assert object_type.label and object_type.icon and object_type.description
        assert set(object_type.parents) <= {*objects, "environment"}
    assert {f.name for f in REGISTRY.common_fields} >= {
        "environment", "type", "id", "name", "host", "parent_type", "parent_id", "project",
        "attributes", "source", "first_seen", "generation", "status"}
    assert set(links) >= {"instance-vnic", "vnic-vconnector", "vconnector-vedge", "vnic-vedge",
                          "vedge-otep", "otep-otep", "otep-vconnector", "otep-host_pnic",
                          "vedge-host_pnic", "vconnector-host_pnic", "host_pnic-network",
                          "vservice-vnic", "host_pnic-switch_pnic", "switch_pnic-switch"}
    for name, link_type in links.items():
        assert name == f"{link_type.source_type}-{link_type.target_type}"
        assert link_type.state.up_when
    names = {c.name for c in REGISTRY.clique_types}
    assert names >= {"instance", "vservice", "network", "host_pnic", "otep"}
    for clique_type in REGISTRY.clique_types:
        assert clique_type.focal_type in objects
        assert set(clique_type.link_types) <= set(links)
        assert clique_type.stop_types <= set(objects)
    # Every clique type has a generic default.
    assert {c.name for c in REGISTRY.clique_types if not c.match} == names


def test_what_discovery_builds_from_lab_facts_fits_the_types():
    facts = recorded_facts()
    inventory = assemble("lab", facts)
    for obj in inventory.objects:
        problems = [p for p in REGISTRY.object_problems(obj)
                    if p.split(":")[0] not in STORE_FIELDS]
        assert problems == [], (obj["id"], problems)
    for link in inventory.links:
        problems = [p for p in REGISTRY.link_problems(link)
                    if p.split(":")[0] not in STORE_FIELDS]
        assert problems == [], (link["id"], problems)


def test_object_and_link_problems_name_the_field():
    vnic = {"environment": "e", "type": "vnic", "id": "h-tap1", "name": "tap1", "host": "h",
            "parent_type": "host", "parent_id": "h", "project": None, "source": ["host_facts"],
            "first_seen": "2026-01-01T00:00:00Z", "last_seen": "2026-01-01T00:00:00Z",
            "generation": 1, "status": "unknown", "attributes": {"side": "instance",
                                                                 "state": "up"}}
    assert REGISTRY.object_problems(vnic) == []
    bad = {**vnic, "status": "fine", "parent_type": "network",
           "attributes": {"side": "guest", "state": None, "mtu": "1500"}}
    assert sorted(REGISTRY.object_problems(bad)) == [
        "attributes.mtu: expected integer, got str",
        "attributes.side: 'guest' is not one of ['instance', 'vservice']",
        "parent_type: 'network' is not a parent of vnic (['host', 'instance', 'vservice'])",
        "status: 'fine' is not one of ['ok', 'warning', 'error', 'unknown']"]
    assert REGISTRY.object_problems({"type": "gadget"}) == [
        "type: unknown object type 'gadget'"]
    tunnel = {"environment": "e", "id": "otep-otep:a:b", "link_type": "otep-otep",
              "source_id": "a", "source_type": "otep", "target_id": "b", "target_type": "vnic",
              "host": None, "state": "sideways", "first_seen": "2026-01-01T00:00:00Z",
              "last_seen": "2026-01-01T00:00:00Z", "generation": 1,
              "attributes": {"hosts": ["h1", "h2"]}}
    assert REGISTRY.link_problems(tunnel) == [
        "state: 'sideways' is not one of ['up', 'down', 'unknown']", "attributes.ips: missing",
        "target_type: 'vnic', but otep-otep links otep to otep"]
    assert REGISTRY.link_problems({"link_type": "a-b"}) == ["link_type: unknown link type 'a-b'"]


def test_lookups_say_what_is_unknown():
    assert REGISTRY.object_type("otep").parents == ("host", "vedge")
    assert REGISTRY.link_type("otep-otep").source_type == "otep"
    with pytest.raises(KeyError, match="unknown link type 'vnic-otep'"):
        REGISTRY.link_type("vnic-otep")
    with pytest.raises(KeyError, match="unknown object type 'gadget'"):
        REGISTRY.object_type("gadget")


# Overrides


def test_override_adds_a_link_type_and_changes_a_clique_type(tmp_path, monkeypatch):
    write(tmp_path, "link_types.yaml", """
        link_types:
          vnic-host_pnic:
            source_type: vnic
            target_type: host_pnic
            description: An SR-IOV virtual function of a NIC given to an instance.
            state:
              up_when:
                - {field: target.attributes.state, equals: up}
        """)
    write(tmp_path, "clique_types.yaml", """
        clique_types:
          instance:
            description: An instance plugged into a NIC's virtual function.
            focal_type: instance
            link_types: [instance-vnic, vnic-host_pnic, host_pnic-switch_pnic]
          otep: null
        """)
    monkeypatch.setenv(TYPES_DIR_ENV, str(tmp_path))
    registry = load_registry()
    assert "vnic-host_pnic" in registry.link_types
    assert len(registry.link_types) == len(REGISTRY.link_types) + 1
    instance = next(c for c in registry.clique_types if c.entry == "instance")
    assert instance.link_types == ("instance-vnic", "vnic-host_pnic", "host_pnic-switch_pnic")
    assert "otep" not in {c.name for c in registry.clique_types}
    # The other shipped entries stand.
    assert {c.entry for c in registry.clique_types} == {
        c.entry for c in REGISTRY.clique_types} - {"otep"}

    objects = [obj("instance", "vm"), obj("vnic", "vf", side="instance", state="up"),
               obj("host_pnic", "eth3", state="up"), obj("switch_pnic", "port7")]
    links = [link("instance-vnic", "vm", "vf"), link("vnic-host_pnic", "vf", "eth3"),
             link("host_pnic-switch_pnic", "eth3", "port7")]
    cliques = compute_cliques("e", objects, links, registry.clique_types_for(OVS_VXLAN))
    vm_clique = next(c for c in cliques if c["id"] == "instance:vm")
    assert vm_clique["nodes"] == ["eth3", "port7", "vf", "vm"]


def test_override_argument_wins_and_replace_drops_the_shipped_file(tmp_path, monkeypatch):
    monkeypatch.setenv(TYPES_DIR_ENV, str(tmp_path / "elsewhere"))
    write(tmp_path, "clique_types.yaml", """
        replace: true
        clique_types:
          otep:
            description: Only the tunnels.
            focal_type: otep
            link_types: [otep-otep]
            stop_types: [otep]
        """)
    registry = load_registry(tmp_path)
    assert [c.entry for c in registry.clique_types] == ["otep"]
    assert registry.object_types == REGISTRY.object_types


@pytest.mark.parametrize(("file_name", "text", "message"), [
    ("link_types.yaml", "link_types:\n  a-b: {source_type: [unclosed\n",
     r"link_types.yaml: not valid YAML"),
    ("link_types.yaml", """
        link_types:
          vnic-gadget:
            source_type: vnic
            target_type: gadget
            description: A link to nothing known.
            state: {up_when: [{field: source.attributes.state, equals: up}]}
        """, r"link_types.yaml: link_types 'vnic-gadget': target_type 'gadget' is not an "
             r"object type"),
    ("link_types.yaml", """
        link_types:
          vnic-vedge:
            source_type: vnic
            target_type: vedge
            description: Two operators in one test.
            state: {up_when: [{field: source.attributes.state, equals: up, in: [up]}]}
        """, r"link_types.yaml: link_types 'vnic-vedge': up_when\[0\]: exactly one operator"),
    ("link_types.yaml", """
        link_types:
          vnic-vedge:
            source_type: vnic
            target_type: vedge
            description: An operator the vocabulary does not have.
            state: {up_when: [{field: source.attributes.state, matches: "u.*"}]}
        """, r"link_types.yaml: link_types 'vnic-vedge': up_when\[0\]: unknown keys \['matches'\]"),
    ("link_types.yaml", """
        link_types:
          vnic-vedge:
            source_type: vnic
            target_type: vedge
            description: A root that is none of link, source, target.
            state: {up_when: [{field: host.attributes.state, equals: up}]}
        """, r"'vnic-vedge': up_when\[0\]: field 'host.attributes.state' must be <root>"),
    ("link_types.yaml", """
        link_types:
          vnic-vedge:
            source_type: vnic
            target_type: vedge
            description: A typo in an attribute.
            state: {up_when: [{field: source.attributes.stat, equals: up}]}
        """, r"'vnic-vedge': state: source.attributes.stat: 'stat' is not an attribute of vnic"),
    ("link_types.yaml", """
        link_types:
          vnic-vedge:
            source_type: vnic
            target_type: vedge
            description: A constant state.
            state: {up_when: []}
        """, r"'vnic-vedge': up_when must be a non-empty list"),
    ("link_types.yaml", """
        link_types:
          vnic-vedge:
            source_type: vnic
            target_type: vedge
            description: A state from itself.
            state: {up_when: [{field: link.state, equals: up}]}
        """, r"'vnic-vedge': state: a rule cannot read link.state"),
    ("object_types.yaml", """
        object_types:
          host: {label: Host, icon: host, description: Twice., id_from: name, parents: [region]}
          host: {label: Host, icon: host, description: Twice., id_from: name, parents: [region]}
        """, r"object_types.yaml: not valid YAML: .*'host' is given twice"),
    ("object_types.yaml", """
        object_types:
          rack:
            label: Rack
            icon: rack
            description: A parent that does not exist.
            id_from: name
            parents: [row]
        """, r"object_types.yaml: object_types 'rack': parents: unknown \['row'\]"),
    ("object_types.yaml", """
        object_types:
          rack: {label: Rack, icon: rack, description: x, id_from: name, parents: [environment],
                 fields: {height: {kind: float, description: In units.}}}
        """, r"object_types 'rack': field 'height': kind 'float' is not one of"),
    ("clique_types.yaml", """
        clique_types:
          instance:
            description: A link type the walk cannot reach.
            focal_type: instance
            link_types: [instance-vnic, otep-otep]
        """, r"clique_types 'instance': link_types: 'otep-otep' touches neither 'instance'"),
    ("clique_types.yaml", """
        clique_types:
          instance:
            description: An unknown link type.
            focal_type: instance
            link_types: [instance-vnic, vnic-wormhole]
        """, r"clique_types 'instance': link_types: unknown \['vnic-wormhole'\]"),
    ("clique_types.yaml", """
        clique_types:
          instance-again:
            clique_type: instance
            description: The same name and match as the shipped generic instance.
            focal_type: instance
            link_types: [instance-vnic]
        """, r"'instance-again': clique type 'instance' with the same match as entry 'instance'"),
    ("clique_types.yaml", """
        clique_types:
          network:
            description: A restricted type that is walked through.
            focal_type: instance
            link_types: [instance-vnic, vnic-vedge, vedge-host_pnic]
            restrict: {host_pnic: vnic.attributes.network_id}
        """, r"clique_types 'network': restrict 'host_pnic': a restricted type must be a stop"),
    ("clique_types.yaml", """
        clique_types:
          network:
            description: Restricted over a link type the clique does not walk.
            focal_type: instance
            link_types: [instance-vnic, vnic-vedge, vedge-otep]
            restrict: {otep: {named_by: vnic.attributes.network_otep_ids, via: otep-otep}}
        """, r"restrict 'otep': via 'otep-otep' is not a link type of this clique"),
    ("clique_types.yaml", "clique_types:\n  gadget: null\n",
     r"clique_types.yaml: clique_types 'gadget': null removes an entry, but there is no such"),
    ("clique_types.yaml", "cliques: {}\n", r"clique_types.yaml: unknown top-level keys"),
    # Keys YAML reads as numbers beside names: refused like any unknown key (they do not sort
    # among strings).
    ("clique_types.yaml", "1: x\nextra: y\n", r"unknown top-level keys \[1, 'extra'\]"),
    ("clique_types.yaml", """
        clique_types:
          gadget: {description: x, focal_type: instance, link_types: [instance-vnic], 5: a,
                   color: b}
        """, r"clique_types 'gadget': unknown keys \[5, 'color'\]"),
    ("link_types.yaml", """
        link_types:
          vnic-vnic:
            description: x
            source_type: vnic
            target_type: vnic
            state: {up_when: [{field: source.attributes.state, equals: up, 1: a, b: c}]}
        """, r"link_types 'vnic-vnic': .*unknown"),
])
def test_bad_data_is_refused_naming_file_and_entry(tmp_path, file_name, text, message):
    write(tmp_path, file_name, text)
    with pytest.raises(TypeDataError, match=message) as error:
        load_registry(tmp_path)
    assert str(tmp_path / file_name) in str(error.value)


def test_layers_replace_add_and_remove_entries_over_the_files(tmp_path):
    write(tmp_path, "clique_types.yaml", """
        clique_types:
          vservice: null
        """)
    otep = {"description": "Tunnels only.", "focal_type": "otep", "link_types": ["otep-otep"]}
    vnic = {"description": "A vnic and its switch.", "focal_type": "vnic",
            "link_types": ["vnic-vedge"]}
    registry = load_registry(tmp_path, [
        TypeLayer("first", {"clique_types.yaml": {"clique_types": {"otep": otep}}}),
        TypeLayer("second", {"clique_types.yaml": {"clique_types": {"vnic": vnic,
                                                                    "network": None}}})])
    by_entry = {c.entry: c for c in registry.clique_types}
    assert by_entry["otep"].link_types == ("otep-otep",)
    assert by_entry["vnic"].focal_type == "vnic"
    assert not {"vservice", "network"} & set(by_entry)  # removed by the file, by a layer
    assert by_entry["instance"] == {c.entry: c for c in REGISTRY.clique_types}["instance"]


@pytest.mark.parametrize(("files", "message"), [
    ({"clique_types.yaml": {"clique_types": {"otep": {"description": "x", "focal_type": "otep",
                                                      "link_types": ["otep-gone"]}}}},
     r"^edits of lab: clique_types.yaml: clique_types 'otep': link_types: unknown"),
    ({"clique_types.yaml": {"link_types": {}}},
     r"^edits of lab: clique_types.yaml has no section 'link_types'"),
    ({"link_types.yaml": {"link_types": {"otep-otep": None, "vnic-vnic": None}}},
     r"^edits of lab: link_types.yaml: link_types 'vnic-vnic': null removes an entry, but"),
    ({"link_types.yaml": {"link_types": ["otep-otep"]}},
     r"^edits of lab: link_types.yaml: link_types must map names to definitions"),
])
def test_bad_layers_are_refused_naming_the_layer(files, message):
    with pytest.raises(TypeDataError, match=message):
        load_registry(None, [TypeLayer("edits of lab", files)])


def test_a_missing_override_directory_is_an_error(tmp_path):
    with pytest.raises(TypeDataError, match=f"{tmp_path / 'nope'}: the types override"):
        load_registry(tmp_path / "nope")


def test_the_shipped_files_are_where_the_registry_says():
    assert sorted(p.name for p in SHIPPED_DIR.glob("*.yaml")) == [
        "clique_types.yaml", "link_types.yaml", "object_types.yaml"]


# Link state


def state(link_type: str, link_attributes: dict | None, source: dict | None,
          target: dict | None) -> str:
    rule = REGISTRY.link_type(link_type).state
    return evaluate_state(rule, {"attributes": link_attributes or {}}, source, target)


def ends(**attributes) -> dict:
    return {"attributes": attributes, "status": "unknown"}


def test_instance_vnic_state_follows_nova_and_the_device():
    assert state("instance-vnic", {}, ends(status="ACTIVE"), ends(state="up")) == "up"
    # Host facts alone: Nova's status unknown, the device decides.
    assert state("instance-vnic", {}, ends(), ends(state="up")) == "up"
    assert state("instance-vnic", {}, ends(status="SHUTOFF"), ends(state="up")) == "down"
    assert state("instance-vnic", {}, ends(status="ACTIVE"), ends(state="down")) == "down"
    assert state("instance-vnic", {}, ends(status="ACTIVE"), ends(state=None)) == "unknown"
    assert state("instance-vnic", {}, ends(status="ACTIVE"), None) == "unknown"


def test_vnic_vedge_state_trusts_the_device_in_a_namespace_and_ovs_errors_win():
    instance_side, service_side = ends(side="instance", state="up"), ends(side="vservice",
                                                                          state="up")
    assert state("vnic-vedge", {"link_state": "up"}, instance_side, ends()) == "up"
    assert state("vnic-vedge", {"link_state": "down"}, instance_side, ends()) == "down"
    assert state("vnic-vedge", {}, instance_side, ends()) == "unknown"
    # OVS reports a device moved into a namespace as down; it is not.
    assert state("vnic-vedge", {"link_state": "down"}, service_side, ends()) == "up"
    assert state("vnic-vedge", {"link_state": "up", "error": "could not open network device"},
                 instance_side, ends()) == "down"


def test_otep_otep_state_needs_both_ends_towards_each_other():
    a = ends(local_ip="10.0.0.1", remote_ips=["10.0.0.2", "10.0.0.3"], address_configured=True)
    b = ends(local_ip="10.0.0.2", remote_ips=["10.0.0.1"])
    one_sided = ends(local_ip="10.0.0.2", remote_ips=["10.0.0.9"])
    assert state("otep-otep", {}, a, b) == "up"
    assert state("otep-otep", {}, a, one_sided) == "down"
    assert state("otep-otep", {"bfd_state": "down"}, a, b) == "down"
    assert state("otep-otep", {}, a, ends(local_ip="10.0.0.2", remote_ips=["10.0.0.1"],
                                          address_configured=False)) == "down"
    assert state("otep-otep", {}, a, ends(local_ip="10.0.0.2")) == "unknown"


def test_switch_port_state_from_lldp_ttl_and_monitoring():
    up_nic = ends(state="up")
    assert state("host_pnic-switch_pnic", {}, up_nic, ends(ttl=120)) == "up"
    # A TTL of 0 is the shutdown LLDPDU of a port going down.
    assert state("host_pnic-switch_pnic", {}, up_nic, ends(ttl=0)) == "down"
    assert state("host_pnic-switch_pnic", {}, up_nic, ends()) == "unknown"
    assert state("host_pnic-switch_pnic", {}, up_nic, ends(ttl="120s")) == "unknown"
    assert state("switch_pnic-switch", {}, ends(ttl=120), {"status": "error"}) == "down"
    assert state("switch_pnic-switch", {}, ends(ttl=120), {"status": "ok"}) == "up"


def test_rule_vocabulary():
    rule = parse_rule({
        "down_when": [{"field": "link.attributes.errors", "greater_than": 100}],
        "up_when": [
            {"field": "source.attributes.mode", "not_in": ["maintenance", "drain"]},
            {"field": "target.attributes.mtu", "less_than": 9001, "when_missing": True},
            {"field": "link.attributes.enabled", "equals": True},
            {"any": [{"field": "source.attributes.state", "equals": "UP"},
                     {"all": [{"field": "source.attributes.state", "not_equals": "down"},
                              {"field": "source.attributes.carrier", "present": True}]}]},
        ]})
    link = {"attributes": {"enabled": True, "errors": 3}}
    assert evaluate_state(rule, link, ends(mode="active", state="up"), ends()) == "up"
    # Strings compare case-insensitively; a flag never equals a number.
    assert evaluate_state(rule, link, ends(mode="ACTIVE", state="Up"), ends(mtu=1500)) == "up"
    assert evaluate_state(rule, {"attributes": {"enabled": 1}}, ends(mode="a", state="up"),
                          ends()) == "down"
    assert evaluate_state(rule, link, ends(mode="drain", state="up"), ends()) == "down"
    assert evaluate_state(rule, link, ends(mode="a", state="up"), ends(mtu=9001)) == "down"
    assert evaluate_state(rule, {"attributes": {"enabled": True, "errors": 101}},
                          ends(mode="a", state="up"), ends()) == "down"
    assert evaluate_state(rule, link, ends(mode="a", state="dormant", carrier=True),
                          ends()) == "up"
    assert evaluate_state(rule, link, ends(mode="a", state="dormant"), ends()) == "down"
    assert evaluate_state(rule, link, ends(state="up"), ends()) == "unknown"
    # Paths walk dict keys only: a path through anything else is a missing field.
    assert evaluate_state(rule, link, {"attributes": "mode=active state=up"}, ends()) == "unknown"


@pytest.mark.parametrize(("data", "message"), [
    ({"up_when": [{"field": "source.status", "in": "up"}]}, "in takes a non-empty list"),
    ({"up_when": [{"field": "source.status", "greater_than": "1"}]}, "takes a number"),
    ({"up_when": [{"field": "source.status", "equals": "up", "when_missing": "maybe"}]},
     "when_missing is true, false or unknown"),
    ({"up_when": [{"field": "source", "equals": "up"}]}, "must be <root>.<name>"),
    ({"up_when": [{"any": []}]}, r"up_when\[0\].any must be a non-empty list"),
    ({"up_when": [{"field": "source.status", "present": True, "when_missing": True}]},
     "present decides"),
    ({"down_when": []}, "up_when is required"),
    ("up", "state must be a mapping"),
])
def test_bad_rules_say_where(data, message):
    with pytest.raises(RuleError, match=message):
        parse_rule(data)


# Cliques


def obj(obj_type: str, obj_id: str, host: str | None = None, **attributes) -> dict:
    return {"id": obj_id, "type": obj_type, "name": obj_id, "host": host,
            "attributes": attributes, "status": "unknown"}


def link(link_type: str, source: str, target: str, host: str | None = None) -> dict:
    source_type, target_type = link_type.split("-")
    return {"id": f"{link_type}:{source}:{target}", "link_type": link_type, "source_id": source,
            "target_id": target, "source_type": source_type, "target_type": target_type,
            "host": host, "state": "up", "attributes": {}}


def two_hosts() -> tuple[list[dict], list[dict]]:
    """compute1: vm1 (net1) in the hybrid plug, and vm2 (net2) on the same OVS; network1: a
    DHCP namespace of net1 and vm3 (net2) plugged straight into OVS; a tunnel between them;
    each host's tunnel NIC on a port of one switch; compute1's eth2 on OVS, carrying ext."""
    objects = [
        obj("network", "net1"), obj("network", "net2"), obj("network", "ext"),
        obj("switch", "sw"), obj("switch_pnic", "sw-p1"), obj("switch_pnic", "sw-p2"),
        obj("instance", "vm1", "compute1"), obj("instance", "vm2", "compute1"),
        obj("vnic", "tap1", "compute1", network_id="net1"),
        obj("vnic", "tap2", "compute1", network_id="net2"),
        obj("vconnector", "qbr1", "compute1"), obj("vconnector", "qbr2", "compute1"),
        obj("vedge", "ovs1", "compute1"), obj("otep", "otep1", "compute1"),
        obj("host_pnic", "c1-eth1", "compute1"), obj("host_pnic", "c1-eth2", "compute1"),
        obj("vservice", "dhcp1", "network1"),
        obj("vnic", "dhcp1-tap", "network1", network_id="net1"),
        obj("instance", "vm3", "network1"), obj("vnic", "tap3", "network1", network_id="net2"),
        obj("vedge", "ovs2", "network1"), obj("otep", "otep2", "network1"),
        obj("host_pnic", "n1-eth1", "network1"),
    ]
    links = [
        link("instance-vnic", "vm1", "tap1"), link("vnic-vconnector", "tap1", "qbr1"),
        link("vconnector-vedge", "qbr1", "ovs1"),
        link("instance-vnic", "vm2", "tap2"), link("vnic-vconnector", "tap2", "qbr2"),
        link("vconnector-vedge", "qbr2", "ovs1"),
        link("vedge-otep", "ovs1", "otep1"), link("otep-host_pnic", "otep1", "c1-eth1"),
        link("vedge-host_pnic", "ovs1", "c1-eth2"),
        link("host_pnic-network", "c1-eth1", "net1"), link("host_pnic-network", "c1-eth1", "net2"),
        link("host_pnic-network", "c1-eth2", "ext"),
        link("otep-otep", "otep1", "otep2"),
        link("vedge-otep", "ovs2", "otep2"), link("otep-host_pnic", "otep2", "n1-eth1"),
        link("host_pnic-network", "n1-eth1", "net1"), link("host_pnic-network", "n1-eth1", "net2"),
        link("vservice-vnic", "dhcp1", "dhcp1-tap"), link("vnic-vedge", "dhcp1-tap", "ovs2"),
        link("instance-vnic", "vm3", "tap3"), link("vnic-vedge", "tap3", "ovs2"),
        link("host_pnic-switch_pnic", "c1-eth1", "sw-p1"),
        link("switch_pnic-switch", "sw-p1", "sw"),
        link("host_pnic-switch_pnic", "n1-eth1", "sw-p2"),
        link("switch_pnic-switch", "sw-p2", "sw"),
    ]
    return objects, links


def cliques_of(clique_types, objects_links=None) -> dict[str, dict]:
    objects, links = objects_links or two_hosts()
    return {c["id"]: c for c in compute_cliques("lab", objects, links, clique_types)}


def test_instance_clique_is_its_path_on_its_host_and_nothing_of_other_vms():
    clique = cliques_of(REGISTRY.clique_types_for(OVS_VXLAN))["instance:vm1"]
    assert clique == {
        "environment": "lab", "id": "instance:vm1", "clique_type": "instance",
        "focal_type": "instance", "focal_id": "vm1",
        "nodes": ["c1-eth1", "c1-eth2", "net1", "otep1", "ovs1", "qbr1", "tap1", "vm1"],
        "links": sorted(["instance-vnic:vm1:tap1", "vnic-vconnector:tap1:qbr1",
                         "vconnector-vedge:qbr1:ovs1", "vedge-otep:ovs1:otep1",
                         "otep-host_pnic:otep1:c1-eth1", "vedge-host_pnic:ovs1:c1-eth2",
                         "host_pnic-network:c1-eth1:net1"]),
        "hosts": ["compute1"]}


def test_vservice_clique_reaches_its_network_not_the_vms_on_its_switch():
    clique = cliques_of(REGISTRY.clique_types_for(OVS_VXLAN))["vservice:dhcp1"]
    assert clique["nodes"] == ["dhcp1", "dhcp1-tap", "n1-eth1", "net1", "otep2", "ovs2"]
    assert clique["links"] == sorted([
        "vservice-vnic:dhcp1:dhcp1-tap", "vnic-vedge:dhcp1-tap:ovs2", "vedge-otep:ovs2:otep2",
        "otep-host_pnic:otep2:n1-eth1", "host_pnic-network:n1-eth1:net1"])
    assert clique["hosts"] == ["network1"]


def test_otep_clique_holds_the_tunnel_and_the_remote_endpoint_but_not_its_host():
    clique = cliques_of(REGISTRY.clique_types_for(OVS_VXLAN))["otep:otep1"]
    assert clique["nodes"] == ["c1-eth1", "otep1", "otep2", "ovs1", "sw", "sw-p1"]
    assert "otep-otep:otep1:otep2" in clique["links"]
    assert clique["hosts"] == ["compute1", "network1"]


def test_network_and_host_pnic_cliques_stop_where_they_should():
    cliques = cliques_of(REGISTRY.clique_types_for(OVS_VXLAN))
    assert cliques["network:net2"]["nodes"] == [
        "c1-eth1", "n1-eth1", "net2", "otep1", "otep2", "sw", "sw-p1", "sw-p2"]
    # The tunnel NIC's otep is left into its tunnels; the remote otep (2 away) is not left.
    assert cliques["host_pnic:c1-eth1"]["nodes"] == [
        "c1-eth1", "net1", "net2", "otep1", "otep2", "sw", "sw-p1"]
    assert cliques["host_pnic:c1-eth1"]["hosts"] == ["compute1", "network1"]


def test_stop_types_keep_a_walk_out_of_unrelated_vms(tmp_path):
    # A network clique that goes on from the NICs' switches towards vnics and instances.
    deep = """
        clique_types:
          network:
            description: A network and what hangs off the switches carrying it.
            focal_type: network
            link_types: [host_pnic-network, otep-host_pnic, vedge-otep, vconnector-vedge,
                         vnic-vconnector, vnic-vedge, instance-vnic]
            stop_types: [{stop}]
        """
    leaking = cliques_of(load_registry(write(tmp_path, "clique_types.yaml", deep.format(
        stop="")).parent).clique_types_for(OVS_VXLAN))["network:net1"]
    assert {"vm1", "vm2", "vm3"} <= set(leaking["nodes"])
    stopped = cliques_of(load_registry(write(tmp_path, "clique_types.yaml", deep.format(
        stop="vedge")).parent).clique_types_for(OVS_VXLAN))["network:net1"]
    assert stopped["nodes"] == ["c1-eth1", "n1-eth1", "net1", "otep1", "otep2", "ovs1", "ovs2"]


def test_max_depth_bounds_the_walk(tmp_path):
    objects, links = two_hosts()
    objects.append(obj("otep", "otep3", "compute2"))
    links.append(link("otep-otep", "otep2", "otep3"))
    # The shipped host_pnic clique leaves the NIC's otep (1 away) into its tunnels, but not the
    # remote otep (2 away) into the remote host's tunnels.
    shipped = cliques_of(REGISTRY.clique_types_for(OVS_VXLAN), (objects, links))
    assert "otep3" not in shipped["host_pnic:c1-eth1"]["nodes"]
    write(tmp_path, "clique_types.yaml", """
        clique_types:
          host_pnic:
            description: Unbounded, it runs along the mesh of tunnels.
            focal_type: host_pnic
            link_types: [otep-host_pnic, otep-otep]
        """)
    unbounded = cliques_of(load_registry(tmp_path).clique_types_for(OVS_VXLAN), (objects, links))
    assert unbounded["host_pnic:c1-eth1"]["nodes"] == ["c1-eth1", "otep1", "otep2", "otep3"]


def test_cliques_are_deterministic_and_a_dangling_link_still_counts():
    objects, links = two_hosts()
    forward = compute_cliques("lab", objects, links, REGISTRY.clique_types_for(OVS_VXLAN))
    backward = compute_cliques("lab", objects[::-1], links[::-1],
                               REGISTRY.clique_types_for(OVS_VXLAN))
    assert forward == backward
    assert [c["id"] for c in forward] == sorted(c["id"] for c in forward)
    # A vnic whose object is missing (a partial scan) is still on its instance's path.
    objects = [o for o in objects if o["id"] != "tap1"]
    clique = cliques_of(REGISTRY.clique_types_for(OVS_VXLAN), (objects, links))["instance:vm1"]
    assert "tap1" in clique["nodes"]
    assert clique["hosts"] == ["compute1"]


def test_one_entry_per_clique_type_name():
    instance = [c for c in REGISTRY.clique_types if c.name == "instance"]
    with pytest.raises(ValueError, match="one entry per clique type name"):
        compute_cliques("lab", [], [], instance)


# Choosing clique types per environment


def chosen(properties: dict, registry=REGISTRY) -> dict[str, str]:
    return {c.name: c.entry for c in registry.clique_types_for(properties)}


def test_specific_clique_types_beat_the_generic_default():
    assert chosen(OVS_VXLAN)["instance"] == "instance"
    provider = chosen({"mechanism_drivers": ["openvswitch"], "type_drivers": ["vlan", "flat"]})
    assert provider["instance"] == "instance-provider"
    assert provider["vservice"] == "vservice-provider"
    assert provider["otep"] == "otep"
    # The provider entry applies only when every type driver in use is VLAN or flat.
    assert chosen({"type_drivers": ["vlan", "vxlan"]})["instance"] == "instance"
    assert chosen({"type_drivers": "VLAN"})["instance"] == "instance-provider"
    assert chosen({})["instance"] == "instance"


def test_the_most_specific_match_wins_and_ties_are_errors(tmp_path):
    write(tmp_path, "clique_types.yaml", """
        clique_types:
          instance-vpp:
            clique_type: instance
            description: VPP on VLAN.
            match: {mechanism_drivers: vpp, type_drivers: [vlan]}
            focal_type: instance
            link_types: [instance-vnic, vnic-vconnector, vconnector-vedge]
          instance-rdo:
            clique_type: instance
            description: One distribution.
            match: {distribution: [rdo]}
            focal_type: instance
            link_types: [instance-vnic]
        """)
    registry = load_registry(tmp_path)
    assert chosen({"mechanism_drivers": ["vpp"], "type_drivers": ["vlan"],
                   "distribution": "rdo"}, registry)["instance"] == "instance-vpp"
    assert chosen({"mechanism_drivers": ["vpp"], "type_drivers": ["vxlan"],
                   "distribution": "RDO"}, registry)["instance"] == "instance-rdo"
    assert chosen({"mechanism_drivers": ["openvswitch"]}, registry)["instance"] == "instance"
    with pytest.raises(TypeDataError, match=r"entries \['instance-provider', 'instance-rdo'\] "
                                            "apply equally"):
        registry.clique_types_for({"distribution": "rdo", "type_drivers": ["vlan"]})


# Scale


def test_scale_counts_on_200_hosts():
    objects, links = synthetic_topology(hosts=200, vms_per_host=20, tunnel_peers=10,
                                        networks=200)
    by_id = {o["id"]: o for o in objects}
    cliques = compute_cliques("bench", objects, links, REGISTRY.clique_types_for(OVS_VXLAN))
    counts = Counter(c["clique_type"] for c in cliques)
    focal_counts = Counter(o["type"] for o in objects)
    assert counts == {"instance": 4000, "vservice": focal_counts["vservice"],
                      "network": focal_counts["network"], "host_pnic": 600, "otep": 200}
    for clique in cliques:
        nodes = clique["nodes"]
        if clique["clique_type"] == "instance":
            vnics = [n for n in nodes if by_id[n]["type"] == "vnic"]
            networks = {by_id[v]["attributes"]["network_id"] for v in vnics}
            # vm, 2 x (vnic, qbr), ovs, otep, eth1, eth2, and the vnics' own networks
            assert len(vnics) == 2
            assert len(nodes) == 9 + len(networks)
            assert {n for n in nodes if by_id[n]["type"] == "network"} == networks
            assert [n for n in nodes if by_id[n]["type"] == "instance"] == [clique["focal_id"]]
            assert len(clique["links"]) == 9 + len(networks)
            assert clique["hosts"] == [by_id[clique["focal_id"]]["host"]]
        elif clique["clique_type"] == "otep":
            # itself, 10 peers, ovs, eth1, its switch port and switch
            assert len(nodes) == 15
            assert len(clique["links"]) == 14
