# -*- coding: utf-8 -*-
# Copyright: Calipso developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""A host's networking: interfaces (physical NICs told apart from virtual devices), bonds and
their members, network namespaces (Neutron qdhcp/qrouter/... services), libvirt domains and
their interfaces, LLDP neighbours, the routing table.

The parsers are pure functions of a command's output. `collect_host` asks a source (see
sources.py) for the outputs; files under /sys and /proc are read through two small callables,
`read_file(path)` and `read_link(path)`, which by default go through the same source as the
commands `cat PATH` and `readlink PATH`. So the recorded (offline) path covers files too, with
no special case: a recorded output keyed `cat /proc/net/bonding/bond0` stands for that file.

Stdlib only; runs on the managed host's Python (3.8 and later).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import xml.etree.ElementTree as ET

from ansible_collections.calipso.topology.plugins.module_utils.sources import (
    CommandError,
    command_line,
)

IP_ADDR = ["ip", "-j", "-d", "addr", "show"]
IP_ROUTE = ["ip", "-j", "route", "show"]
IP_NETNS_JSON = ["ip", "-j", "netns", "list"]
IP_NETNS_TEXT = ["ip", "netns", "list"]
VIRSH_NAMES = ["virsh", "-r", "list", "--all", "--name"]
VIRSH_TABLE = ["virsh", "-r", "list", "--all"]
LLDP_NEIGHBORS = ["lldpcli", "-f", "json", "show", "neighbors", "details"]
LLDP_CONFIGURATION = ["lldpcli", "-f", "json", "show", "configuration"]

HOSTNAME_FILE = "/proc/sys/kernel/hostname"
SYS_NET = "/sys/class/net"
PROC_BONDING = "/proc/net/bonding"

# Neutron (and OVN metadata) namespace prefixes -> kind; anything else is "other".
NAMESPACE_KINDS = (
    ("qdhcp-", "qdhcp"),
    ("qrouter-", "qrouter"),
    ("snat-", "snat"),
    ("fip-", "fip"),
    ("qlbaas-", "qlbaas"),
    ("ovnmeta-", "ovnmeta"),
)

# /proc/net/bonding "Bonding Mode:" descriptions (drivers/net/bonding) -> the mode names of
# `ip -d link` and of the bonding `mode=` option.
BOND_MODE_DESCRIPTIONS = (
    ("load balancing (round-robin)", "balance-rr"),
    ("fault-tolerance (active-backup)", "active-backup"),
    ("load balancing (xor)", "balance-xor"),
    ("fault-tolerance (broadcast)", "broadcast"),
    ("IEEE 802.3ad Dynamic link aggregation", "802.3ad"),
    ("transmit load balancing", "balance-tlb"),
    ("adaptive load balancing", "balance-alb"),
)

LIBVIRT_DOWN_MARKERS = ("failed to connect",)
LLDPD_DOWN_MARKERS = ("unable to connect", "cannot connect", "failed to connect")
NOVA_NAMESPACE_PREFIX = "{http://openstack.org/xmlns/libvirt/nova/"


# ---------------------------------------------------------------------------------------------
# Small helpers


