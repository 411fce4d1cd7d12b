# -*- coding: utf-8 -*-
# Copyright: Calipso developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""VPP facts parsed from vppctl outputs recorded in the formats of three releases.

fixtures/vpp/<release>/<command with spaces as underscores>.txt hold one compute host per
release: 16.09 (the vnet/ tree, before the src/ move of 17.01), 19.08 (MTU column, BD-ID/BSN
table, `L2 bridge bd-id`/`L3` addresses, `instance ... fib-idx` tunnels) and 24.02 (RX/TX queue
tables in hardware, arp-ufwd/Learn-co/Learn-li columns, UDP ports on tunnels). The layouts follow
VPP's own format strings for each release; the names, addresses and counters are invented for
these fixtures (fixtures/vpp/README.md says where each format was read). The expectations below
restate what the fixture text says.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

import pytest

from ansible_collections.calipso.topology.plugins.module_utils.sources import (
    CommandError,
    RecordedSource,
)
from ansible_collections.calipso.topology.plugins.module_utils.vpp import (
    collect_vpp,
    parse_bridge_domain_detail,
    parse_interfaces,
)
from ansible_collections.calipso.topology.tests.unit.plugins.recorded import recorded_folder

RELEASES = ["16.09", "19.08", "24.02"]


def load_release(release):
    """{command line: recorded stdout} for every fixture file of a release."""
    return recorded_folder("vpp", release)


def facts_of(outputs):
    return collect_vpp(RecordedSource(outputs), {})


