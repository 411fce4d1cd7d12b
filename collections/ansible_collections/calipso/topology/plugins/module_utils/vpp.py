# -*- coding: utf-8 -*-
# Copyright: Calipso developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""VPP (fd.io Vector Packet Processing) as a host holds it, read from `vppctl` text.

VPP's CLI prints no JSON, so every section is parsed from text, and that text moved a lot
between 16.09 and 24.x: columns appeared (MTU, BSN, Age(min), arp-ufwd, Learn-co/Learn-li,
If-idx/ISN/TxFlood), key words were renamed (`encap_fib_index` became `fib-idx`, `l2 bridge
bd_id` became `L2 bridge bd-id`), lines were added (`Link speed:`, RX/TX queue tables). So the
parsers here read tokens and key words, map a table's rows onto the header that same output
printed, use indentation only to tell a continuation line from a new entry, and never cut
text at column positions (the widths are `%=Ns` formats that shift with every new column).

What is parsed must be whole: a row cut short, a value that is not what its column holds, or
text that is not the command's output at all raises CommandError naming the command, rather
than yielding facts that silently miss half a bridge domain. Where a release does not know a
command ("unknown input"), that section is empty and the reason is kept in `warnings`.

Stdlib only: this runs on the managed host's Python (3.8 and later).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.calipso.topology.plugins.module_utils.sources import (
    CommandError,
    command_line,
)

VPPCTL = "vppctl"
SHOW_VERSION = [VPPCTL, "show", "version"]
SHOW_INTERFACE = [VPPCTL, "show", "interface"]
SHOW_HARDWARE = [VPPCTL, "show", "hardware-interfaces"]
SHOW_MODE = [VPPCTL, "show", "mode"]
SHOW_BRIDGE_DOMAIN = [VPPCTL, "show", "bridge-domain"]
SHOW_VXLAN = [VPPCTL, "show", "vxlan", "tunnel"]
# Every release accepts `address`; `addr` is the fallback for a build that would not.
SHOW_ADDRESS = [VPPCTL, "show", "interface", "address"]
SHOW_ADDR = [VPPCTL, "show", "interface", "addr"]
SHOW_VHOST = [VPPCTL, "show", "vhost-user"]


def bridge_domain_detail_argv(bd_id):
    return [VPPCTL, "show", "bridge-domain", str(bd_id), "detail"]


def _error(argv, message):
    return CommandError(command_line(argv), message)


# A vlib log/clib_warning line that VPP may interleave with CLI output when the CLI shares the
# process's terminal ("0: format_dpdk_device:590: rte_eth_dev_rss_hash_conf_get returned -95").
_LOG_LINE = re.compile(r"^\d+: [\w.-]+:\d+: ")


def _lines(text):
    """The meaningful lines of an output: blank and log lines dropped, carriage returns removed
    (vppctl talks to VPP over a telnet-style session and some releases pass CRLF through),
    trailing spaces stripped, indentation kept (it is what marks a continuation line)."""
    lines = []
    for line in text.replace("\r", "").split("\n"):
        if line.strip() and not _LOG_LINE.match(line):
            lines.append(line.rstrip())
    return lines


def _indent(line):
    return len(line) - len(line.lstrip())


def _int(argv, value, what, line):
    if not re.match(r"^\d+$", value):
        raise _error(argv, "%s is not a number (%r) in line: %s" % (what, value, line.strip()))
    return int(value)


def _ip(argv, value, what, line):
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    raise _error(argv, "%s is not an IP address (%r) in line: %s" % (what, value, line.strip()))


# --- telling an answer from VPP apart from vppctl's own complaints -------------------------------

# vppctl's words when the CLI socket is missing or refuses, across its rewrites: the 17.x-20.x
# client goes through clib_socket_init, the current one calls perror("connect"), older
# API-based wrappers said "connect to vpp failed".
_NOT_RUNNING = re.compile(
    r"clib_socket_init|connect to vpp failed|couldn't connect|vpp is not running|"
    r"^connect: |cli\.sock", re.IGNORECASE)


def not_running_reason(text):
    """vppctl's message if the output says VPP did not answer, else None. Only a short output
    can be that message: a long one is VPP's answer (which may well mention a socket)."""
    lines = _lines(text)
    if 0 < len(lines) <= 3 and any(_NOT_RUNNING.search(line.strip()) for line in lines):
        return " ".join(line.strip() for line in lines)
    return None


