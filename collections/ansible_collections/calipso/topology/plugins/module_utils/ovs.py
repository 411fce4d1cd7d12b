# -*- coding: utf-8 -*-
# Copyright: Calipso developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Open vSwitch state from OVSDB's JSON: the switch, bridges, ports, interfaces, controllers,
patch pairs and tunnels resolved, and optionally a per-bridge flow summary.

Everything structural comes from `ovs-vsctl --format=json list <table>`, which prints OVSDB's own
value encoding (["uuid", u], ["set", [...]], ["map", [[k, v]...]]); only the flow summary reads
text (`ovs-ofctl dump-flows`), because OpenFlow tables have no JSON dump.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.calipso.topology.plugins.module_utils.sources import CommandError

VSCTL = ["ovs-vsctl", "--timeout=5", "--format=json", "list"]
TABLES = ("Open_vSwitch", "Bridge", "Port", "Interface", "Controller")
TUNNEL_TYPES = ("vxlan", "geneve", "gre", "stt", "lisp", "erspan", "ip6gre", "gtpu", "bareudp")
FLOW_TABLE = re.compile(r"\btable=(\d+)")
FLOW_PACKETS = re.compile(r"\bn_packets=(\d+)")


def table_argv(table):
    return VSCTL + [table]


def flows_argv(bridge):
    return ["ovs-ofctl", "dump-flows", bridge]


def decode(value):
    """One OVSDB JSON value as plain data: uuids as strings, sets as lists, maps as dicts."""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
        kind, payload = value
        if kind in ("uuid", "named-uuid"):
            return payload
        if kind == "set":
            return [decode(item) for item in payload]
        if kind == "map":
            return dict((decode(k), decode(v)) for k, v in payload)
    return value