# What each fixture says, restated.
EXPECTED = {
    "16.09": {
        "version": "v16.09-release", "release": "16.09",
        "build": {"by": "jenkins", "host": "ubuntu1604-basebuild-4c-4g-2291",
                  "date": "Thu Sep 29 07:41:12 UTC 2016"},
        "interfaces": {
            "local0": (0, "down"), "GigabitEthernet0/8/0": (1, "up"),
            "GigabitEthernet0/9/0": (2, "up"), "VirtualEthernet0/0/0": (3, "up"),
            "VirtualEthernet0/0/1": (4, "down"), "GigabitEthernet0/9/0.1101": (5, "up"),
            "loop0": (6, "up"), "vxlan_tunnel0": (7, "up"), "vxlan_tunnel1": (8, "up"),
        },
        "counters": {"GigabitEthernet0/8/0": {"rx_packets": 184223, "rx_bytes": 21790135,
                                              "tx_packets": 176410, "tx_bytes": 19488702,
                                              "drops": 37, "ip4": 184101}},
        "mtu": {"GigabitEthernet0/8/0": None},
        "hardware": {
            "GigabitEthernet0/8/0": (1, "up", "52:54:00:1c:7a:10", "Intel 82540EM (e1000)",
                                     None, "up", None),
            "VirtualEthernet0/0/1": (4, "down", "02:fe:9b:77:e0:02", None, None, None, None),
            "local0": (0, "down", None, "local", None, None, None),
            "vxlan_tunnel1": (7, "up", None, "VXLAN", None, None, None),
        },
        "modes": {"loop0": {"mode": "bridge", "bd_id": 1, "shg": 0, "bvi": True},
                  "vxlan_tunnel0": {"mode": "bridge", "bd_id": 1, "shg": 1, "bvi": False},
                  "GigabitEthernet0/8/0": {"mode": "l3"}},
        "bridge_domains": {
            1: {"bvi": "loop0", "tag": None, "members": [
                ("VirtualEthernet0/0/0", 3, 0, False, "none"),
                ("vxlan_tunnel0", 7, 1, False, "none"),
                ("vxlan_tunnel1", 8, 1, False, "none"),
                ("loop0", 6, 0, True, "none")]},
            1101: {"bvi": None, "tag": None, "members": [
                ("GigabitEthernet0/9/0.1101", 5, 0, False, "pop-1"),
                ("VirtualEthernet0/0/1", 4, 0, False, "none")]},
        },
        "tunnels": [("vxlan_tunnel0", 0, "192.168.50.16", "192.168.50.17", 1001, 7),
                    ("vxlan_tunnel1", 1, "192.168.50.16", "192.168.50.18", 1001, 8)],
        "addresses": {"GigabitEthernet0/8/0": ["192.168.50.16/24"], "loop0": ["10.1.0.1/24"],
                      "VirtualEthernet0/0/0": [], "local0": []},
        "vhost": {
            "VirtualEthernet0/0/0": ("/var/run/vpp/vhost-3f1a9c2e-77b0.sock", "server",
                                     "Success", 2, True),
            "VirtualEthernet0/0/1": ("/var/run/vpp/vhost-8c04d512-1e9a.sock", "server",
                                     "Success", 0, False),
        },
    },
    "19.08": {
        "version": "v19.08.1-release", "release": "19.08.1",
        "build": {"by": "root", "host": "5f3a1e0c9b7d", "date": "2019-09-18T14:27:05"},
        "interfaces": {
            "local0": (0, "down"), "TenGigabitEthernet5/0/0": (1, "up"),
            "TenGigabitEthernet5/0/1": (2, "up"), "loop0": (3, "up"),
            "VirtualEthernet0/0/0": (4, "up"), "VirtualEthernet0/0/1": (5, "up"),
            "vxlan_tunnel0": (6, "up"), "vxlan_tunnel1": (7, "up"),
            "TenGigabitEthernet5/0/1.2001": (8, "up"), "TenGigabitEthernet5/0/1.2002": (9, "up"),
            "VirtualEthernet0/0/2": (10, "up"),
        },
        "counters": {"TenGigabitEthernet5/0/0": {"rx_packets": 8812245, "tx_bytes": 1187705530,
                                                 "punt": 2, "ip6": 421, "rx_miss": 17},
                     "VirtualEthernet0/0/1": {"rx_packets": 0, "tx_packets": 1204,
                                              "tx_error": 1204}},
        "mtu": {"TenGigabitEthernet5/0/0": 9000, "local0": 0},
        "hardware": {
            "TenGigabitEthernet5/0/0": (1, "up", "90:e2:ba:4c:1f:60", "Intel 82599", "10 Gbps",
                                        "up", "0000:05:00.00"),
            "VirtualEthernet0/0/1": (5, "down", "02:fe:31:a8:52:d6", None, "unknown", None,
                                     None),
            "VirtualEthernet0/0/2": (8, "up", "02:fe:70:2b:9f:13", None, "unknown", None, None),
            "vxlan_tunnel0": (6, "up", None, "VXLAN", "unknown", None, None),
        },
        "modes": {"loop0": {"mode": "bridge", "bd_id": 100, "shg": 0, "bvi": True},
                  "TenGigabitEthernet5/0/1.2002": {"mode": "xconnect",
                                                   "peer": "VirtualEthernet0/0/2"},
                  "VirtualEthernet0/0/2": {"mode": "xconnect",
                                           "peer": "TenGigabitEthernet5/0/1.2002"},
                  "local0": {"mode": "l3"}},
        "bridge_domains": {
            100: {"bvi": "loop0", "tag": "net-4a1f09e2", "members": [
                ("loop0", 3, 0, True, "none"),
                ("VirtualEthernet0/0/0", 4, 0, False, "none"),
                ("vxlan_tunnel0", 6, 1, False, "none"),
                ("vxlan_tunnel1", 7, 1, False, "none")]},
            2001: {"bvi": None, "tag": None, "members": [
                ("VirtualEthernet0/0/1", 5, 0, False, "none"),
                ("TenGigabitEthernet5/0/1.2001", 8, 0, False, "pop-1")]},
        },
        "tunnels": [("vxlan_tunnel0", 0, "172.16.10.19", "172.16.10.20", 100, 6),
                    ("vxlan_tunnel1", 1, "172.16.10.19", "172.16.10.21", 100, 7)],
        "addresses": {"TenGigabitEthernet5/0/0": ["172.16.10.19/24", "2001:db8:10::19/64"],
                      "loop0": ["10.100.0.1/24"], "TenGigabitEthernet5/0/1.2002": [],
                      "local0": []},
        "vhost": {
            "VirtualEthernet0/0/0": ("/var/run/vpp/vhost-6d2b1c90.sock", "server", "Success",
                                     2, True),
            "VirtualEthernet0/0/1": ("/var/run/vpp/vhost-e81f44a7.sock", "client",
                                     "Connection refused", 0, False),
            "VirtualEthernet0/0/2": ("/var/run/vpp/vhost-0b7e55d3.sock", "server", "Success",
                                     2, True),
        },
    },
    "24.02": {
        "version": "v24.02-release", "release": "24.02",
        "build": {"by": "root", "host": "9e4b3f27a1c8", "date": "2024-02-28T10:14:12"},
        "interfaces": {
            "local0": (0, "down"), "TenGigabitEthernet3b/0/0": (1, "up"),
            "TenGigabitEthernet3b/0/1": (2, "up"), "host-ens7": (3, "up"), "loop0": (4, "up"),
            "VirtualEthernet0/0/0": (5, "up"), "VirtualEthernet0/0/1": (6, "up"),
            "vxlan_tunnel10": (7, "up"), "vxlan_tunnel11": (8, "up"),
            "TenGigabitEthernet3b/0/1.3001": (9, "up"), "VirtualEthernet0/0/2": (10, "up"),
        },
        "counters": {"TenGigabitEthernet3b/0/0": {"rx_packets": 40213377, "drops": 1302,
                                                  "rx_miss": 211, "tx_error": 4},
                     "host-ens7": {"ip4": 65001, "tx_bytes": 8900122}},
        "mtu": {"host-ens7": 1500, "TenGigabitEthernet3b/0/1.3001": 9000},
        "hardware": {
            "TenGigabitEthernet3b/0/1": (2, "up", "3c:fd:fe:9d:21:a1", "Intel 82599", "10 Gbps",
                                         "up", "0000:3b:00.01"),
            "host-ens7": (3, "up", "02:fe:4e:60:b1:27", "Linux PACKET socket interface v3",
                          "unknown", None, None),
            "VirtualEthernet0/0/2": (9, "down", "02:fe:19:c2:a8:e4", None, "unknown", None,
                                     None),
            "vxlan_tunnel11": (8, "up", "02:fe:61:7d:e3:40", None, "unknown", None, None),
        },
        "modes": {"loop0": {"mode": "bridge", "bd_id": 10, "shg": 0, "bvi": True},
                  "VirtualEthernet0/0/2": {"mode": "bridge", "bd_id": 3001, "shg": 0,
                                           "bvi": False},
                  "host-ens7": {"mode": "l3"}},
        "bridge_domains": {
            10: {"bvi": "loop0", "tag": "tenant-blue", "members": [
                ("loop0", 4, 0, True, "none"),
                ("VirtualEthernet0/0/0", 5, 0, False, "none"),
                ("VirtualEthernet0/0/1", 6, 0, False, "none"),
                ("vxlan_tunnel10", 7, 1, False, "none"),
                ("vxlan_tunnel11", 8, 1, False, "none")]},
            3001: {"bvi": None, "tag": "provider-3001", "members": [
                ("TenGigabitEthernet3b/0/1.3001", 9, 0, False, "pop-1"),
                ("VirtualEthernet0/0/2", 10, 0, False, "none")]},
        },
        "tunnels": [("vxlan_tunnel10", 10, "10.20.0.24", "10.20.0.25", 5010, 7),
                    ("vxlan_tunnel11", 11, "10.20.0.24", "239.1.1.10", 5010, 8)],
        "addresses": {"TenGigabitEthernet3b/0/0": ["10.20.0.24/24", "fd00:20::24/64"],
                      "host-ens7": ["192.168.122.24/24"],
                      "loop0": ["10.10.0.1/24", "fd00:10::1/64"], "local0": []},
        "vhost": {
            "VirtualEthernet0/0/0": ("/var/run/vpp/vhu-2b6e0f1c-9a.sock", "server", "Success",
                                     2, True),
            "VirtualEthernet0/0/1": ("/var/run/vpp/vhu-71c3aa05-4d.sock", "server", "Success",
                                     2, True),
            "VirtualEthernet0/0/2": ("/var/run/vpp/vhu-d90e2277-13.sock", "client",
                                     "No such file or directory", 0, False),
        },
    },
}