# How VPP reports a CLI error: "<command path>: <message>", one line, on stdout, and vppctl
# still exits 0 ("show: unknown input `vxlan tunnel'", "show bridge-domain: No such bridge
# domain 7").
_CLI_ERROR = re.compile(r"^show(?: [\w./-]+)*: \S")


def cli_error(text):
    """The message if the output is a VPP CLI error rather than the command's answer."""
    lines = _lines(text)
    if len(lines) == 1:
        line = lines[0].strip()
        if _CLI_ERROR.match(line) or line.startswith("unknown input"):
            return line
    return None


# --- show version --------------------------------------------------------------------------------

# "vpp v16.09-release built by jenkins on ubuntu1604-... at Thu Sep 29 07:41:12 UTC 2016"
# "vpp v24.02-release built by root on 9e4b3f27a1c8 at 2024-02-28T10:14:12"
_VERSION = re.compile(r"^vpp\s+(?P<version>v?\d\S*)\s+built by\s+(?P<by>\S+)\s+on\s+"
                      r"(?P<host>\S+)\s+at\s+(?P<date>\S.*)$")
_RELEASE = re.compile(r"^v?(?P<release>\d+\.\d+(?:\.\d+)?)")


def parse_version(text):
    """`show version`: the version string as printed, the release number, who built it."""
    lines = _lines(text)
    if not lines:
        raise _error(SHOW_VERSION, "empty output")
    match = _VERSION.match(lines[0].strip())
    if not match:
        raise _error(SHOW_VERSION, "unreadable version line: %s" % lines[0].strip()[:200])
    return {
        "version": match.group("version"),
        "release": _RELEASE.match(match.group("version")).group("release"),
        "build": {"by": match.group("by"), "host": match.group("host"),
                  "date": match.group("date")},
    }


# --- show interface ------------------------------------------------------------------------------

_INTERFACE_HEADER = re.compile(r"^\s*Name\s+Idx\s+State\b")
# name, index, state, then (18.10 and later) the MTU column, then the first counter if any.
_INTERFACE_ROW = re.compile(
    r"^(?P<name>\S+)\s+(?P<index>\d+)\s+(?P<state>\S+)"
    r"(?:\s+(?P<mtu>\d+/\d+/\d+/\d+))?"
    r"(?:\s+(?P<counter>[A-Za-z][\w-]*(?: [A-Za-z][\w-]*)*)\s+(?P<value>\d+))?$")
_COUNTER_LINE = re.compile(r"^\s+(?P<counter>[A-Za-z][\w-]*(?: [A-Za-z][\w-]*)*)"
                           r"\s+(?P<value>\d+)$")
_STATE = re.compile(r"^(up|down|error|bond-slave)(/punt)?$")
# VPP prints only counters that are not zero; these are reported as 0 when absent.
BASE_COUNTERS = ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "drops")


