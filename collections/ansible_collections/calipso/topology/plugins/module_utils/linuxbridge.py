# -*- coding: utf-8 -*-
# Copyright: Calipso developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Linux bridges from iproute2's JSON: bridges (STP, VLAN filtering), members with their port
state, FDB entries, VLANs per port, and vxlan devices with their unicast flood destinations.

`ip -j -d link`, `bridge -j fdb` and `bridge -j vlan` are the sources; on hosts whose iproute2 is
too old for JSON, `brctl show` text still gives bridges and members.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.calipso.topology.plugins.module_utils.sources import CommandError

LINKS = ["ip", "-j", "-d", "link", "show"]
FDB = ["bridge", "-j", "fdb", "show"]
VLANS = ["bridge", "-j", "vlan", "show"]
BRCTL = ["brctl", "show"]
ZERO_MAC = "00:00:00:00:00:00"


def parse_json(argv, text):
    try:
        value = json.loads(text) if text.strip() else []
    except ValueError as exc:
        raise CommandError(" ".join(argv), "malformed JSON: %s" % exc)
    if not isinstance(value, list):
        raise CommandError(" ".join(argv), "expected a JSON list")
    return value


def parse_brctl(text):
    """`brctl show`: a bridge line (name, id, STP, first member), then one member per line."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("bridge name"):
        raise CommandError(" ".join(BRCTL), "no header line")
    bridges = []
    for line in lines[1:]:
        if not line.strip():
            continue
        fields = line.split()
        if line[0] not in " \t":
            if len(fields) < 3:
                raise CommandError(" ".join(BRCTL), "unreadable bridge line: %s" % line)
            bridges.append({"name": fields[0], "bridge_id": fields[1],
                            "stp": fields[2] == "yes", "members": fields[3:4]})
        elif bridges:
            bridges[-1]["members"].append(fields[0])
        else:
            raise CommandError(" ".join(BRCTL), "member line before any bridge: %s" % line)
    return bridges


def _kind(link, key="info_kind"):
    return link.get("linkinfo", {}).get(key)


def bridge_facts(link, members):
    data = link.get("linkinfo", {}).get("info_data", {})
    return {
        "name": link["ifname"],
        "mac": link.get("address"),
        "mtu": link.get("mtu"),
        "state": link.get("operstate"),
        "up": "UP" in link.get("flags", []),
        "stp": data.get("stp_state", 0) != 0,
        "vlan_filtering": bool(data.get("vlan_filtering", 0)),
        "forward_delay": data.get("forward_delay"),
        "bridge_id": data.get("bridge_id"),
        "members": members,
    }


def member_facts(link, vlans):
    data = link.get("linkinfo", {}).get("info_slave_data", {})
    return {
        "name": link["ifname"],
        "kind": _kind(link) or "ether",
        "mac": link.get("address"),
        "mtu": link.get("mtu"),
        "up": "UP" in link.get("flags", []),
        "oper_state": link.get("operstate"),
        "port_state": data.get("state"),
        "learning": data.get("learning"),
        "flood": data.get("flood"),
        "vlans": vlans.get(link["ifname"], []),
    }


def vxlan_facts(link, fdb):
    data = link.get("linkinfo", {}).get("info_data", {})
    floods = sorted(e["dst"] for e in fdb
                    if e.get("ifname") == link["ifname"] and e.get("mac") == ZERO_MAC
                    and "dst" in e)
    return {
        "name": link["ifname"],
        "vni": data.get("id"),
        "local": data.get("local"),
        "group": data.get("group"),
        "remote": data.get("remote"),
        "port": data.get("port"),
        "device": data.get("link"),
        "learning": data.get("learning"),
        "bridge": link.get("master"),
        "up": "UP" in link.get("flags", []),
        "flood_destinations": floods,
        "unicast_destinations": sorted(
            ({"mac": e["mac"], "dst": e["dst"]} for e in fdb
             if e.get("ifname") == link["ifname"] and e.get("mac") != ZERO_MAC
             and "dst" in e), key=lambda d: (d["mac"], d["dst"])),
    }


def fdb_facts(entry):
    return {"mac": entry.get("mac"), "ifname": entry.get("ifname"),
            "bridge": entry.get("master"), "vlan": entry.get("vlan"),
            "dst": entry.get("dst"), "state": entry.get("state"),
            "flags": entry.get("flags", [])}


def vlan_map(entries):
    """Port -> VLANs from `bridge -j vlan show` (either layout iproute2 has printed)."""
    result = {}
    for entry in entries:
        name = entry.get("ifname")
        if name is None:
            continue
        result[name] = [{"vlan": v.get("vlan"), "flags": v.get("flags", [])}
                        for v in entry.get("vlans", [])]
    return result


def build_facts(links, fdb, vlans):
    by_master = {}
    for link in links:
        if _kind(link, "info_slave_kind") == "bridge" and link.get("master"):
            by_master.setdefault(link["master"], []).append(link)
    bridges = []
    for link in links:
        if _kind(link) != "bridge":
            continue
        members = sorted((member_facts(m, vlans) for m in by_master.get(link["ifname"], [])),
                         key=lambda m: m["name"])
        bridges.append(bridge_facts(link, members))
    return {
        "present": True,
        "source": "iproute2",
        "bridges": sorted(bridges, key=lambda b: b["name"]),
        "vxlans": sorted((vxlan_facts(link, fdb) for link in links if _kind(link) == "vxlan"),
                         key=lambda v: v["name"]),
        "fdb": [fdb_facts(e) for e in fdb if e.get("master") or e.get("dst")],
    }


def collect_linuxbridge(source, params):
    """Gather the Linux-bridge facts from a source (live host or recorded outputs)."""
    links_text = source.run(LINKS, check=False)
    if links_text is None or not links_text.lstrip().startswith("["):
        # iproute2 without JSON (or none at all): brctl still tells bridges and members.
        brctl_text = source.run(BRCTL)
        if brctl_text is None:
            return {"present": False, "bridges": [], "vxlans": [], "fdb": []}
        return {"present": True, "source": "brctl", "bridges": parse_brctl(brctl_text),
                "vxlans": [], "fdb": []}
    links = parse_json(LINKS, links_text)
    fdb_text = source.run(FDB, check=False)
    vlan_text = source.run(VLANS, check=False)
    fdb = parse_json(FDB, fdb_text) if fdb_text is not None else []
    vlans = vlan_map(parse_json(VLANS, vlan_text)) if vlan_text is not None else {}
    return build_facts(links, fdb, vlans)