@pytest.fixture(params=RELEASES)
def release(request):
    return request.param


def test_version_and_presence(release):
    facts = facts_of(load_release(release))
    expected = EXPECTED[release]
    assert facts["present"] is True and facts["running"] is True and facts["error"] is None
    assert facts["warnings"] == []
    assert facts["version"] == expected["version"]
    assert facts["release"] == expected["release"]
    assert facts["build"] == expected["build"]


def test_interfaces(release):
    facts = facts_of(load_release(release))
    expected = EXPECTED[release]
    found = dict((i["name"], (i["index"], i["state"])) for i in facts["interfaces"])
    assert found == expected["interfaces"]
    assert [i["index"] for i in facts["interfaces"]] == sorted(found[n][0] for n in found)
    by_name = dict((i["name"], i) for i in facts["interfaces"])
    for name, counters in expected["counters"].items():
        for key, value in counters.items():
            assert by_name[name]["counters"][key] == value, (name, key)
    for name, mtu in expected["mtu"].items():
        assert by_name[name]["mtu"] == mtu
    # zero counters are not printed by VPP, and are reported as 0
    assert by_name["local0"]["counters"] == {"rx_packets": 0, "rx_bytes": 0, "tx_packets": 0,
                                             "tx_bytes": 0, "drops": 0}
    subs = [i for i in facts["interfaces"] if i["parent"]]
    assert len(subs) >= 1
    for sub in subs:
        assert sub["name"] == "%s.%d" % (sub["parent"], sub["sub_id"])
        assert sub["parent"] in by_name