def counter_key(name):
    """'rx packets' -> rx_packets, 'rx-miss' -> rx_miss, 'tx-error' -> tx_error."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def parse_interfaces(text):
    """`show interface`: software interfaces with state, MTU (where the release prints it) and
    counters, in index order."""
    argv = SHOW_INTERFACE
    interfaces = []
    current = None
    for line in _lines(text):
        if _INTERFACE_HEADER.match(line):
            continue
        if line[0].isspace():
            match = _COUNTER_LINE.match(line)
            if current is None or not match:
                raise _error(argv, "unreadable counter line: %s" % line.strip())
            current["counters"][counter_key(match.group("counter"))] = int(match.group("value"))
            continue
        match = _INTERFACE_ROW.match(line)
        if not match or not _STATE.match(match.group("state")):
            raise _error(argv, "unreadable interface line: %s" % line.strip())
        current = _interface(match)
        interfaces.append(current)
    if not interfaces:
        raise _error(argv, "no interface listed (VPP always has local0): empty or cut output")
    return sorted(interfaces, key=lambda i: i["index"])


def _interface(match):
    name, state = match.group("name"), match.group("state")
    mtu = None
    if match.group("mtu"):
        l3, ip4, ip6, mpls = [int(v) for v in match.group("mtu").split("/")]
        mtu = {"l3": l3, "ip4": ip4, "ip6": ip6, "mpls": mpls}
    counters = dict((key, 0) for key in BASE_COUNTERS)
    if match.group("counter"):
        counters[counter_key(match.group("counter"))] = int(match.group("value"))
    parent, dot, sub_id = name.rpartition(".")
    is_sub = bool(dot) and sub_id.isdigit()
    return {
        "name": name,
        "index": int(match.group("index")),
        "state": state,
        "admin_up": state.startswith("up"),
        "mtu": mtu["l3"] if mtu else None,
        "mtu_by_protocol": mtu,
        "parent": parent if is_sub else None,
        "sub_id": int(sub_id) if is_sub else None,
        "counters": counters,
    }


# --- show hardware-interfaces --------------------------------------------------------------------

_HW_HEADER = re.compile(r"^\s*Name\s+Idx\s+Link\s+Hardware\b")
_HW_ROW = re.compile(r"^(?P<name>\S+)\s+(?P<index>\d+)\s+(?P<link>up|down|slave)"
                     r"(?:\s+(?P<hardware>\S.*))?$")
_MAC = re.compile(r"^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}$")
_PCI = re.compile(r"^pci:.*\baddress\s+(?P<address>[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:"
                  r"[0-9a-fA-F]{2}\.[0-9a-fA-F]+)")
_CARRIER = re.compile(r"^carrier\s+(?P<state>up|down)\b")


def parse_hardware_interfaces(text):
    """`show hardware-interfaces`: hardware interfaces with link state, MAC, the device
    description line (e.g. "Intel 82599", "Linux PACKET socket interface v3", "VXLAN"),
    and where printed the link speed, carrier, PCI address and bond members."""
    argv = SHOW_HARDWARE
    blocks = []
    for line in _lines(text):
        if _HW_HEADER.match(line):
            continue
        if line[0].isspace():
            if not blocks:
                raise _error(argv, "detail line before any interface: %s" % line.strip())
            blocks[-1][1].append(line)
            continue
        match = _HW_ROW.match(line)
        if not match:
            raise _error(argv, "unreadable interface line: %s" % line.strip())
        blocks.append((match, []))
    if not blocks:
        raise _error(argv, "no interface listed (VPP always has local0): empty or cut output")
    return sorted((_hardware(argv, m, details) for m, details in blocks),
                  key=lambda h: h["index"])


def _hardware(argv, match, details):
    hardware = match.group("hardware") or ""
    bond = re.match(r"^Slave-Idx:((?:\s+\d+)*)$", hardware)
    facts = {
        "name": match.group("name"),
        "index": int(match.group("index")),
        "link": match.group("link"),
        "hardware": hardware,
        "mac": None,
        "device": None,
        "link_speed": None,
        "carrier": None,
        "pci_address": None,
        "bond_members": [int(i) for i in bond.group(1).split()] if bond else None,
    }
    # The first level of detail lines is the interface's own (address, device class, speed,
    # section titles); deeper lines belong to those sections (queues, DPDK device details).
    level = min(_indent(line) for line in details) if details else 0
    for line in details:
        item = line.strip()
        if _indent(line) > level:
            carrier, pci = _CARRIER.match(item), _PCI.match(item)
            if carrier and facts["carrier"] is None:
                facts["carrier"] = carrier.group("state")
            elif pci and facts["pci_address"] is None:
                facts["pci_address"] = pci.group("address")
        elif item.startswith("Link speed:"):
            facts["link_speed"] = item.split(":", 1)[1].strip()
        elif item.startswith("Ethernet address"):
            fields = item.split()
            if len(fields) != 3 or not _MAC.match(fields[2]):
                raise _error(argv, "%s: unreadable Ethernet address line: %s"
                             % (facts["name"], item))
            facts["mac"] = fields[2].lower()
        elif item.endswith(":"):
            continue  # a section title: "RX Queues:", "TX Queues:", "FEATURES:" ...
        elif facts["device"] is None:
            facts["device"] = item
    return facts


# --- show mode -----------------------------------------------------------------------------------

_MODE_L3 = re.compile(r"^l3\s+(?P<name>\S+)$")
_MODE_BRIDGE = re.compile(r"^l2\s+bridge\s+(?P<name>\S+)\s+bd_id\s+(?P<bd_id>\d+)"
                          r"(?P<bvi>\s+bvi)?\s+shg\s+(?P<shg>\d+)$")
_MODE_XCONNECT = re.compile(r"^l2\s+xconnect\s+(?P<name>\S+)\s+(?P<peer>\S+)$")
# A layer 2 mode a later release may add: kept by name rather than failing the whole module.
_MODE_OTHER = re.compile(r"^l2\s+(?P<kind>(?!bridge\b|xconnect\b)[a-z][\w-]*)\s+(?P<name>\S+)"
                         r"(?:\s+(?P<args>.*))?$")


def parse_modes(text):
    """`show mode`: interface name -> {mode: l3 | bridge (bd_id, shg, bvi) | xconnect (peer)}."""
    argv = SHOW_MODE
    modes = {}
    for line in _lines(text):
        item = line.strip()
        l3, bridge = _MODE_L3.match(item), _MODE_BRIDGE.match(item)
        xconnect, other = _MODE_XCONNECT.match(item), _MODE_OTHER.match(item)
        if l3:
            modes[l3.group("name")] = {"mode": "l3"}
        elif bridge:
            modes[bridge.group("name")] = {"mode": "bridge", "bd_id": int(bridge.group("bd_id")),
                                           "shg": int(bridge.group("shg")),
                                           "bvi": bool(bridge.group("bvi"))}
        elif xconnect:
            modes[xconnect.group("name")] = {"mode": "xconnect", "peer": xconnect.group("peer")}
        elif other:
            modes[other.group("name")] = {"mode": other.group("kind"),
                                          "args": other.group("args") or ""}
        else:
            raise _error(argv, "unreadable mode line: %s" % item)
    if not modes:
        raise _error(argv, "no interface listed (VPP always has local0): empty or cut output")
    return modes


# --- show bridge-domain [<id> detail] ------------------------------------------------------------

# Summary columns across releases -> fact keys. 16.x: ID Index Learning U-Forwrd UU-Flood
# Flooding ARP-Term BVI-Intf; 17.x added BD-ID/BSN/Age(min); 19.x/20.x arp-ufwd, Learn-co,
# Learn-li. A column this table does not know is skipped, not fatal.
_BD_COLUMNS = {
    "id": "bd_id", "bd-id": "bd_id", "index": "index", "bsn": None, "age(min)": "mac_age",
    "learning": "learning", "u-forwrd": "forwarding", "uu-flood": "uu_flood",
    "flooding": "flooding", "arp-term": "arp_term", "arp-ufwd": "arp_ufwd",
    "learn-co": "learn_count", "learn-li": "learn_limit", "bvi-intf": "bvi",
}
_BD_FLAGS = ("learning", "forwarding", "flooding", "arp_term", "arp_ufwd")
_BD_NUMBERS = ("bd_id", "index", "learn_count", "learn_limit")


def _is_bd_header(fields):
    return bool(fields) and fields[0] in ("ID", "BD-ID") and "Index" in fields


def _bridge_domain(argv, header, line):
    fields = line.split()
    if len(fields) != len(header):
        raise _error(argv, "bridge-domain row has %d fields for %d columns (cut short?): %s"
                     % (len(fields), len(header), line.strip()))
    domain = {"bd_id": None, "index": None, "learning": None, "forwarding": None,
              "uu_flood": None, "uu_forward_interface": None, "flooding": None,
              "arp_term": None, "arp_ufwd": None, "mac_age": None, "learn_count": None,
              "learn_limit": None, "bvi": None, "tag": None, "members": [],
              "arp_entries": [], "input_features": None}
    for position, column in enumerate(header):
        key, value = _BD_COLUMNS.get(column.lower()), fields[position]
        if key in _BD_NUMBERS:
            domain[key] = _int(argv, value, column, line)
        elif key in _BD_FLAGS:
            if value not in ("on", "off"):
                raise _error(argv, "%s is neither on nor off (%r): %s"
                             % (column, value, line.strip()))
            domain[key] = value == "on"
        elif key == "mac_age":
            domain[key] = None if value == "off" else _int(argv, value, column, line)
        elif key == "uu_flood":
            # 16.x on/off; later flood/drop, or the interface unknown unicast is forwarded to.
            domain["uu_flood"] = value in ("on", "flood")
            if value not in ("on", "off", "flood", "drop"):
                domain["uu_forward_interface"] = value
        elif key == "bvi":
            domain["bvi"] = None if value == "N/A" else value
    if domain["bd_id"] is None:
        raise _error(argv, "no bridge-domain id column in header")
    return domain


def parse_bridge_domains(text):
    """`show bridge-domain`: the bridge domains with their flags, without members (those come
    from the detail output). The default domain 0, which 16.x lists and on which no operation
    is supported, is left out."""
    argv = SHOW_BRIDGE_DOMAIN
    lines = _lines(text)
    if len(lines) == 1 and lines[0].strip() == "no bridge-domains in use":
        return []
    header = None
    domains = []
    for line in lines:
        fields = line.split()
        if _is_bd_header(fields):
            header = fields
        elif header is None:
            raise _error(argv, "bridge-domain row before the header: %s" % line.strip())
        else:
            domains.append(_bridge_domain(argv, header, line))
    if header is None:
        raise _error(argv, "no bridge-domain table: empty or unreadable output")
    return [d for d in domains if d["bd_id"] != 0]


_MEMBER_INDEX_COLUMNS = ("If-idx", "Index")
_ARP_ENTRY = re.compile(r"^(?P<ip>\S+)\s+=>\s+(?P<mac>\S+)$")
_FEATURE = re.compile(r"^[a-z][a-z0-9-]*$")


def parse_bridge_domain_detail(text, bd_id):
    """`show bridge-domain <id> detail`: the domain's row, its members (interface, sw_if_index,
    split horizon group, BVI, flooding, VLAN tag rewrite), ARP termination entries, tag, and
    (20.x and later) the input feature list."""
    argv = bridge_domain_detail_argv(bd_id)
    lines = _lines(text)
    domain = header = member_columns = None
    in_arp_table = False
    for line in lines:
        fields = line.split()
        item = line.strip()
        if _is_bd_header(fields):
            header = fields
        elif header is not None and domain is None:
            domain = _bridge_domain(argv, header, line)
        elif domain is None:
            raise _error(argv, "unreadable line before the bridge-domain row: %s" % item)
        elif item.startswith("BD-Tag:"):
            domain["tag"] = item.split(":", 1)[1].strip()
        elif item.startswith("IP4/IP6 to MAC table"):
            in_arp_table = True
        elif in_arp_table and _ARP_ENTRY.match(item):
            entry = _ARP_ENTRY.match(item)
            if not _MAC.match(entry.group("mac")):
                raise _error(argv, "unreadable ARP termination entry: %s" % item)
            domain["arp_entries"].append({"ip": _ip(argv, entry.group("ip"), "IP", line),
                                          "mac": entry.group("mac").lower()})
        elif fields[0] == "Interface" and any(c in fields for c in _MEMBER_INDEX_COLUMNS):
            member_columns = fields
        elif member_columns is not None and not in_arp_table:
            domain["members"].append(_member(argv, member_columns, line))
        elif member_columns is None and all(_FEATURE.match(f) for f in fields):
            domain["input_features"] = fields
        else:
            raise _error(argv, "unreadable line: %s" % item)
    if domain is None:
        raise _error(argv, "no bridge-domain row: empty or cut output")
    if domain["bd_id"] != bd_id:
        raise _error(argv, "output is about bridge domain %s" % domain["bd_id"])
    return domain


def _member(argv, columns, line):
    """A member row mapped onto its header; the last column (VLAN-Tag-Rewrite) takes the rest
    of the line, as it holds words ("push-1 dot1q 10")."""
    fields = line.split()
    if len(fields) < len(columns):
        raise _error(argv, "member row has %d fields for %d columns (cut short?): %s"
                     % (len(fields), len(columns), line.strip()))
    values = dict((columns[i], fields[i]) for i in range(len(columns) - 1))
    values[columns[-1]] = " ".join(fields[len(columns) - 1:])
    index = [values[c] for c in _MEMBER_INDEX_COLUMNS if c in values][0]
    bvi, tx_flood = values.get("BVI", "-"), values.get("TxFlood")
    if bvi not in ("*", "-", "uu") or tx_flood not in (None, "*", "-"):
        raise _error(argv, "unreadable member row: %s" % line.strip())
    return {
        "interface": values["Interface"],
        "sw_if_index": _int(argv, index, "member index", line),
        "shg": _int(argv, values.get("SHG", "0"), "SHG", line),
        "bvi": bvi == "*",
        # the unknown-unicast forwarding interface is listed with "uu" in the BVI column
        "uu_forward": bvi == "uu",
        "tx_flood": None if tx_flood is None else tx_flood == "*",
        "vlan_tag_rewrite": values.get("VLAN-Tag-Rewrite"),
    }


# --- show vxlan tunnel ---------------------------------------------------------------------------

_VXLAN_LINE = re.compile(r"^\[(?P<index>\d+)\]\s+(?P<rest>.*)$")
# 16.06 wrote the endpoints as "10.0.0.1 (src) 10.0.0.2 (dst)".
_VXLAN_OLD_ENDPOINTS = re.compile(r"(?P<address>\S+) \((?P<end>src|dst)\)")
# Key words across releases -> fact keys (16.09-17.x underscores, 18.x on dashes).
_VXLAN_KEYS = {
    "instance": "instance", "src": "src", "dst": "dst", "src_port": "src_port",
    "dst_port": "dst_port", "vni": "vni", "fib-idx": "encap_fib_index",
    "encap_fib_index": "encap_fib_index", "sw-if-idx": "sw_if_index",
    "sw_if_index": "sw_if_index", "encap-dpo-idx": "encap_dpo_index",
    "fib_entry_index": "fib_entry_index", "mcast-sw-if-idx": "mcast_sw_if_index",
    "mcast_sw_if_index": "mcast_sw_if_index", "decap_next": "decap_next",
    "flow-index": "flow_index",
}
_VXLAN_TEXT_KEYS = ("src", "dst", "decap_next")


def parse_vxlan_tunnels(text):
    """`show vxlan tunnel`: tunnels with endpoints, VNI, interface index, instance (the number in
    the interface name), UDP ports (20.x and later), FIB and multicast details."""
    argv = SHOW_VXLAN
    lines = _lines(text)
    if not lines:
        raise _error(argv, "empty output (VPP prints 'No vxlan tunnels configured...')")
    if len(lines) == 1 and lines[0].strip().startswith("No vxlan tunnels configured"):
        return []
    return [_vxlan_tunnel(argv, line) for line in lines]


def _vxlan_tunnel(argv, line):
    match = _VXLAN_LINE.match(line.strip())
    if not match:
        raise _error(argv, "unreadable tunnel line: %s" % line.strip())
    rest = _VXLAN_OLD_ENDPOINTS.sub(lambda m: "%s %s" % (m.group("end"), m.group("address")),
                                    match.group("rest"))
    tunnel = {"index": int(match.group("index")), "instance": None, "interface": None,
              "src": None, "dst": None, "vni": None, "sw_if_index": None, "src_port": None,
              "dst_port": None, "encap_fib_index": None, "encap_dpo_index": None,
              "fib_entry_index": None, "mcast_sw_if_index": None, "multicast": None,
              "flow_index": None, "decap_next": "l2"}
    fields = rest.split()
    position = 0
    while position < len(fields):
        field = fields[position]
        if field in _VXLAN_KEYS and position + 1 < len(fields):
            key, value = _VXLAN_KEYS[field], fields[position + 1]
            tunnel[key] = value if key in _VXLAN_TEXT_KEYS else _int(argv, value, field, line)
            position += 2
        elif field.startswith("decap-next-"):
            # "decap-next-drop" or "decap-next-index 5": printed only when not l2
            tunnel["decap_next"] = field[len("decap-next-"):]
            if tunnel["decap_next"] == "index" and position + 1 < len(fields):
                tunnel["decap_next"] = "index %s" % fields[position + 1]
                position += 1
            position += 1
        else:
            position += 1  # e.g. the "[hw ...]" list after flow-index
    for key in ("src", "dst", "vni"):
        if tunnel[key] is None:
            raise _error(argv, "tunnel line without %s (cut short?): %s" % (key, line.strip()))
    tunnel["src"] = _ip(argv, tunnel["src"], "src", line)
    tunnel["dst"] = _ip(argv, tunnel["dst"], "dst", line)
    if tunnel["instance"] is None:
        tunnel["instance"] = tunnel["index"]  # before 18.x the name number is the pool index
    tunnel["multicast"] = ipaddress.ip_address(tunnel["dst"]).is_multicast
    return tunnel  # "interface" is resolved from sw_if_index by collect_vpp


# --- show interface address ----------------------------------------------------------------------

def _cidr(text):
    """'10.0.0.1/24' normalised, or None if it is not an address with a prefix length."""
    if "/" not in text:
        return None
    try:
        return str(ipaddress.ip_interface(text))
    except ValueError:
        return None


_ADDRESS_HEADER = re.compile(r"^(?P<name>\S+) \((?P<state>up|dn)\):(?:\s.*)?$")


def parse_addresses(text, argv=None):
    """`show interface address`: interface name -> its IPv4/IPv6 addresses as CIDRs, for every
    interface listed (an empty list where it has none). Layer 2 and unnumbered lines are
    skipped: modes and bridge domains already say that."""
    argv = argv or SHOW_ADDRESS
    addresses = {}
    current = None
    for line in _lines(text):
        item = line.strip()
        if not line[0].isspace():
            match = _ADDRESS_HEADER.match(line)
            if not match:
                raise _error(argv, "unreadable interface line: %s" % item)
            current = addresses.setdefault(match.group("name"), [])
            continue
        if current is None:
            raise _error(argv, "address line before any interface: %s" % item)
        fields = item.split()
        if fields[0] in ("l2", "L2") or item.startswith("unnumbered"):
            continue
        # "L3 10.0.0.1/24 [ip4 table-id 10 fib-idx 1]" from 17.10 on; "10.0.0.1/24 [table 10]"
        cidr = fields[1] if fields[0] == "L3" and len(fields) > 1 else fields[0]
        address = _cidr(cidr)
        if address is None:
            raise _error(argv, "unreadable address line: %s" % item)
        current.append(address)
    if not addresses:
        raise _error(argv, "no interface listed (VPP always has local0): empty or cut output")
    return addresses


# --- show vhost-user -----------------------------------------------------------------------------

_VHOST_TITLE = "Virtio vhost-user interfaces"
_VHOST_INTERFACE = re.compile(r"^Interface:\s+(?P<name>\S+)\s+\(ifindex\s+(?P<ifindex>\d+)\)$")
_VHOST_SOCKET = re.compile(r"^socket filename\s+(?P<socket>\S.*?)\s+type\s+"
                           r"(?P<mode>server|client)\s+errno\s+\"(?P<errno>[^\"]*)\"$")
_VHOST_REGIONS = re.compile(r"^Memory regions \(total (?P<count>\d+)\)$")
_VHOST_FEATURES = re.compile(r"^features \((?P<value>0x[0-9a-fA-F]+)\):?$")
_VHOST_PROTOCOL = re.compile(r"^protocol features \((?P<value>0x[0-9a-fA-F]+)\)$")
_VHOST_FEATURE = re.compile(r"^(?P<name>(?:VIRTIO|VHOST)_\w+) \((?P<bit>\d+)\)$")
_VHOST_HEADER_SIZE = re.compile(r"^virtio_net_hdr_sz (?P<size>\d+)$")


def parse_vhost_user(text):
    """`show vhost-user`: vhost-user interfaces with socket, server/client role, socket errno,
    negotiated features, memory regions, and whether a guest is connected (socket without
    error and the guest's memory mapped: regions only exist once a VM has attached)."""
    argv = SHOW_VHOST
    lines = _lines(text)
    if not lines or lines[0].strip() != _VHOST_TITLE:
        raise _error(argv, "output does not start with %r" % _VHOST_TITLE)
    interfaces = []
    current = collecting = None
    for line in lines[1:]:
        item = line.strip()
        interface = _VHOST_INTERFACE.match(item)
        if interface:
            current = {"interface": interface.group("name"),
                       "hw_if_index": int(interface.group("ifindex")), "sw_if_index": None,
                       "socket": None, "mode": None, "errno": None, "connected": False,
                       "memory_regions": None, "virtio_net_hdr_sz": None, "features": [],
                       "features_hex": None, "protocol_features": []}
            interfaces.append(current)
            collecting = None
            continue
        if current is None:
            continue  # the "Global:" section
        feature = _VHOST_FEATURE.match(item)
        if feature and collecting:
            current[collecting].append(feature.group("name"))
            continue
        collecting = None
        features, protocol = _VHOST_FEATURES.match(item), _VHOST_PROTOCOL.match(item)
        socket, regions = _VHOST_SOCKET.match(item), _VHOST_REGIONS.match(item)
        header_size = _VHOST_HEADER_SIZE.match(item)
        if features:
            current["features_hex"], collecting = features.group("value").lower(), "features"
        elif protocol:
            collecting = "protocol_features"
        elif socket:
            current.update(socket=socket.group("socket"), mode=socket.group("mode"),
                           errno=socket.group("errno"))
        elif regions:
            current["memory_regions"] = int(regions.group("count"))
        elif header_size:
            current["virtio_net_hdr_sz"] = int(header_size.group("size"))
    for interface in interfaces:
        if interface["socket"] is None or interface["memory_regions"] is None:
            raise _error(argv, "%s: no %s line (cut short?)" % (
                interface["interface"],
                "socket filename" if interface["socket"] is None else "Memory regions"))
        interface["connected"] = interface["errno"] == "Success" \
            and interface["memory_regions"] > 0
    return interfaces


# --- collecting ----------------------------------------------------------------------------------

def empty_facts():
    """The facts' shape with nothing found: the same keys whether VPP is there or not."""
    return {"present": False, "running": False, "error": None, "warnings": [],
            "version": None, "release": None, "build": None,
            "interfaces": [], "hardware_interfaces": [], "modes": {}, "bridge_domains": [],
            "vxlan_tunnels": [], "addresses": {}, "vhost_user": []}


def _required(source, argv):
    """The output of a command every release has; anything but its answer is an error."""
    text = source.run(argv)
    if text is None:
        raise _error(argv, "no output, although VPP answered %r"
                     % command_line(SHOW_VERSION))
    _check_answer(argv, text)
    message = cli_error(text)
    if message:
        raise _error(argv, message)
    return text


def _optional(source, argv, warnings, warn=True):
    """The output of a command a release may lack or refuse: None (with a warning) if it did."""
    text = source.run(argv, check=False)
    if text is None:
        message = "no output (command failed, or not among the recorded outputs)"
    else:
        _check_answer(argv, text)
        message = cli_error(text)
    if message is None:
        return text
    if warn:
        warnings.append("%s: %s" % (command_line(argv), message))
    return None


def _check_answer(argv, text):
    reason = not_running_reason(text)
    if reason:
        raise _error(argv, "VPP stopped answering: %s" % reason)


def collect_vpp(source, params=None):
    """Everything this module reports, from a source of command outputs (live or recorded).

    vppctl not installed: present false. Installed but VPP not answering (no CLI socket, refused,
    vppctl failing): present true, running false and the reason in `error`. Otherwise every
    section, each from its own command.
    """
    facts = empty_facts()
    try:
        text = source.run(SHOW_VERSION)
    except CommandError as exc:  # vppctl exited non-zero: VPP is not answering it
        facts.update(present=True, error=str(exc))
        return facts
    if text is None:
        return facts
    facts["present"] = True
    reason = not_running_reason(text)
    if reason:
        facts["error"] = "%s: %s" % (command_line(SHOW_VERSION), reason)
        return facts
    facts.update(parse_version(text))
    facts["running"] = True
    warnings = facts["warnings"]

    facts["interfaces"] = parse_interfaces(_required(source, SHOW_INTERFACE))
    sw_if_index = dict((i["name"], i["index"]) for i in facts["interfaces"])
    names = dict((i["index"], i["name"]) for i in facts["interfaces"])
    facts["hardware_interfaces"] = parse_hardware_interfaces(_required(source, SHOW_HARDWARE))
    for hardware in facts["hardware_interfaces"]:
        hardware["sw_if_index"] = sw_if_index.get(hardware["name"])

    text = _optional(source, SHOW_MODE, warnings)
    if text is not None:
        facts["modes"] = parse_modes(text)

    text = _optional(source, SHOW_BRIDGE_DOMAIN, warnings)
    if text is not None:
        for domain in parse_bridge_domains(text):
            detail = _optional(source, bridge_domain_detail_argv(domain["bd_id"]), warnings)
            if detail is not None:
                domain = parse_bridge_domain_detail(detail, domain["bd_id"])
            facts["bridge_domains"].append(domain)

    text = _optional(source, SHOW_VXLAN, warnings)
    if text is not None:
        facts["vxlan_tunnels"] = parse_vxlan_tunnels(text)
        for tunnel in facts["vxlan_tunnels"]:
            tunnel["interface"] = names.get(tunnel["sw_if_index"],
                                            "vxlan_tunnel%d" % tunnel["instance"])

    argv, text = SHOW_ADDRESS, _optional(source, SHOW_ADDRESS, warnings, warn=False)
    if text is None:
        argv, text = SHOW_ADDR, _optional(source, SHOW_ADDR, warnings)
    if text is not None:
        facts["addresses"] = parse_addresses(text, argv)

    text = _optional(source, SHOW_VHOST, warnings)
    if text is not None:
        facts["vhost_user"] = parse_vhost_user(text)
        for vhost in facts["vhost_user"]:
            vhost["sw_if_index"] = sw_if_index.get(vhost["interface"])
    return facts