def parse_json(command, text):
    """The JSON document a command printed; CommandError naming the command if it is not."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CommandError(command, "malformed JSON: %s" % exc) from None


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def _to_int(value):
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _first(*values):
    for value in values:
        if value is not None:
            return value
    return None


def _none_if(value, *empty):
    if value is None:
        return None
    value = value.strip()
    if value == "" or value in empty:
        return None
    return value


# ---------------------------------------------------------------------------------------------
# iproute2


def _interface_kind(entry):
    linkinfo = entry.get("linkinfo") or {}
    kind = linkinfo.get("info_kind")
    if entry.get("link_type") == "loopback":
        return "loopback"
    if kind == "tun":
        # tun/tap devices: OVS internal ports of the userspace datapath, Nova/libvirt taps.
        return (linkinfo.get("info_data") or {}).get("type") or "tun"
    return kind


def _addresses(entry):
    result = []
    for info in entry.get("addr_info") or []:
        if not isinstance(info, dict) or "local" not in info:
            continue
        prefixlen = info.get("prefixlen")
        result.append({
            "family": info.get("family"),
            "address": info["local"],
            "prefixlen": prefixlen,
            "cidr": ("%s/%s" % (info["local"], prefixlen) if prefixlen is not None
                     else info["local"]),
            "scope": info.get("scope"),
            "broadcast": info.get("broadcast"),
            "label": info.get("label"),
        })
    return result


def interface_from_ip(entry):
    """One interface of `ip -j -d addr show`, in the facts' shape (no /sys details)."""
    linkinfo = entry.get("linkinfo") or {}
    data = linkinfo.get("info_data") or {}
    slave_data = linkinfo.get("info_slave_data") or {}
    flags = list(entry.get("flags") or [])
    kind = _interface_kind(entry)
    peer = entry.get("link")
    vxlan = None
    if kind == "vxlan":
        vxlan = {
            "vni": data.get("id"),
            "local": data.get("local") or data.get("local6"),
            "remote": data.get("remote") or data.get("remote6"),
            "group": data.get("group") or data.get("group6"),
            "port": data.get("port"),
            "dev": data.get("link"),
        }
    port_state = slave_data.get("state")
    return {
        "name": entry.get("ifname"),
        "ifindex": entry.get("ifindex"),
        "kind": kind,
        "link_type": entry.get("link_type"),
        "mac": entry.get("address"),
        "permanent_mac": entry.get("permaddr") or slave_data.get("perm_hwaddr"),
        "mtu": entry.get("mtu"),
        "operstate": (entry.get("operstate") or "").lower() or None,
        "admin_up": "UP" in flags,
        "carrier": "LOWER_UP" in flags,
        "flags": flags,
        "master": entry.get("master"),
        "master_kind": linkinfo.get("info_slave_kind"),
        "port_state": port_state.lower() if isinstance(port_state, str) else None,
        "peer": peer if isinstance(peer, str) and peer != "None" else None,
        "peer_ifindex": entry.get("link_index"),
        "peer_netnsid": entry.get("link_netnsid"),
        "vlan_id": data.get("id") if kind == "vlan" else None,
        "vxlan": vxlan,
        "addresses": _addresses(entry),
    }


def _ip_entries(text, command):
    if not text.strip():
        return []
    data = parse_json(command, text)
    if not isinstance(data, list):
        raise CommandError(command, "expected a JSON list of interfaces")
    for entry in data:
        if not isinstance(entry, dict) or not entry.get("ifname"):
            raise CommandError(command, "an interface entry has no ifname")
    return data


def parse_ip_interfaces(text, command=None):
    """`ip -j -d addr show` -> list of interfaces (ifindex order, as printed)."""
    command = command or command_line(IP_ADDR)
    return [interface_from_ip(entry) for entry in _ip_entries(text, command)]


def bond_details_from_ip(entries):
    """What `ip -d` says of bonds and their slaves: {bond: info_data} and {slave: slave data}."""
    bonds = {}
    slaves = {}
    for entry in entries:
        linkinfo = entry.get("linkinfo") or {}
        if linkinfo.get("info_kind") == "bond":
            bonds[entry["ifname"]] = linkinfo.get("info_data") or {}
        if linkinfo.get("info_slave_kind") == "bond":
            slaves[entry["ifname"]] = linkinfo.get("info_slave_data") or {}
    return bonds, slaves


def parse_routes(text, command=None):
    """`ip -j route show` -> (routes, default route or None)."""
    command = command or command_line(IP_ROUTE)
    if not text.strip():
        return [], None
    data = parse_json(command, text)
    if not isinstance(data, list):
        raise CommandError(command, "expected a JSON list of routes")
    routes = []
    default = None
    for entry in data:
        if not isinstance(entry, dict) or "dst" not in entry:
            raise CommandError(command, "a route entry has no dst")
        route = {
            "dst": entry["dst"],
            "gateway": entry.get("gateway"),
            "dev": entry.get("dev"),
            "protocol": entry.get("protocol"),
            "scope": entry.get("scope"),
            "prefsrc": entry.get("prefsrc"),
            "metric": entry.get("metric"),
            "type": entry.get("type"),
        }
        routes.append(route)
        if default is None and route["dst"] == "default":
            default = {"gateway": route["gateway"], "dev": route["dev"]}
    return routes, default


def parse_netns_json(text, command=None):
    """`ip -j netns list` -> [(name, netnsid or None)]. Older iproute2 prints nothing at all
    when there is no namespace."""
    command = command or command_line(IP_NETNS_JSON)
    if not text.strip():
        return []
    data = parse_json(command, text)
    if not isinstance(data, list):
        raise CommandError(command, "expected a JSON list of namespaces")
    result = []
    for entry in data:
        if not isinstance(entry, dict) or not entry.get("name"):
            raise CommandError(command, "a namespace entry has no name")
        result.append((entry["name"], entry.get("id")))
    return result


_NETNS_LINE = re.compile(r"^(\S+)(?:\s+\(id:\s*(\d+)\))?\s*$")