def test_hardware_interfaces(release):
    facts = facts_of(load_release(release))
    hardware = dict((h["name"], h) for h in facts["hardware_interfaces"])
    # sub-interfaces are software only
    assert not any("." in name for name in hardware)
    for name, values in EXPECTED[release]["hardware"].items():
        found = hardware[name]
        assert (found["index"], found["link"], found["mac"], found["device"],
                found["link_speed"], found["carrier"], found["pci_address"]) == values, name
    software = dict((i["name"], i["index"]) for i in facts["interfaces"])
    for found in hardware.values():
        assert found["sw_if_index"] == software[found["name"]]


def test_modes(release):
    facts = facts_of(load_release(release))
    modes = facts["modes"]
    assert set(modes) == set(EXPECTED[release]["interfaces"])
    for name, mode in EXPECTED[release]["modes"].items():
        assert modes[name] == mode
    # show mode and the bridge-domain members agree on who is where
    bridged = sorted((m["bd_id"], name) for name, m in modes.items() if m["mode"] == "bridge")
    members = sorted((d["bd_id"], m["interface"]) for d in facts["bridge_domains"]
                     for m in d["members"])
    assert bridged == members


def test_bridge_domains(release):
    facts = facts_of(load_release(release))
    domains = dict((d["bd_id"], d) for d in facts["bridge_domains"])
    expected = EXPECTED[release]["bridge_domains"]
    assert sorted(domains) == sorted(expected)  # the default domain 0 is never reported
    for bd_id, want in expected.items():
        domain = domains[bd_id]
        assert domain["bvi"] == want["bvi"] and domain["tag"] == want["tag"]
        assert [(m["interface"], m["sw_if_index"], m["shg"], m["bvi"], m["vlan_tag_rewrite"])
                for m in domain["members"]] == want["members"]
        assert domain["learning"] is True and domain["forwarding"] is True
        assert domain["flooding"] is True


def test_vxlan_tunnels(release):
    facts = facts_of(load_release(release))
    assert [(t["interface"], t["instance"], t["src"], t["dst"], t["vni"], t["sw_if_index"])
            for t in facts["vxlan_tunnels"]] == EXPECTED[release]["tunnels"]
    for tunnel in facts["vxlan_tunnels"]:
        assert tunnel["decap_next"] == "l2" and tunnel["encap_fib_index"] == 0


def test_addresses(release):
    facts = facts_of(load_release(release))
    assert set(facts["addresses"]) == set(EXPECTED[release]["interfaces"])
    for name, cidrs in EXPECTED[release]["addresses"].items():
        assert facts["addresses"][name] == cidrs