def parse_table(command, text):
    """Rows of one `ovs-vsctl --format=json list` as dicts of decoded columns."""
    try:
        document = json.loads(text)
        headings = document["headings"]
        rows = document["data"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CommandError(command, "malformed OVSDB JSON: %s" % exc)
    parsed = []
    for row in rows:
        if not isinstance(row, list) or len(row) != len(headings):
            raise CommandError(command, "row with %s columns, expected %d"
                               % (len(row) if isinstance(row, list) else "no", len(headings)))
        parsed.append(dict((name, decode(value)) for name, value in zip(headings, row)))
    return parsed


def optional(value):
    """OVSDB encodes an optional column as a set of zero or one value."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def as_list(value):
    if isinstance(value, list):
        return value
    return [value]


def parse_flows(command, text):
    """Flow counts and packets per table from `ovs-ofctl dump-flows` text."""
    per_table = {}
    total_packets = 0
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("NXST_FLOW", "OFPST_FLOW")):
            continue
        table = FLOW_TABLE.search(line)
        packets = FLOW_PACKETS.search(line)
        if table is None or packets is None:
            raise CommandError(command, "unreadable flow line: %s" % line[:200])
        entry = per_table.setdefault(int(table.group(1)), {"flows": 0, "packets": 0})
        entry["flows"] += 1
        entry["packets"] += int(packets.group(1))
        total_packets += int(packets.group(1))
    return {"total": sum(t["flows"] for t in per_table.values()), "packets": total_packets,
            "tables": dict((str(k), v) for k, v in sorted(per_table.items()))}


def interface_facts(row):
    return {
        "name": row["name"],
        "uuid": row["_uuid"],
        "type": row.get("type") or "system",
        "ofport": optional(row.get("ofport")),
        "mac_in_use": optional(row.get("mac_in_use")),
        "mac": optional(row.get("mac")),
        "admin_state": optional(row.get("admin_state")),
        "link_state": optional(row.get("link_state")),
        "link_speed": optional(row.get("link_speed")),
        "mtu": optional(row.get("mtu")),
        "error": optional(row.get("error")),
        "options": row.get("options") or {},
        "external_ids": row.get("external_ids") or {},
        "status": row.get("status") or {},
    }


def port_facts(row, interfaces_by_uuid):
    members = [interfaces_by_uuid[u] for u in as_list(row.get("interfaces") or [])
               if u in interfaces_by_uuid]
    trunks = row.get("trunks")
    return {
        "name": row["name"],
        "uuid": row["_uuid"],
        "tag": optional(row.get("tag")),
        "trunks": as_list(trunks) if trunks not in (None, []) else [],
        "vlan_mode": optional(row.get("vlan_mode")),
        "bond_mode": optional(row.get("bond_mode")),
        "lacp": optional(row.get("lacp")),
        "bond_members": [i["name"] for i in members] if len(members) > 1 else [],
        "external_ids": row.get("external_ids") or {},
        "interfaces": members,
    }


def controller_facts(row):
    return {"target": row.get("target"), "role": optional(row.get("role")),
            "is_connected": row.get("is_connected")}


def build_facts(tables):
    """The switch's facts from decoded rows of the OVSDB tables."""
    switch = tables["Open_vSwitch"][0] if tables["Open_vSwitch"] else {}
    interfaces = dict((r["_uuid"], interface_facts(r)) for r in tables["Interface"])
    ports = dict((r["_uuid"], port_facts(r, interfaces)) for r in tables["Port"])
    controllers = dict((r["_uuid"], controller_facts(r)) for r in tables["Controller"])
    bridges = []
    for row in sorted(tables["Bridge"], key=lambda r: r["name"]):
        bridge_ports = sorted((ports[u] for u in as_list(row.get("ports") or []) if u in ports),
                              key=lambda p: p["name"])
        for port in bridge_ports:
            for interface in port["interfaces"]:
                interface["bridge"] = row["name"]
                interface["port"] = port["name"]
        bridges.append({
            "name": row["name"],
            "uuid": row["_uuid"],
            "datapath_type": row.get("datapath_type") or "system",
            "datapath_id": optional(row.get("datapath_id")),
            "fail_mode": optional(row.get("fail_mode")),
            "protocols": as_list(row.get("protocols") or []),
            "stp_enable": row.get("stp_enable"),
            "controllers": [controllers[u] for u in as_list(row.get("controller") or [])
                            if u in controllers],
            "external_ids": row.get("external_ids") or {},
            "other_config": row.get("other_config") or {},
            "ports": bridge_ports,
        })
    external_ids = switch.get("external_ids") or {}
    return {
        "present": True,
        "running": True,
        "version": optional(switch.get("ovs_version")),
        "db_version": optional(switch.get("db_version")),
        "system_id": external_ids.get("system-id"),
        "hostname": external_ids.get("hostname"),
        "system_type": optional(switch.get("system_type")),
        "system_version": optional(switch.get("system_version")),
        "datapath_types": as_list(switch.get("datapath_types") or []),
        "iface_types": as_list(switch.get("iface_types") or []),
        "external_ids": external_ids,
        "other_config": switch.get("other_config") or {},
        "bridges": bridges,
        "patch_pairs": patch_pairs(bridges),
        "tunnels": tunnels(bridges),
    }


def _all_interfaces(bridges):
    for bridge in bridges:
        for port in bridge["ports"]:
            yield from port["interfaces"]


def patch_pairs(bridges):
    """Each patch connection once, with the bridges at both ends resolved."""
    by_name = dict((i["name"], i) for i in _all_interfaces(bridges) if i["type"] == "patch")
    pairs = []
    for name in sorted(by_name):
        interface = by_name[name]
        peer = by_name.get(interface["options"].get("peer"))
        if peer is not None and name > peer["name"]:
            continue  # listed from the other end
        pairs.append({"bridge": interface["bridge"], "port": name,
                      "peer_bridge": peer["bridge"] if peer else None,
                      "peer_port": interface["options"].get("peer")})
    return pairs


def tunnels(bridges):
    result = []
    for interface in _all_interfaces(bridges):
        if interface["type"] not in TUNNEL_TYPES:
            continue
        options = interface["options"]
        result.append({"bridge": interface["bridge"], "port": interface["port"],
                       "type": interface["type"], "local_ip": options.get("local_ip"),
                       "remote_ip": options.get("remote_ip"), "key": options.get("key"),
                       "dst_port": options.get("dst_port"), "ofport": interface["ofport"],
                       "link_state": interface["link_state"], "error": interface["error"]})
    return sorted(result, key=lambda t: (t["bridge"], t["port"]))


def collect_ovs(source, params):
    """Gather the OVS facts from a source (live host or recorded outputs)."""
    first = table_argv(TABLES[0])
    try:
        switch_text = source.run(first)
    except CommandError as exc:
        # Installed but its database is not answering: a fact about the host, not a failure.
        return {"present": True, "running": False, "error": str(exc), "bridges": [],
                "patch_pairs": [], "tunnels": []}
    if switch_text is None:
        return {"present": False, "running": False, "bridges": [], "patch_pairs": [],
                "tunnels": []}
    tables = {TABLES[0]: parse_table(" ".join(first), switch_text)}
    for table in TABLES[1:]:
        argv = table_argv(table)
        text = source.run(argv)
        if text is None:
            raise CommandError(" ".join(argv), "no output")
        tables[table] = parse_table(" ".join(argv), text)
    facts = build_facts(tables)
    if params.get("flows"):
        for bridge in facts["bridges"]:
            argv = flows_argv(bridge["name"])
            text = source.run(argv, check=False)
            bridge["flows"] = parse_flows(" ".join(argv), text) if text is not None else None
    return facts