def parse_netns_text(text, command=None):
    """`ip netns list` text ("qdhcp-... (id: 3)" or a bare name per line)."""
    command = command or command_line(IP_NETNS_TEXT)
    result = []
    for line in text.splitlines():
        if not line.strip():
            continue
        match = _NETNS_LINE.match(line.strip())
        if not match:
            raise CommandError(command, "unexpected line %r" % line)
        result.append((match.group(1), _to_int(match.group(2))))
    return result


def namespace_kind(name):
    """(kind, id of the Neutron object the namespace serves or None) for a namespace name."""
    for prefix, kind in NAMESPACE_KINDS:
        if name.startswith(prefix) and len(name) > len(prefix):
            return kind, name[len(prefix):]
    return "other", None


# ---------------------------------------------------------------------------------------------
# ethtool and sysfs


def parse_ethtool_info(text, command):
    """`ethtool -i IF` -> driver, version, firmware_version, bus_info."""
    values = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise CommandError(command, "unexpected line %r" % line)
        values[key.strip()] = value.strip()
    if not values.get("driver"):
        raise CommandError(command, "no driver line")
    return {
        "driver": values["driver"],
        "version": _none_if(values.get("version"), "N/A"),
        "firmware_version": _none_if(values.get("firmware-version"), "N/A"),
        "bus_info": _none_if(values.get("bus-info"), "N/A"),
    }


def parse_speed(text, command):
    """/sys/class/net/IF/speed -> Mb/s, or None when unknown (unreadable, empty, -1)."""
    if text is None or not text.strip():
        return None
    try:
        speed = int(text.strip())
    except ValueError:
        raise CommandError(command, "speed is not a number: %r" % text.strip()[:80]) from None
    return speed if speed > 0 else None


def parse_duplex(text, command):
    """/sys/class/net/IF/duplex -> "full", "half" or None (unreadable or unknown)."""
    if text is None or not text.strip():
        return None
    value = text.strip().lower()
    if value == "unknown":
        return None
    if value not in ("full", "half"):
        raise CommandError(command, "unexpected duplex %r" % text.strip()[:80])
    return value


# ---------------------------------------------------------------------------------------------
# Linux bonding


def bond_mode_from_description(description):
    for text, mode in BOND_MODE_DESCRIPTIONS:
        if description.startswith(text):
            return mode
    return None


def _bond_speed(value, command):
    value = value.strip()
    if value.lower() == "unknown":
        return None
    match = re.match(r"^(-?\d+)\s*Mbps$", value)
    if not match:
        raise CommandError(command, "unexpected slave speed %r" % value)
    speed = int(match.group(1))
    return speed if speed > 0 else None