def test_vhost_user(release):
    facts = facts_of(load_release(release))
    vhost = dict((v["interface"], v) for v in facts["vhost_user"])
    assert sorted(vhost) == sorted(EXPECTED[release]["vhost"])
    software = dict((i["name"], i["index"]) for i in facts["interfaces"])
    hardware = dict((h["name"], h["index"]) for h in facts["hardware_interfaces"])
    for name, (socket, mode, errno, regions, connected) in EXPECTED[release]["vhost"].items():
        found = vhost[name]
        assert (found["socket"], found["mode"], found["errno"], found["memory_regions"],
                found["connected"]) == (socket, mode, errno, regions, connected)
        assert found["sw_if_index"] == software[name]
        assert found["hw_if_index"] == hardware[name]


def test_release_specific_columns():
    old = facts_of(load_release("16.09"))
    member = old["bridge_domains"][0]["members"][0]
    assert member["tx_flood"] is None  # no TxFlood column in 16.09
    assert old["bridge_domains"][0]["mac_age"] is None
    assert old["bridge_domains"][0]["learn_limit"] is None
    assert old["vxlan_tunnels"][0]["fib_entry_index"] == 14
    assert old["vxlan_tunnels"][0]["src_port"] is None
    assert old["vhost_user"][0]["features"] == [
        "VIRTIO_NET_F_MRG_RXBUF", "VIRTIO_NET_F_GUEST_ANNOUNCE", "VIRTIO_F_ANY_LAYOUT",
        "VIRTIO_F_INDIRECT_DESC"]
    assert old["vhost_user"][0]["features_hex"] == "0x18208000"

    middle = facts_of(load_release("19.08"))
    bd100 = [d for d in middle["bridge_domains"] if d["bd_id"] == 100][0]
    assert bd100["mac_age"] == 5 and bd100["arp_ufwd"] is None
    assert all(m["tx_flood"] for m in bd100["members"])
    assert middle["vxlan_tunnels"][1]["encap_dpo_index"] == 7
    assert middle["vhost_user"][0]["protocol_features"] == [
        "VHOST_USER_PROTOCOL_F_MQ", "VHOST_USER_PROTOCOL_F_LOG_SHMFD"]
    assert middle["interfaces"][1]["mtu_by_protocol"] == {"l3": 9000, "ip4": 0, "ip6": 0,
                                                          "mpls": 0}

    current = facts_of(load_release("24.02"))
    bd10, bd3001 = current["bridge_domains"]
    assert (bd10["arp_term"], bd10["arp_ufwd"], bd10["learn_count"], bd10["learn_limit"]) == (
        True, False, 6, 16777216)
    assert bd10["arp_entries"] == [{"ip": "10.10.0.11", "mac": "fa:16:3e:5a:20:c1"},
                                   {"ip": "10.10.0.12", "mac": "fa:16:3e:0d:97:44"}]
    assert "l2-learn" in bd10["input_features"]
    assert bd3001["uu_flood"] is False and bd3001["uu_forward_interface"] is None
    unicast, group = current["vxlan_tunnels"]
    assert (unicast["src_port"], unicast["dst_port"], unicast["multicast"]) == (4789, 4789, False)
    assert (group["multicast"], group["mcast_sw_if_index"], group["index"]) == (True, 1, 1)


# --- tolerance: column widths, CRLF, interleaved log lines ---------------------------------------

def _respace(outputs, replace):
    return dict((cmd, re.sub(r"(?<=\S)( {2,})(?=\S)", replace, text))
                for cmd, text in outputs.items())


def test_column_widths_do_not_matter(release):
    outputs = load_release(release)
    reference = facts_of(outputs)
    assert facts_of(_respace(outputs, lambda m: " ")) == reference
    assert facts_of(_respace(outputs, lambda m: m.group(1) + "     ")) == reference


def test_crlf_and_log_lines_are_tolerated(release):
    outputs = load_release(release)
    reference = facts_of(outputs)
    crlf = dict((cmd, text.replace("\n", "\r\n")) for cmd, text in outputs.items())
    assert facts_of(crlf) == reference
    noisy = dict(outputs)
    lines = noisy["vppctl show hardware-interfaces"].split("\n")
    lines.insert(1, "0: format_dpdk_device:590: rte_eth_dev_rss_hash_conf_get returned -95")
    noisy["vppctl show hardware-interfaces"] = "\n".join(lines)
    assert facts_of(noisy) == reference


# --- malformed, truncated, garbage, empty --------------------------------------------------------

BRIDGE_DOMAIN_IDS = {"16.09": (1, 1101), "19.08": (100, 2001), "24.02": (10, 3001)}


def _cut_after(text, marker, extra=0):
    at = text.index(marker) + len(marker) + extra
    return text[:at]


def _cut_row(text, header_marker, keep):
    """Cut the first line after the one holding header_marker, keeping `keep` characters."""
    start = text.index("\n", text.index(header_marker)) + 1
    return text[:start + keep]


# the first address line, up to (not including) its prefix length
ADDRESS_LINE = re.compile(r"\n  (?:L3 )?[0-9a-fA-F.:]+(?=/)")

CUTS = {
    "vppctl show version": lambda t: _cut_after(t, "built by"),
    "vppctl show interface": lambda t: _cut_after(t, "rx pack"),
    "vppctl show hardware-interfaces": lambda t: _cut_after(t, "Ethernet address ", 8),
    "vppctl show mode": lambda t: _cut_after(t, "bd_id"),
    "vppctl show bridge-domain": lambda t: _cut_row(t, "Index", 12),
    "vppctl show vxlan tunnel": lambda t: _cut_after(t, "dst ", 3),
    "vppctl show interface address": lambda t: t[:re.search(ADDRESS_LINE, t).end()],
    "vppctl show vhost-user": lambda t: _cut_after(t, 'errno "', 3),
}


def _bad_cases():
    for release in RELEASES:
        commands = list(CUTS) + ["vppctl show bridge-domain %d detail" % bd
                                 for bd in BRIDGE_DOMAIN_IDS[release]]
        for command in commands:
            for kind in ("cut", "garbage", "empty"):
                yield pytest.param(release, command, kind,
                                   id="%s-%s-%s" % (release, command[7:], kind))


def _spoil(text, command, kind):
    if kind == "empty":
        return ""
    if kind == "garbage":
        return "%% not vppctl output\n@@@ 1 2 3 {}\n"
    if command in CUTS:
        return CUTS[command](text)
    return _cut_row(text, "VLAN-Tag-Rewrite", 20)  # a bridge-domain member row


@pytest.mark.parametrize("release, command, kind", list(_bad_cases()))
def test_unreadable_output_names_the_command(release, command, kind):
    outputs = load_release(release)
    outputs[command] = _spoil(outputs[command], command, kind)
    with pytest.raises(CommandError) as error:
        facts_of(outputs)
    assert error.value.command == command
    assert str(error.value).startswith(command + ": ")


def test_cut_member_row_message_says_so():
    text = load_release("19.08")["vppctl show bridge-domain 100 detail"]
    with pytest.raises(CommandError) as error:
        parse_bridge_domain_detail(_cut_row(text, "VLAN-Tag-Rewrite", 20), 100)
    assert "cut short" in str(error.value)
    assert error.value.command == "vppctl show bridge-domain 100 detail"


def test_cut_address_and_endpoint_messages():
    outputs = load_release("24.02")
    outputs["vppctl show interface address"] = CUTS["vppctl show interface address"](
        outputs["vppctl show interface address"])
    with pytest.raises(CommandError, match="unreadable address line: L3 10.20.0.24$"):
        facts_of(outputs)
    outputs = load_release("24.02")
    outputs["vppctl show vxlan tunnel"] = outputs["vppctl show vxlan tunnel"].replace(
        "dst 10.20.0.25", "dst 10.20.0")
    with pytest.raises(CommandError, match="dst is not an IP address"):
        facts_of(outputs)


def test_counter_line_without_value_is_an_error():
    text = load_release("24.02")["vppctl show interface"]
    with pytest.raises(CommandError, match="unreadable counter line: rx bytes$"):
        parse_interfaces(re.sub(r"(rx bytes)\s+5501288319", r"\1", text))


# --- sections a release does not know, VPP absent, VPP not answering -----------------------------

UNKNOWN_VXLAN = "show: unknown input `vxlan tunnel'\n"


def test_unknown_subcommand_gives_an_empty_section_and_a_warning():
    outputs = load_release("24.02")
    outputs["vppctl show vxlan tunnel"] = UNKNOWN_VXLAN  # vxlan plugin disabled
    facts = facts_of(outputs)
    assert facts["running"] is True and facts["vxlan_tunnels"] == []
    assert facts["warnings"] == ["vppctl show vxlan tunnel: " + UNKNOWN_VXLAN.strip()]
    assert facts["bridge_domains"] and facts["vhost_user"]  # the rest is still there