def _bond_int(value, command, what):
    value = value.strip()
    if value in ("N/A", ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise CommandError(command, "%s is not a number: %r" % (what, value)) from None


def parse_bonding(text, command):
    """/proc/net/bonding/BOND (the Linux bonding driver's status text) -> mode, MII status,
    active and primary slave, 802.3ad aggregator and the slaves with their own status."""
    lines = text.splitlines()
    if not any(line.startswith("Bonding Mode:") for line in lines):
        raise CommandError(command, "not a bonding status file (no 'Bonding Mode:' line)")
    bond = {
        "driver_version": None,
        "mode": None,
        "mode_description": None,
        "mii_status": None,
        "miimon": None,
        "active_slave": None,
        "primary_slave": None,
        "xmit_hash_policy": None,
        "lacp_rate": None,
        "aggregator": None,
        "slaves": [],
    }
    slave = None
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue  # section headings such as "802.3ad info"
        key = key.strip()
        value = value.strip()
        if key == "Slave Interface":
            if not value:
                raise CommandError(command, "a 'Slave Interface:' line names no interface")
            slave = {
                "name": value,
                "mii_status": None,
                "speed": None,
                "duplex": None,
                "link_failure_count": None,
                "permanent_mac": None,
                "aggregator_id": None,
                "queue_id": None,
            }
            bond["slaves"].append(slave)
            continue
        if slave is None:
            if key == "Ethernet Channel Bonding Driver":
                bond["driver_version"] = value or None
            elif key == "Bonding Mode":
                description = re.sub(r"\s*\(fail_over_mac [^)]*\)$", "", value)
                bond["mode_description"] = description
                bond["mode"] = bond_mode_from_description(description)
            elif key == "MII Status":
                bond["mii_status"] = value.lower()
            elif key == "MII Polling Interval (ms)":
                bond["miimon"] = _bond_int(value, command, key)
            elif key == "Currently Active Slave":
                bond["active_slave"] = None if value == "None" else value
            elif key == "Primary Slave":
                name = value.split()[0] if value else "None"
                bond["primary_slave"] = None if name == "None" else name
            elif key == "Transmit Hash Policy":
                bond["xmit_hash_policy"] = value.split()[0] if value else None
            elif key == "LACP rate":
                bond["lacp_rate"] = value
            elif key in ("Aggregator ID", "Number of ports", "Actor Key", "Partner Key",
                         "Partner Mac Address"):
                aggregator = bond["aggregator"]
                if aggregator is None:
                    aggregator = bond["aggregator"] = {
                        "id": None, "ports": None, "actor_key": None, "partner_key": None,
                        "partner_mac": None}
                if key == "Partner Mac Address":
                    aggregator["partner_mac"] = value
                else:
                    field = {"Aggregator ID": "id", "Number of ports": "ports",
                             "Actor Key": "actor_key", "Partner Key": "partner_key"}[key]
                    aggregator[field] = _bond_int(value, command, key)
        else:
            if key == "MII Status":
                slave["mii_status"] = value.lower()
            elif key == "Speed":
                slave["speed"] = _bond_speed(value, command)
            elif key == "Duplex":
                slave["duplex"] = None if value.lower() == "unknown" else value.lower()
            elif key == "Link Failure Count":
                slave["link_failure_count"] = _bond_int(value, command, key)
            elif key == "Permanent HW addr":
                slave["permanent_mac"] = value
            elif key == "Aggregator ID":
                slave["aggregator_id"] = _bond_int(value, command, key)
            elif key == "Slave queue ID":
                slave["queue_id"] = _bond_int(value, command, key)
    if not bond["mode_description"]:
        raise CommandError(command, "the 'Bonding Mode:' line is empty")
    for slave in bond["slaves"]:
        if slave["mii_status"] is None:
            raise CommandError(command, "slave %s has no 'MII Status:' line (truncated?)"
                               % slave["name"])
    return bond


# ---------------------------------------------------------------------------------------------
# libvirt


def parse_virsh_names(text):
    """`virsh list --all --name`: one domain name per line (a blank line ends the list)."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def parse_virsh_list(text, names, command=None):
    """`virsh list --all` table -> {name: {"id": int or None, "state": str}}.

    Both table layouts are read: the printf one of libvirt < 5 (" Id    Name    State" over a
    dash line) and the vshTable one of later releases. Names come from `--name`, which lists
    them exactly, so that a name or a state holding spaces ("shut off") is split right.
    """
    command = command or command_line(VIRSH_TABLE)
    lines = text.splitlines()
    header = None
    for index, line in enumerate(lines):
        if line.split()[:3] == ["Id", "Name", "State"]:
            header = index
            break
    if header is None:
        raise CommandError(command, "no 'Id Name State' header")
    by_length = sorted(names, key=len, reverse=True)
    result = {}
    for line in lines[header + 1:]:
        stripped = line.strip()
        if not stripped or set(stripped) == {"-"}:
            continue
        parts = stripped.split(None, 1)
        if len(parts) != 2:
            raise CommandError(command, "unexpected line %r" % line)
        dom_id, rest = parts
        name = None
        for candidate in by_length:
            if rest.startswith(candidate) and (
                    len(rest) == len(candidate) or rest[len(candidate)].isspace()):
                name = candidate
                break
        if name is None:
            fields = re.split(r"\s{2,}", rest, maxsplit=1)
            if len(fields) != 2:
                raise CommandError(command, "unexpected line %r" % line)
            name = fields[0]
            state = fields[1].strip()
        else:
            state = rest[len(name):].strip()
        result[name] = {"id": _to_int(dom_id), "state": state or None}
    return result


def _attr(element, name):
    return element.get(name) if element is not None else None


def _nova_metadata(root):
    metadata = root.find("metadata")
    if metadata is None:
        return None
    instance = None
    for child in metadata:
        if child.tag.startswith(NOVA_NAMESPACE_PREFIX) and child.tag.endswith("}instance"):
            instance = child
            break
    if instance is None:
        return None
    namespace = instance.tag[:instance.tag.index("}") + 1]

    def find(path):
        return instance.find(path.replace("nova:", namespace))

    def text(path):
        element = find(path)
        return element.text.strip() if element is not None and element.text else None

    user = find("nova:owner/nova:user")
    project = find("nova:owner/nova:project")
    ports = []
    for port in instance.findall(namespace + "ports/" + namespace + "port"):
        ports.append({
            "id": port.get("uuid"),
            "ips": [{"type": ip.get("type"), "address": ip.get("address"),
                     "version": _to_int(ip.get("ipVersion"))}
                    for ip in port.findall(namespace + "ip")],
        })
    return {
        "name": text("nova:name"),
        "package": _attr(find("nova:package"), "version"),
        "creation_time": text("nova:creationTime"),
        "flavor": _attr(find("nova:flavor"), "name"),
        "user_id": _attr(user, "uuid"),
        "user_name": user.text.strip() if user is not None and user.text else None,
        "project_id": _attr(project, "uuid"),
        "project_name": project.text.strip() if project is not None and project.text else None,
        "ports": ports,
    }


def _domain_interface(element):
    source = element.find("source")
    pci = None
    if source is not None:
        address = source.find("address")
        if address is not None and address.get("bus") is not None:
            pci = "%s:%s:%s.%s" % tuple(
                (address.get(part) or "0").replace("0x", "")
                for part in ("domain", "bus", "slot", "function"))
    virtualport = element.find("virtualport")
    parameters = virtualport.find("parameters") if virtualport is not None else None
    mtu = element.find("mtu")
    return {
        "type": element.get("type"),
        "mac": _attr(element.find("mac"), "address"),
        "target": _attr(element.find("target"), "dev"),
        "model": _attr(element.find("model"), "type"),
        "driver": _attr(element.find("driver"), "name"),
        "source_bridge": _attr(source, "bridge"),
        "source_network": _attr(source, "network"),
        "source_dev": _attr(source, "dev"),
        "source_path": _attr(source, "path"),
        "source_mode": _attr(source, "mode"),
        "source_pci": pci,
        "virtualport_type": _attr(virtualport, "type"),
        "interface_id": _attr(parameters, "interfaceid"),
        "mtu": _to_int(_attr(mtu, "size")),
        "alias": _attr(element.find("alias"), "name"),
    }


def parse_domain_xml(text, command):
    """`virsh dumpxml DOMAIN` -> name, uuid, id, type, vcpus, memory, Nova metadata and the
    interfaces (type, tap device, MAC, source bridge/network/socket, model, OVS iface-id)."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise CommandError(command, "malformed XML: %s" % exc) from None
    if root.tag != "domain":
        raise CommandError(command, "the XML root is <%s>, not <domain>" % root.tag)
    name = root.find("name")
    if name is None or not name.text:
        raise CommandError(command, "the domain has no <name>")
    uuid = root.find("uuid")
    memory = root.find("memory")
    memory_kib = None
    if memory is not None and memory.text:
        memory_kib = _to_int(memory.text.strip())
        unit = (memory.get("unit") or "KiB").lower()
        if memory_kib is not None and unit in ("mib", "m"):
            memory_kib *= 1024
        elif memory_kib is not None and unit in ("gib", "g"):
            memory_kib *= 1024 * 1024
    vcpu = root.find("vcpu")
    return {
        "name": name.text.strip(),
        "uuid": uuid.text.strip() if uuid is not None and uuid.text else None,
        "id": _to_int(root.get("id")),
        "state": None,  # not in the XML: collect_libvirt fills it from `virsh list`
        "type": root.get("type"),
        "vcpus": _to_int(vcpu.text.strip()) if vcpu is not None and vcpu.text else None,
        "memory_kib": memory_kib,
        "nova": _nova_metadata(root),
        "interfaces": [_domain_interface(element)
                       for element in root.findall("devices/interface")],
        "error": None,
    }


# ---------------------------------------------------------------------------------------------
# lldpd

_CHASSIS_KEYS = ("id", "name", "descr", "mgmt-ip", "mgmt-iface", "capability")


def _lldp_text(value):
    """A value of lldpcli's JSON: a string, {"value": ...} or (json0) a one-item list of it."""
    if isinstance(value, list):
        return _lldp_text(value[0]) if value else None
    if isinstance(value, dict):
        return _lldp_text(value.get("value"))
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _lldp_typed(value):
    """{"type": t, "value": v} (or a one-item list of it) -> (v, t)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        return _lldp_text(value.get("value")), value.get("type")
    return _lldp_text(value), None


def _lldp_named(value):
    """An element that lldpcli's JSON writer keyed by its name ({"eth0": {...}}) or kept with a
    "name" member (json0, or no name at all) -> (name, body)."""
    if isinstance(value, list):
        value = value[0] if value else {}
    if not isinstance(value, dict):
        return None, {}
    if not value or any(key in value for key in _CHASSIS_KEYS + ("port", "chassis", "via")):
        return _lldp_text(value.get("name")), value
    if len(value) == 1:
        name, body = list(value.items())[0]
        if isinstance(body, dict):
            return name, body
    return _lldp_text(value.get("name")), value


def _lldp_interfaces(lldp, command):
    """(local interface name, body) for each neighbour, whatever the lldpd 1.0.x shape:
    one neighbour gives {"interface": {"eth0": {...}}}, several give a list of such one-key
    objects (two on the same port repeat the key), json0 gives [{"name": "eth0", ...}]."""
    if isinstance(lldp, list):  # json0: {"lldp": [{"interface": [...]}]}
        lldp = lldp[0] if lldp else {}
    if not isinstance(lldp, dict):
        raise CommandError(command, "'lldp' is not an object")
    result = []
    for item in _as_list(lldp.get("interface")):
        if not isinstance(item, dict):
            raise CommandError(command, "an interface entry is not an object")
        if "name" in item and isinstance(item.get("name"), (str, list)) and (
                "chassis" in item or "port" in item or "via" in item):
            result.append((_lldp_text(item["name"]), item))
            continue
        for name, body in item.items():
            if not isinstance(body, dict):
                raise CommandError(command, "interface %r is not an object" % name)
            result.append((name, body))
    return result


def parse_lldp_neighbors(text, command=None):
    """`lldpcli -f json show neighbors details` (lldpd 0.9/1.0.x, json or json0 build) -> one
    entry per neighbour: local interface, chassis (name, id, mgmt IPs), port (id, descr), VLANs."""
    command = command or command_line(LLDP_NEIGHBORS)
    if not text.strip():
        return []
    data = parse_json(command, text)
    if not isinstance(data, dict) or "lldp" not in data:
        raise CommandError(command, "no 'lldp' object")
    neighbors = []
    for local, body in _lldp_interfaces(data["lldp"], command):
        chassis_name, chassis = _lldp_named(body.get("chassis"))
        chassis_id, chassis_id_type = _lldp_typed(chassis.get("id"))
        port = body.get("port")
        if isinstance(port, list):
            port = port[0] if port else {}
        port = port if isinstance(port, dict) else {}
        port_id, port_id_type = _lldp_typed(port.get("id"))
        ttl = port.get("ttl") if "ttl" in port else body.get("ttl")
        if isinstance(ttl, dict) and "ttl" in ttl:
            ttl = ttl["ttl"]
        capabilities = []
        for cap in _as_list(chassis.get("capability")):
            if isinstance(cap, dict):
                capabilities.append({"type": cap.get("type"), "enabled": cap.get("enabled")})
        vlans = []
        for vlan in _as_list(body.get("vlan")):
            if not isinstance(vlan, dict):
                continue
            vlans.append({
                "vlan_id": _to_int(_lldp_text(vlan.get("vlan-id"))),
                "name": _lldp_text(vlan.get("value")) or None,
                "pvid": bool(vlan.get("pvid")),
            })
        neighbors.append({
            "local_interface": local,
            "via": _lldp_text(body.get("via")),
            "rid": _to_int(_lldp_text(body.get("rid"))),
            "age": _lldp_text(body.get("age")),
            "chassis": {
                "name": chassis_name or _lldp_text(chassis.get("name")),
                "id": chassis_id,
                "id_type": chassis_id_type,
                "description": _lldp_text(chassis.get("descr")),
                "mgmt_ip": [_lldp_text(ip) for ip in _as_list(chassis.get("mgmt-ip"))],
                "capabilities": capabilities,
            },
            "port": {
                "id": port_id,
                "id_type": port_id_type,
                "description": _lldp_text(port.get("descr")),
                "ttl": _to_int(_lldp_text(ttl)),
                "mfs": _to_int(_lldp_text(port.get("mfs"))),
            },
            "vlans": vlans,
        })
    return neighbors


# ---------------------------------------------------------------------------------------------
# Collectors


def source_readers(source):
    """read_file and read_link that go through the source (`cat PATH`, `readlink PATH`), so that
    recorded outputs stand for files too. Both answer None for an unreadable or absent path."""

    def read_file(path):
        return source.run(["cat", path], check=False)

    def read_link(path):
        out = source.run(["readlink", path], check=False)
        if out is None:
            return None
        return out.strip() or None

    return read_file, read_link


def _is_down(exc, markers):
    message = str(exc).lower()
    return any(marker in message for marker in markers)


def _root_details(source, interface, read_file, read_link):
    """Physical or virtual, and for physical NICs and bonds: driver, speed, duplex."""
    name = interface["name"]
    base = "%s/%s" % (SYS_NET, name)
    details = {"physical": False, "driver": None, "driver_version": None,
               "firmware_version": None, "bus_info": None, "speed": None, "duplex": None}
    if interface["kind"] is None:
        # No link kind: a NIC has /sys/class/net/IF/device, a kind-less virtual device has not.
        if read_link(base + "/device"):
            details["physical"] = True
            interface["kind"] = "physical"
        else:
            interface["kind"] = "unknown"
    if details["physical"]:
        argv = ["ethtool", "-i", name]
        out = source.run(argv, check=False)
        if out is not None and out.strip():
            info = parse_ethtool_info(out, command_line(argv))
            details.update({"driver": info["driver"], "driver_version": info["version"],
                            "firmware_version": info["firmware_version"],
                            "bus_info": info["bus_info"]})
        if details["driver"] is None:
            target = read_link(base + "/device/driver")
            details["driver"] = target.rstrip("/").split("/")[-1] if target else None
    if details["physical"] or interface["kind"] == "bond":
        for field, parse in (("speed", parse_speed), ("duplex", parse_duplex)):
            path = "%s/%s" % (base, field)
            details[field] = parse(read_file(path), command_line(["cat", path]))
    interface.update(details)
    return interface


def collect_bonds(interfaces, ip_bonds, ip_slaves, read_file):
    """Bonds and their members, from /proc/net/bonding/BOND where it is readable and from what
    `ip -d` says (ip_bonds, ip_slaves: see bond_details_from_ip) otherwise."""
    by_name = dict((i["name"], i) for i in interfaces)
    bonds = []
    for interface in interfaces:
        if interface["kind"] != "bond":
            continue
        name = interface["name"]
        path = "%s/%s" % (PROC_BONDING, name)
        text = read_file(path)
        proc = parse_bonding(text, command_line(["cat", path])) if text else {}
        ip_data = ip_bonds.get(name, {})

        bond = {
            "name": name,
            "mode": ip_data.get("mode") or proc.get("mode"),
            "mode_description": proc.get("mode_description"),
            "mii_status": proc.get("mii_status"),
            "miimon": _first(proc.get("miimon"), ip_data.get("miimon")),
            "active_slave": _first(proc.get("active_slave"), ip_data.get("active_slave")),
            "primary_slave": _first(proc.get("primary_slave"), ip_data.get("primary")),
            "xmit_hash_policy": _first(proc.get("xmit_hash_policy"),
                                       ip_data.get("xmit_hash_policy")),
            "lacp_rate": _first(proc.get("lacp_rate"), ip_data.get("ad_lacp_rate")),
            "aggregator": proc.get("aggregator"),
            "mac": interface["mac"],
            "speed": interface.get("speed"),
            "operstate": interface["operstate"],
            "source": "proc" if proc else "iproute2",
            "members": [],
        }
        if bond["mode"] != "802.3ad":
            bond["lacp_rate"] = None  # ip -d prints it whatever the mode
        if bond["mode"] not in ("balance-xor", "802.3ad"):
            bond["xmit_hash_policy"] = None
        proc_slaves = dict((slave["name"], slave) for slave in proc.get("slaves", []))
        order = [slave["name"] for slave in proc.get("slaves", [])]
        for member in interfaces:
            if member["master"] == name and member["master_kind"] == "bond" \
                    and member["name"] not in order:
                order.append(member["name"])
        for member_name in order:
            slave = proc_slaves.get(member_name, {})
            ip_slave = ip_slaves.get(member_name, {})
            member = by_name.get(member_name, {})
            mii = slave.get("mii_status") or ip_slave.get("mii_status")
            state = ip_slave.get("state")
            bond["members"].append({
                "name": member_name,
                "mii_status": mii.lower() if isinstance(mii, str) else None,
                "state": state.lower() if isinstance(state, str) else None,
                "active": (bond["active_slave"] == member_name) if bond["active_slave"] else None,
                "speed": slave["speed"] if "speed" in slave else member.get("speed"),
                "duplex": slave["duplex"] if "duplex" in slave else member.get("duplex"),
                "link_failure_count": slave.get("link_failure_count",
                                                ip_slave.get("link_failure_count")),
                "permanent_mac": slave.get("permanent_mac") or ip_slave.get("perm_hwaddr"),
                "aggregator_id": slave.get("aggregator_id", ip_slave.get("ad_aggregator_id")),
                "physical": member.get("physical"),
            })
        bonds.append(bond)
    return bonds


def collect_namespaces(source):
    """Network namespaces and, for each, its interfaces and addresses."""
    out = source.run(IP_NETNS_JSON, check=False)
    if out is not None:
        names = parse_netns_json(out)
    else:
        out = source.run(IP_NETNS_TEXT, check=False)
        names = parse_netns_text(out) if out is not None else []
    namespaces = []
    for name, netnsid in names:
        kind, object_id = namespace_kind(name)
        argv = ["ip", "netns", "exec", name] + IP_ADDR
        entry = {"name": name, "id": netnsid, "kind": kind, "object_id": object_id,
                 "interfaces": [], "error": None}
        try:
            text = source.run(argv)
        except CommandError as exc:
            # A namespace deleted between the list and the exec is a fact, not a failure.
            entry["error"] = str(exc)
            namespaces.append(entry)
            continue
        if text is None:
            entry["error"] = "%s: no output" % command_line(argv)
        else:
            entry["interfaces"] = parse_ip_interfaces(text, command_line(argv))
        namespaces.append(entry)
    return namespaces


def collect_libvirt(source):
    """libvirt domains and their interfaces: present/running are facts, not failures."""
    try:
        out = source.run(VIRSH_NAMES)
    except CommandError as exc:
        if _is_down(exc, LIBVIRT_DOWN_MARKERS):
            return {"present": True, "running": False, "error": str(exc), "domains": []}
        raise
    if out is None:
        return {"present": False, "running": False, "error": None, "domains": []}
    names = parse_virsh_names(out)
    table = source.run(VIRSH_TABLE)
    states = parse_virsh_list(table, names) if table is not None else {}
    domains = []
    for name in names:
        argv = ["virsh", "-r", "dumpxml", name]
        try:
            xml = source.run(argv)
        except CommandError as exc:
            # A domain undefined between the list and the dump.
            domains.append({"name": name, "uuid": None, "id": None, "state": None,
                            "type": None, "vcpus": None, "memory_kib": None, "nova": None,
                            "interfaces": [], "error": str(exc)})
            continue
        if xml is None:
            raise CommandError(command_line(argv), "no output")
        domain = parse_domain_xml(xml, command_line(argv))
        listed = states.get(name, {})
        if domain["id"] is None:
            domain["id"] = listed.get("id")
        domain["state"] = listed.get("state")
        domains.append(domain)
    return {"present": True, "running": True, "error": None, "domains": domains}


def collect_lldp(source):
    """LLDP neighbours from lldpd; absent tool or stopped daemon are facts."""
    try:
        out = source.run(LLDP_NEIGHBORS)
    except CommandError as exc:
        if _is_down(exc, LLDPD_DOWN_MARKERS):
            return {"present": True, "running": False, "error": str(exc), "neighbors": []}
        raise
    if out is None:
        return {"present": False, "running": False, "error": None, "neighbors": []}
    neighbors = parse_lldp_neighbors(out)
    running = True
    if not neighbors:
        # lldpcli prints an empty neighbour list and exits 0 when it cannot reach lldpd;
        # `show configuration` prints nothing at all in that case.
        config = source.run(LLDP_CONFIGURATION, check=False)
        running = bool(config and config.strip())
    return {"present": True, "running": running, "error": None, "neighbors": neighbors}


def collect_host(source, params=None, read_file=None, read_link=None):
    """The calipso_host facts. read_file(path) and read_link(path) answer a file's text or a
    symlink's target (None when absent/unreadable); by default through the source."""
    default_read_file, default_read_link = source_readers(source)
    read_file = read_file or default_read_file
    read_link = read_link or default_read_link

    text = source.run(IP_ADDR)
    if text is None:
        raise CommandError(command_line(IP_ADDR), "iproute2 (ip) is not installed")
    entries = _ip_entries(text, command_line(IP_ADDR))
    interfaces = [interface_from_ip(entry) for entry in entries]
    for interface in interfaces:
        _root_details(source, interface, read_file, read_link)
    ip_bonds, ip_slaves = bond_details_from_ip(entries)
    bonds = collect_bonds(interfaces, ip_bonds, ip_slaves, read_file)

    route_text = source.run(IP_ROUTE)
    routes, default_route = parse_routes(route_text) if route_text is not None else ([], None)

    hostname = read_file(HOSTNAME_FILE)
    return {
        "hostname": hostname.strip() if hostname and hostname.strip() else None,
        "interfaces": interfaces,
        "physical_nics": [i["name"] for i in interfaces if i["physical"]],
        "bonds": bonds,
        "routes": routes,
        "default_route": default_route,
        "namespaces": collect_namespaces(source),
        "libvirt": collect_libvirt(source),
        "lldp": collect_lldp(source),
    }