def test_addresses_fall_back_to_addr():
    outputs = load_release("16.09")
    text = outputs.pop("vppctl show interface address")
    outputs["vppctl show interface address"] = "show interface: unknown input `address'\n"
    outputs["vppctl show interface addr"] = text
    facts = facts_of(outputs)
    assert facts["addresses"]["GigabitEthernet0/8/0"] == ["192.168.50.16/24"]
    assert facts["warnings"] == []
    del outputs["vppctl show interface addr"]
    facts = facts_of(outputs)
    assert facts["addresses"] == {}
    assert facts["warnings"] == ["vppctl show interface addr: no output (command failed, or not "
                                 "among the recorded outputs)"]


def test_missing_detail_keeps_the_domain_without_members():
    outputs = load_release("19.08")
    outputs["vppctl show bridge-domain 2001 detail"] = (
        "show bridge-domain: No such bridge domain 2001\n")  # deleted between the two commands
    facts = facts_of(outputs)
    bd2001 = [d for d in facts["bridge_domains"] if d["bd_id"] == 2001][0]
    assert bd2001["members"] == [] and bd2001["bvi"] is None
    assert facts["warnings"] == ["vppctl show bridge-domain 2001 detail: show bridge-domain: "
                                 "No such bridge domain 2001"]


def test_no_bridge_domains_and_no_tunnels():
    outputs = load_release("24.02")
    outputs["vppctl show bridge-domain"] = "no bridge-domains in use\n"
    outputs["vppctl show vxlan tunnel"] = "No vxlan tunnels configured...\n"
    facts = facts_of(outputs)
    assert facts["bridge_domains"] == [] and facts["vxlan_tunnels"] == []
    assert facts["warnings"] == []


EMPTY_SECTIONS = {"version": None, "release": None, "build": None, "interfaces": [],
                  "hardware_interfaces": [], "modes": {}, "bridge_domains": [],
                  "vxlan_tunnels": [], "addresses": {}, "vhost_user": [], "warnings": []}


def test_vppctl_absent():
    facts = facts_of({})
    assert facts == dict(EMPTY_SECTIONS, present=False, running=False, error=None)
    facts = facts_of({"vppctl show version": None})
    assert facts["present"] is False


@pytest.mark.parametrize("message", [
    "clib_socket_init: connect (fd 3, '/run/vpp/cli.sock'): No such file or directory\n",
    "clib_socket_init: connect (fd 3, '/run/vpp/cli.sock'): Connection refused\r\n",
    "vppctl: connect to vpp failed\n",
    "connect: Permission denied\n",
])
def test_vpp_not_answering_printed_by_vppctl(message):
    facts = facts_of({"vppctl show version": message})
    assert facts["present"] is True and facts["running"] is False
    assert facts["error"] == "vppctl show version: " + message.strip()
    assert dict((k, facts[k]) for k in EMPTY_SECTIONS) == EMPTY_SECTIONS


class FailingSource:
    """A live source whose vppctl exits non-zero, as the current vppctl does without VPP."""

    def run(self, argv, check=True):
        raise CommandError(" ".join(argv), "exited 1: connect: No such file or directory")


def test_vpp_not_answering_vppctl_exit_status():
    facts = collect_vpp(FailingSource(), {})
    assert facts["present"] is True and facts["running"] is False
    assert facts["error"] == "vppctl show version: exited 1: connect: No such file or directory"


def test_vpp_stopping_during_collection_names_the_command():
    outputs = load_release("19.08")
    outputs["vppctl show bridge-domain"] = (
        "clib_socket_init: connect (fd 3, '/run/vpp/cli.sock'): Connection refused\n")
    with pytest.raises(CommandError) as error:
        facts_of(outputs)
    assert error.value.command == "vppctl show bridge-domain"
    assert "VPP stopped answering" in str(error.value)


def test_required_section_missing_is_an_error():
    outputs = load_release("16.09")
    del outputs["vppctl show hardware-interfaces"]
    with pytest.raises(CommandError) as error:
        facts_of(outputs)
    assert error.value.command == "vppctl show hardware-interfaces"
