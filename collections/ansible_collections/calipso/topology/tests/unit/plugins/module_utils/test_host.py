# -*- coding: utf-8 -*-
# Copyright: Calipso developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Host networking facts (module_utils/host.py) from recorded outputs.

fixtures/host/lab/<host>/ hold outputs captured over SSH from the local lab (Debian 12, iproute2
6.1): the controller with its qdhcp/qrouter namespaces, compute1 (OVS hybrid: qbr/qvb/qvo/tap),
compute3 (Linux bridge + vxlan). fixtures/host/formats/ hold outputs in the formats of real
releases (Linux bonding driver, libvirt/Nova domain XML, virsh tables, lldpd 1.0.x JSON, ethtool),
fixtures/host/site/compute-7/ a bonded compute node composed from them, and fixtures/host/local/vm/
the real virtio NIC of the development VM; the README there says where each file comes from.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.calipso.topology.plugins.module_utils import host
from ansible_collections.calipso.topology.plugins.module_utils.host import (
    collect_host,
    collect_libvirt,
    collect_lldp,
    collect_namespaces,
    namespace_kind,
    parse_bonding,
    parse_domain_xml,
    parse_duplex,
    parse_ethtool_info,
    parse_ip_interfaces,
    parse_lldp_neighbors,
    parse_netns_json,
    parse_netns_text,
    parse_routes,
    parse_speed,
    parse_virsh_list,
    parse_virsh_names,
)
from ansible_collections.calipso.topology.plugins.module_utils.sources import (
    CommandError,
    RecordedSource,
)
from ansible_collections.calipso.topology.tests.unit.plugins.recorded import fixture_text


def read(*parts):
    return fixture_text("host", *parts)


def fmt(name):
    return read("formats", name)


def recorded(host_dir):
    """{command line: stdout or None} from a host fixture's commands.json manifest."""
    manifest = json.loads(read(host_dir, "commands.json"))
    return dict((command, read(host_dir, path) if path else None)
                for command, path in manifest.items())


class FakeSource:
    """A recorded source that can also fail a command the way LiveSource does, and records
    which commands were asked for."""

    def __init__(self, outputs, errors=None):
        self.outputs = dict(outputs)
        self.errors = dict(errors or {})
        self.asked = []

    def run(self, argv, check=True):
        key = " ".join(argv)
        self.asked.append(key)
        if key in self.errors:
            if check:
                raise CommandError(key, self.errors[key])
            return None
        return self.outputs.get(key)


def by_name(items):
    return dict((item["name"], item) for item in items)


# ---------------------------------------------------------------------------------------------
# The lab hosts


@pytest.fixture(scope="module")
def controller():
    return collect_host(RecordedSource(recorded("lab/controller")), {})


def test_lab_controller_is_all_virtual(controller):
    assert controller["hostname"] == "controller"
    assert controller["physical_nics"] == []
    interfaces = by_name(controller["interfaces"])
    assert interfaces["lo"]["kind"] == "loopback"
    for name in ("eth0", "eth1", "eth2"):
        assert interfaces[name]["kind"] == "veth" and interfaces[name]["physical"] is False
        assert interfaces[name]["peer_netnsid"] == 0 and interfaces[name]["driver"] is None
    # OVS userspace-datapath bridges are tap devices in the kernel
    for name in ("br-int", "br-tun", "br-ex", "br-phy", "ovs-netdev"):
        assert interfaces[name]["kind"] == "tap"
    assert [a["cidr"] for a in interfaces["eth0"]["addresses"]][0] == "10.249.0.10/24"
    assert interfaces["br-phy"]["addresses"][0]["cidr"] == "10.249.1.10/24"
    assert interfaces["br-int"]["operstate"] == "down" and not interfaces["br-int"]["carrier"]
    assert interfaces["eth0"]["admin_up"] and interfaces["eth0"]["carrier"]
    assert controller["bonds"] == []
    assert controller["default_route"] is None
    assert sorted(r["dst"] for r in controller["routes"]) == ["10.249.0.0/24", "10.249.1.0/24"]
    assert controller["libvirt"] == {"present": False, "running": False, "error": None,
                                     "domains": []}
    assert controller["lldp"] == {"present": False, "running": False, "error": None,
                                  "neighbors": []}


def test_lab_controller_namespaces_are_the_neutron_services(controller):
    namespaces = by_name(controller["namespaces"])
    kinds = sorted(ns["kind"] for ns in namespaces.values())
    assert kinds == ["qdhcp"] * 4 + ["qrouter"]
    for name, ns in namespaces.items():
        assert ns["error"] is None
        assert name == "%s-%s" % (ns["kind"], ns["object_id"])
        assert isinstance(ns["id"], int)
        assert by_name(ns["interfaces"])["lo"]["kind"] == "loopback"
    dhcp_subnets = {}
    for ns in namespaces.values():
        if ns["kind"] != "qdhcp":
            continue
        ports = [i for i in ns["interfaces"] if i["name"] != "lo"]
        assert len(ports) == 1
        port = ports[0]
        assert port["name"].startswith("tap") and port["kind"] == "tap"
        assert port["mac"].startswith("fa:16:3e:")
        inet = [a for a in port["addresses"] if a["family"] == "inet"]
        assert len(inet) == 1 and inet[0]["address"].endswith(".2") and inet[0]["prefixlen"] == 24
        dhcp_subnets[inet[0]["address"].rsplit(".", 1)[0]] = ns["object_id"]
    router = [ns for ns in namespaces.values() if ns["kind"] == "qrouter"][0]
    router_ports = by_name(router["interfaces"])
    qr = dict((name, i) for name, i in router_ports.items() if name.startswith("qr-"))
    qg = [i for name, i in router_ports.items() if name.startswith("qg-")]
    assert len(qr) == 3 and len(qg) == 1
    # each router interface is the .1 of a subnet that a DHCP namespace serves with its .2
    for port in qr.values():
        inet = [a["address"] for a in port["addresses"] if a["family"] == "inet"][0]
        assert inet.endswith(".1") and inet.rsplit(".", 1)[0] in dhcp_subnets
    assert qg[0]["addresses"][0]["cidr"] == "10.249.2.100/24"


def test_lab_compute1_hybrid_plumbing():
    facts = collect_host(RecordedSource(recorded("lab/compute1")), {})
    assert facts["hostname"] == "compute1" and facts["namespaces"] == []
    interfaces = by_name(facts["interfaces"])
    bridges = [n for n, i in interfaces.items() if i["kind"] == "bridge"]
    assert sorted(bridges) == ["qbr07f89ad9-3a", "qbr957e7c87-4f"]
    for suffix in ("07f89ad9-3a", "957e7c87-4f"):
        qvb, qvo, tap = (interfaces[p + suffix] for p in ("qvb", "qvo", "tap"))
        assert qvb["kind"] == qvo["kind"] == tap["kind"] == "veth"
        assert qvb["master"] == tap["master"] == "qbr" + suffix
        assert qvb["master_kind"] == "bridge" and qvb["port_state"] == "forwarding"
        assert qvb["peer"] == "qvo" + suffix and qvo["peer"] == "qvb" + suffix
        assert tap["peer"] is None and tap["peer_netnsid"] is not None
        assert tap["mac"].startswith("fe:16:3e:")
        assert not any(i["physical"] for i in (qvb, qvo, tap))


def test_lab_compute3_linuxbridge_vxlan():
    facts = collect_host(RecordedSource(recorded("lab/compute3")), {})
    interfaces = by_name(facts["interfaces"])
    vxlans = dict((n, i) for n, i in interfaces.items() if i["kind"] == "vxlan")
    assert sorted(vxlans) == ["vxlan-1002", "vxlan-1003", "vxlan-1101"]
    for name, vxlan in vxlans.items():
        assert vxlan["vxlan"]["vni"] == int(name.split("-")[1])
        assert vxlan["vxlan"]["local"] == "10.249.1.13" and vxlan["vxlan"]["dev"] == "eth1"
        assert vxlan["vxlan"]["port"] == 4789
        assert vxlan["master"].startswith("brq") and vxlan["master_kind"] == "bridge"
        assert vxlan["vlan_id"] is None


# ---------------------------------------------------------------------------------------------
# A bonded compute node (formats of real releases)


@pytest.fixture(scope="module")
def site():
    source = FakeSource(recorded("site/compute-7"))
    return collect_host(source, {}), source


def test_physical_nics_told_apart_from_virtual_devices(site):
    facts, source = site
    assert facts["hostname"] == "compute-7"
    assert facts["physical_nics"] == ["eno1", "eno2", "eno3", "eno4", "eno5"]
    interfaces = by_name(facts["interfaces"])
    kinds = dict((n, i["kind"]) for n, i in interfaces.items())
    assert kinds == {
        "lo": "loopback", "eno1": "physical", "eno2": "physical", "eno3": "physical",
        "eno4": "physical", "eno5": "physical", "bond0": "bond", "bond1": "bond",
        "bond0.100": "vlan", "ovs-system": "openvswitch", "br-int": "openvswitch",
        "br-tun": "openvswitch", "vxlan_sys_4789": "vxlan", "qbr5e3c1b2a-4d": "bridge",
        "qvo5e3c1b2a-4d": "veth", "qvb5e3c1b2a-4d": "veth", "tap5e3c1b2a-4d": "tap",
        "tap8a9b0c1d-2e": "tap", "tapc3d4e5f6-07": "tap"}
    # /sys is only consulted for kind-less interfaces, ethtool only for physical NICs
    readlinks = sorted(c for c in source.asked if c.startswith("readlink"))
    assert readlinks == ["readlink /sys/class/net/eno%d/device" % n for n in range(1, 6)] + [
        "readlink /sys/class/net/eno5/device/driver"]
    assert sorted(c for c in source.asked if c.startswith("ethtool")) == [
        "ethtool -i eno%d" % n for n in range(1, 6)]


def test_nic_driver_speed_duplex(site):
    interfaces = by_name(site[0]["interfaces"])
    eno1 = interfaces["eno1"]
    assert (eno1["driver"], eno1["speed"], eno1["duplex"]) == ("ixgbe", 10000, "full")
    assert eno1["bus_info"] == "0000:3b:00.0" and eno1["driver_version"] == "6.1.0-28-amd64"
    assert eno1["firmware_version"] == "0x800008c3, 1.2735.0"
    assert (interfaces["eno3"]["driver"], interfaces["eno3"]["speed"]) == ("igb", 1000)
    # down: speed -1 and duplex unknown are null
    assert interfaces["eno4"]["speed"] is None and interfaces["eno4"]["duplex"] is None
    assert interfaces["eno4"]["operstate"] == "down" and not interfaces["eno4"]["carrier"]
    # ethtool -i gave nothing: the driver comes from the /sys device/driver link
    assert interfaces["eno5"]["driver"] == "i40e" and interfaces["eno5"]["bus_info"] is None
    assert interfaces["eno2"]["mac"] == "3c:fd:fe:a5:10:40"
    assert interfaces["eno2"]["permanent_mac"] == "3c:fd:fe:a5:10:41"
    vlan = interfaces["bond0.100"]
    assert vlan["vlan_id"] == 100 and vlan["peer"] == "bond0"
    assert vlan["addresses"][0]["cidr"] == "192.0.2.27/24" and vlan["speed"] is None
    assert interfaces["vxlan_sys_4789"]["master_kind"] == "openvswitch"
    assert interfaces["tap8a9b0c1d-2e"]["master"] == "ovs-system"
    assert site[0]["default_route"] == {"gateway": "192.0.2.1", "dev": "bond0.100"}


def test_bonds_modes_and_members(site):
    bonds = by_name(site[0]["bonds"])
    lacp = bonds["bond0"]
    assert lacp["mode"] == "802.3ad" and lacp["source"] == "proc"
    assert lacp["mode_description"] == "IEEE 802.3ad Dynamic link aggregation"
    assert (lacp["lacp_rate"], lacp["xmit_hash_policy"], lacp["miimon"]) == (
        "fast", "layer3+4", 100)
    assert lacp["aggregator"] == {"id": 1, "ports": 2, "actor_key": 15, "partner_key": 32769,
                                  "partner_mac": "00:1c:73:8e:5a:00"}
    assert lacp["speed"] == 20000 and lacp["active_slave"] is None
    members = by_name(lacp["members"])
    assert sorted(members) == ["eno1", "eno2"]
    assert members["eno2"]["permanent_mac"] == "3c:fd:fe:a5:10:41"
    assert members["eno2"]["link_failure_count"] == 1
    assert all(m["aggregator_id"] == 1 and m["mii_status"] == "up" and m["physical"]
               and m["active"] is None for m in members.values())

    backup = bonds["bond1"]
    assert backup["mode"] == "active-backup" and backup["active_slave"] == "eno3"
    assert backup["primary_slave"] == "eno3"
    assert backup["lacp_rate"] is None and backup["xmit_hash_policy"] is None
    assert backup["aggregator"] is None
    members = by_name(backup["members"])
    assert members["eno3"]["active"] is True and members["eno3"]["state"] == "active"
    assert members["eno4"]["active"] is False and members["eno4"]["state"] == "backup"
    assert members["eno4"]["mii_status"] == "down"
    assert members["eno4"]["speed"] is None and members["eno4"]["duplex"] is None


def test_bond_from_iproute2_when_proc_is_unreadable():
    outputs = recorded("site/compute-7")
    del outputs["cat /proc/net/bonding/bond0"]
    facts = collect_host(RecordedSource(outputs), {})
    bond = by_name(facts["bonds"])["bond0"]
    assert bond["source"] == "iproute2" and bond["mode"] == "802.3ad"
    assert bond["mode_description"] is None and bond["lacp_rate"] == "fast"
    members = by_name(bond["members"])
    assert sorted(members) == ["eno1", "eno2"]
    assert members["eno1"]["mii_status"] == "up" and members["eno1"]["aggregator_id"] == 1
    assert members["eno2"]["permanent_mac"] == "3c:fd:fe:a5:10:41"
    assert members["eno1"]["speed"] == 10000  # from /sys


def test_readers_can_be_given_instead_of_the_source():
    outputs = recorded("site/compute-7")
    files = dict((c[len("cat "):], t) for c, t in outputs.items() if c.startswith("cat "))
    links = dict((c[len("readlink "):], t.strip()) for c, t in outputs.items()
                 if c.startswith("readlink "))
    commands = dict((c, t) for c, t in outputs.items()
                    if not c.startswith(("cat ", "readlink ")))
    source = FakeSource(commands)
    facts = collect_host(source, {}, read_file=files.get, read_link=links.get)
    assert facts["physical_nics"] == ["eno1", "eno2", "eno3", "eno4", "eno5"]
    assert by_name(facts["bonds"])["bond1"]["active_slave"] == "eno3"
    assert facts["hostname"] == "compute-7"
    assert not [c for c in source.asked if c.startswith(("cat ", "readlink "))]


def test_real_virtio_nic_of_a_vm():
    """Captured on the development VM (Debian 12, iproute2 6.1, ethtool 6.1): eth0 has no link
    kind and a /sys device (virtio2), ifb0 has the kind ifb; a virtio NIC reports no speed."""
    source = FakeSource(recorded("local/vm"))
    facts = collect_host(source, {})
    interfaces = by_name(facts["interfaces"])
    eth0 = interfaces["eth0"]
    assert facts["physical_nics"] == ["eth0"] and eth0["kind"] == "physical"
    assert (eth0["driver"], eth0["bus_info"], eth0["speed"], eth0["duplex"]) == (
        "virtio_net", "0000:00:03.0", None, None)
    assert interfaces["ifb0"]["kind"] == "ifb" and not interfaces["ifb0"]["physical"]
    assert facts["default_route"] == {"gateway": "192.0.2.1", "dev": "eth0"}
    assert facts["hostname"] == "vm" and facts["namespaces"] == []
    assert "readlink /sys/class/net/ifb0/device" not in source.asked


def test_kindless_interface_without_device_is_virtual_unknown():
    addr = json.dumps([{"ifindex": 2, "ifname": "weird0", "flags": ["UP"], "mtu": 1500,
                        "operstate": "UNKNOWN", "link_type": "ether",
                        "address": "02:00:00:00:00:01", "addr_info": []}])
    source = FakeSource({"ip -j -d addr show": addr, "ip -j route show": "[]",
                         "ip -j netns list": "[]"})
    facts = collect_host(source, {})
    weird = facts["interfaces"][0]
    assert weird["kind"] == "unknown" and weird["physical"] is False
    assert weird["driver"] is None and weird["speed"] is None
    assert "ethtool -i weird0" not in source.asked
    assert facts["hostname"] is None


def test_missing_iproute2_is_an_error_naming_the_command():
    with pytest.raises(CommandError) as info:
        collect_host(FakeSource({}), {})
    assert info.value.command == "ip -j -d addr show"


# ---------------------------------------------------------------------------------------------
# Parsers: iproute2, ethtool, sysfs


def test_truncated_ip_json_names_the_command():
    text = read("lab/controller", "ip-j-d-addr-show.json")
    with pytest.raises(CommandError) as info:
        parse_ip_interfaces(text[: len(text) // 2])
    assert info.value.command == "ip -j -d addr show"
    assert "malformed JSON" in str(info.value)
    with pytest.raises(CommandError):
        parse_ip_interfaces('{"ifname": "eth0"}')
    with pytest.raises(CommandError):
        parse_ip_interfaces('[{"mtu": 1500}]')
    assert parse_ip_interfaces("") == []


def test_routes():
    routes, default = parse_routes(read("site/compute-7", "ip-j-route-show.json"))
    assert default == {"gateway": "192.0.2.1", "dev": "bond0.100"}
    assert routes[1] == {"dst": "192.0.2.0/24", "gateway": None, "dev": "bond0.100",
                         "protocol": "kernel", "scope": "link", "prefsrc": "192.0.2.27",
                         "metric": None, "type": None}
    with pytest.raises(CommandError) as info:
        parse_routes('[{"dst": "default"')
    assert info.value.command == "ip -j route show"


def test_ethtool_info():
    info = parse_ethtool_info(fmt("ethtool-i-eno3.txt"), "ethtool -i eno3")
    assert info == {"driver": "igb", "version": "6.1.0-28-amd64",
                    "firmware_version": "1.63, 0x800009fa", "bus_info": "0000:5e:00.0"}
    virtio = parse_ethtool_info(fmt("ethtool-i-virtio.txt"), "ethtool -i ens3")
    assert virtio["driver"] == "virtio_net" and virtio["firmware_version"] is None
    bridge = parse_ethtool_info("driver: bridge\nversion: 2.3\nfirmware-version: N/A\n"
                                "expansion-rom-version: \nbus-info: N/A\n", "ethtool -i br0")
    assert bridge["firmware_version"] is None and bridge["bus_info"] is None
    with pytest.raises(CommandError) as info:
        parse_ethtool_info("Cannot get driver information: Operation not supported\n",
                           "ethtool -i lo")
    assert info.value.command == "ethtool -i lo"


@pytest.mark.parametrize("text, speed", [
    ("10000\n", 10000), ("-1\n", None), ("", None), (None, None), ("0\n", None)])
def test_speed(text, speed):
    assert parse_speed(text, "cat /sys/class/net/eno1/speed") == speed


@pytest.mark.parametrize("text, duplex", [
    ("full\n", "full"), ("half\n", "half"), ("unknown\n", None), (None, None)])
def test_duplex(text, duplex):
    assert parse_duplex(text, "cat /sys/class/net/eno1/duplex") == duplex


def test_garbage_sysfs_values_name_the_file():
    with pytest.raises(CommandError) as info:
        parse_speed("fast\n", "cat /sys/class/net/eno1/speed")
    assert info.value.command == "cat /sys/class/net/eno1/speed"
    with pytest.raises(CommandError):
        parse_duplex("sideways\n", "cat /sys/class/net/eno1/duplex")


# ---------------------------------------------------------------------------------------------
# Linux bonding driver


def test_bonding_802_3ad_kernel_6():
    bond = parse_bonding(fmt("proc-net-bonding-802.3ad.txt"), "cat /proc/net/bonding/bond0")
    assert bond["driver_version"] == "v6.1.0-28-amd64"
    assert (bond["mode"], bond["mii_status"], bond["lacp_rate"]) == ("802.3ad", "up", "fast")
    assert bond["xmit_hash_policy"] == "layer3+4" and bond["active_slave"] is None
    assert bond["aggregator"]["id"] == 1 and bond["aggregator"]["ports"] == 2
    assert [s["name"] for s in bond["slaves"]] == ["eno1", "eno2"]
    eno2 = bond["slaves"][1]
    assert eno2 == {"name": "eno2", "mii_status": "up", "speed": 10000, "duplex": "full",
                    "link_failure_count": 1, "permanent_mac": "3c:fd:fe:a5:10:41",
                    "aggregator_id": 1, "queue_id": 0}


def test_bonding_active_backup():
    bond = parse_bonding(fmt("proc-net-bonding-active-backup.txt"), "cat /proc/net/bonding/bond1")
    assert bond["mode"] == "active-backup"
    assert bond["mode_description"] == "fault-tolerance (active-backup)"
    assert bond["active_slave"] == "eno3" and bond["primary_slave"] == "eno3"
    assert bond["aggregator"] is None and bond["lacp_rate"] is None
    eno4 = bond["slaves"][1]
    assert (eno4["mii_status"], eno4["speed"], eno4["duplex"]) == ("down", None, None)
    assert eno4["aggregator_id"] is None


def test_bonding_802_3ad_el7_driver_3_7_1():
    bond = parse_bonding(fmt("proc-net-bonding-802.3ad-el7.txt"), "cat /proc/net/bonding/bond0")
    assert bond["driver_version"] == "v3.7.1 (April 27, 2011)"
    assert bond["mode"] == "802.3ad" and bond["lacp_rate"] == "slow"
    assert bond["aggregator"]["id"] == 2
    em1, em2 = bond["slaves"]
    assert (em1["mii_status"], em1["speed"], em1["aggregator_id"]) == ("down", None, 1)
    assert (em2["speed"], em2["aggregator_id"]) == (1000, 2)


@pytest.mark.parametrize("description, mode", [
    ("load balancing (round-robin)", "balance-rr"),
    ("fault-tolerance (active-backup) (fail_over_mac active)", "active-backup"),
    ("load balancing (xor)", "balance-xor"),
    ("fault-tolerance (broadcast)", "broadcast"),
    ("transmit load balancing", "balance-tlb"),
    ("adaptive load balancing", "balance-alb"),
])
def test_bonding_mode_names(description, mode):
    text = "Ethernet Channel Bonding Driver: v6.1.0\n\nBonding Mode: %s\nMII Status: up\n" % (
        description)
    bond = parse_bonding(text, "cat /proc/net/bonding/bond0")
    assert bond["mode"] == mode and bond["slaves"] == []


def test_garbage_and_truncated_bonding_files_name_the_file():
    with pytest.raises(CommandError) as info:
        parse_bonding("\x00\x01 not a bond\n", "cat /proc/net/bonding/bond0")
    assert info.value.command == "cat /proc/net/bonding/bond0"
    assert "Bonding Mode" in str(info.value)
    text = fmt("proc-net-bonding-802.3ad.txt")
    truncated = text[: text.index("Speed: 10000 Mbps") + len("Speed: 100")]
    with pytest.raises(CommandError) as info:
        parse_bonding(truncated, "cat /proc/net/bonding/bond0")
    assert "speed" in str(info.value)
    with pytest.raises(CommandError):
        parse_bonding("Bonding Mode: \n", "cat /proc/net/bonding/bond0")
    cut = text[: text.index("Slave Interface: eno2") + len("Slave Interface: eno2\n")]
    with pytest.raises(CommandError) as info:
        parse_bonding(cut, "cat /proc/net/bonding/bond0")
    assert "truncated" in str(info.value)


def test_garbage_bonding_file_fails_the_collection():
    outputs = recorded("site/compute-7")
    outputs["cat /proc/net/bonding/bond1"] = "garbage\n"
    with pytest.raises(CommandError) as info:
        collect_host(RecordedSource(outputs), {})
    assert info.value.command == "cat /proc/net/bonding/bond1"


# ---------------------------------------------------------------------------------------------
# Network namespaces


def test_netns_list_json_and_text():
    assert parse_netns_json(read("lab/controller", "ip-j-netns-list.json"))[0] == (
        "qdhcp-4303678a-fa55-5385-a0bb-f686b35c54d5", 3)
    assert parse_netns_json("") == [] and parse_netns_json("[]\n") == []
    text = read("lab/controller", "ip-netns-list.txt")
    assert sorted(parse_netns_text(text)) == sorted(
        parse_netns_json(read("lab/controller", "ip-j-netns-list.json")))
    assert parse_netns_text("qdhcp-1\nfoo\n") == [("qdhcp-1", None), ("foo", None)]
    with pytest.raises(CommandError) as info:
        parse_netns_json('[{"name": "qdhcp-1"')
    assert info.value.command == "ip -j netns list"
    with pytest.raises(CommandError):
        parse_netns_text("qdhcp-1 (id: 3) trailing words\n")


@pytest.mark.parametrize("name, kind, object_id", [
    ("qdhcp-78a4eda1-8eb7-5f33-910c-55d2ddaa4296", "qdhcp", "78a4eda1-8eb7-5f33-910c-55d2ddaa4296"),
    ("qrouter-7ca48618", "qrouter", "7ca48618"),
    ("snat-7ca48618", "snat", "7ca48618"),
    ("fip-3d2fb820", "fip", "3d2fb820"),
    ("qlbaas-0c1d", "qlbaas", "0c1d"),
    ("ovnmeta-022f5e59", "ovnmeta", "022f5e59"),
    ("docker-netns", "other", None),
    ("qdhcp-", "other", None),
])
def test_namespace_kinds(name, kind, object_id):
    assert namespace_kind(name) == (kind, object_id)


def test_netns_text_fallback_and_a_namespace_gone_meanwhile():
    outputs = recorded("lab/controller")
    gone = "qdhcp-742eb091-cc4e-5399-8093-6d4c0daf3986"
    errors = {
        "ip -j netns list": 'Option "-j" is unknown, try "ip -help".',
        "ip netns exec %s ip -j -d addr show" % gone:
            'Cannot open network namespace "%s": No such file or directory' % gone,
    }
    source = FakeSource(outputs, errors)
    namespaces = by_name(collect_namespaces(source))
    assert "ip netns list" in source.asked
    assert len(namespaces) == 5
    assert namespaces[gone]["interfaces"] == [] and "Cannot open" in namespaces[gone]["error"]
    assert namespaces[gone]["id"] == 2
    others = [ns for name, ns in namespaces.items() if name != gone]
    assert all(ns["error"] is None and len(ns["interfaces"]) >= 2 for ns in others)


def test_malformed_namespace_output_names_the_command():
    outputs = recorded("lab/controller")
    name = "qrouter-7ca48618-e718-5e11-961d-121357685bcd"
    command = "ip netns exec %s ip -j -d addr show" % name
    outputs[command] = outputs[command][:100]
    with pytest.raises(CommandError) as info:
        collect_namespaces(RecordedSource(outputs))
    assert info.value.command == command


# ---------------------------------------------------------------------------------------------
# libvirt


def test_virsh_list_tables():
    names = parse_virsh_names(fmt("virsh-list-all-name.txt"))
    assert names == ["instance-0000000a", "instance-0000000b", "instance-0000000c"]
    states = parse_virsh_list(fmt("virsh-list-all.txt"), names)
    assert states == {"instance-0000000a": {"id": 1, "state": "running"},
                      "instance-0000000b": {"id": 2, "state": "running"},
                      "instance-0000000c": {"id": None, "state": "shut off"}}
    old_names = parse_virsh_names(fmt("virsh-list-all-name-libvirt4.txt"))
    old = parse_virsh_list(fmt("virsh-list-all-libvirt4.txt"), old_names)
    assert old["my vm with spaces"] == {"id": None, "state": "shut off"}
    assert old["instance-00000003"] == {"id": 3, "state": "running"}
    # without the names, the columns are split on runs of spaces
    assert parse_virsh_list(fmt("virsh-list-all.txt"), [])["instance-0000000c"]["state"] == (
        "shut off")
    with pytest.raises(CommandError) as info:
        parse_virsh_list("error: garbage\n", names)
    assert info.value.command == "virsh -r list --all"


def test_nova_hybrid_domain():
    domain = parse_domain_xml(fmt("virsh-dumpxml-nova-hybrid.xml"),
                              "virsh -r dumpxml instance-0000000a")
    assert (domain["name"], domain["uuid"], domain["id"]) == (
        "instance-0000000a", "0b7e2c4d-6f1a-4e3b-9d8c-2a1b0c9d8e7f", 1)
    assert domain["vcpus"] == 1 and domain["memory_kib"] == 2097152 and domain["type"] == "kvm"
    assert domain["nova"]["name"] == "web-1" and domain["nova"]["flavor"] == "m1.small"
    assert domain["nova"]["project_id"] == "9f8e7d6c5b4a43219876543210fedcba"
    assert domain["nova"]["project_name"] == "shop" and domain["nova"]["user_name"] == "alice"
    (nic,) = domain["interfaces"]
    assert (nic["type"], nic["target"], nic["mac"], nic["source_bridge"], nic["model"]) == (
        "bridge", "tap5e3c1b2a-4d", "fa:16:3e:2b:7c:11", "qbr5e3c1b2a-4d", "virtio")
    assert nic["mtu"] == 1450 and nic["interface_id"] is None and nic["alias"] == "net0"


def test_nova_ovs_native_and_ethernet_domain():
    domain = parse_domain_xml(fmt("virsh-dumpxml-nova-ovs.xml"),
                              "virsh -r dumpxml instance-0000000b")
    ovs, ethernet = domain["interfaces"]
    assert ovs["source_bridge"] == "br-int" and ovs["virtualport_type"] == "openvswitch"
    assert ovs["interface_id"] == "8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d"
    assert ovs["target"] == "tap8a9b0c1d-2e" and ovs["driver"] == "vhost"
    assert ethernet["type"] == "ethernet" and ethernet["target"] == "tapc3d4e5f6-07"
    assert ethernet["source_bridge"] is None and ethernet["mac"] == "fa:16:3e:a0:4e:37"
    ports = domain["nova"]["ports"]
    assert [p["id"] for p in ports] == ["8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d",
                                        "c3d4e5f6-0718-4a29-b3c4-d5e6f7a8b9c0"]
    assert ports[1]["ips"][1] == {"type": "floating", "address": "203.0.113.40", "version": 4}


def test_vhostuser_and_hostdev_interfaces():
    domain = parse_domain_xml(fmt("virsh-dumpxml-nova-vhostuser.xml"),
                              "virsh -r dumpxml instance-00000021")
    vhu, vf = domain["interfaces"]
    assert vhu["type"] == "vhostuser" and vhu["source_mode"] == "server"
    assert vhu["source_path"] == "/var/run/openvswitch/vhu5b6c7d8e-9f"
    assert vhu["target"] == "vhu5b6c7d8e-9f"
    assert vf["type"] == "hostdev" and vf["source_pci"] == "0000:3b:02.1"
    assert vf["mac"] == "fa:16:3e:aa:d9:23" and vf["driver"] == "vfio"


def test_domain_not_created_by_nova_has_no_nova_metadata():
    domain = parse_domain_xml(
        "<domain type='kvm'><name>plain</name><uuid>u</uuid><memory unit='MiB'>512</memory>"
        "<devices><interface type='network'><mac address='52:54:00:00:00:01'/>"
        "<source network='default'/></interface></devices></domain>", "virsh -r dumpxml plain")
    assert domain["nova"] is None and domain["memory_kib"] == 512 * 1024
    assert domain["interfaces"][0]["source_network"] == "default"


def test_truncated_or_foreign_xml_names_the_command():
    text = fmt("virsh-dumpxml-nova-hybrid.xml")
    with pytest.raises(CommandError) as info:
        parse_domain_xml(text[: len(text) // 2], "virsh -r dumpxml instance-0000000a")
    assert info.value.command == "virsh -r dumpxml instance-0000000a"
    assert "malformed XML" in str(info.value)
    with pytest.raises(CommandError):
        parse_domain_xml("<network><name>default</name></network>", "virsh -r dumpxml x")
    with pytest.raises(CommandError):
        parse_domain_xml("<domain type='kvm'/>", "virsh -r dumpxml x")


def test_libvirt_domains_with_their_taps_and_macs(site):
    libvirt = site[0]["libvirt"]
    assert libvirt["present"] and libvirt["running"] and libvirt["error"] is None
    domains = by_name(libvirt["domains"])
    assert [(d["state"], d["id"]) for d in libvirt["domains"]] == [
        ("running", 1), ("running", 2), ("shut off", None)]
    taps = dict((i["target"], i["mac"]) for d in domains.values() for i in d["interfaces"])
    assert taps == {"tap5e3c1b2a-4d": "fa:16:3e:2b:7c:11", "tap8a9b0c1d-2e": "fa:16:3e:5d:90:a2",
                    "tapc3d4e5f6-07": "fa:16:3e:a0:4e:37", "tap7f6e5d4c-3b": "fa:16:3e:c4:19:6b"}
    # the running domains' taps are on the host, with the guest MAC's fe: twin
    interfaces = by_name(site[0]["interfaces"])
    for domain in ("instance-0000000a", "instance-0000000b"):
        for nic in domains[domain]["interfaces"]:
            assert interfaces[nic["target"]]["mac"] == "fe" + nic["mac"][2:]


def test_libvirt_absent():
    assert collect_libvirt(FakeSource({})) == {"present": False, "running": False,
                                               "error": None, "domains": []}


def test_libvirtd_down():
    source = FakeSource({}, {"virsh -r list --all --name": (
        "exited 1: error: failed to connect to the hypervisor\nerror: Failed to connect socket "
        "to '/var/run/libvirt/libvirt-sock-ro': No such file or directory")})
    libvirt = collect_libvirt(source)
    assert libvirt["present"] is True and libvirt["running"] is False
    assert "failed to connect" in libvirt["error"] and libvirt["domains"] == []


def test_other_virsh_failures_are_errors():
    source = FakeSource({}, {"virsh -r list --all --name": "exited 1: error: authentication "
                                                           "unavailable"})
    with pytest.raises(CommandError) as info:
        collect_libvirt(source)
    assert info.value.command == "virsh -r list --all --name"


def test_domain_undefined_between_list_and_dump():
    outputs = recorded("site/compute-7")
    command = "virsh -r dumpxml instance-0000000c"
    source = FakeSource(outputs, {command: "exited 1: error: failed to get domain "
                                           "'instance-0000000c'"})
    domains = by_name(collect_libvirt(source)["domains"])
    assert "failed to get domain" in domains["instance-0000000c"]["error"]
    assert domains["instance-0000000a"]["error"] is None


def test_malformed_domain_xml_fails_the_collection():
    outputs = recorded("site/compute-7")
    outputs["virsh -r dumpxml instance-0000000b"] = "<domain type='kvm'><name>instance-0"
    with pytest.raises(CommandError) as info:
        collect_host(RecordedSource(outputs), {})
    assert info.value.command == "virsh -r dumpxml instance-0000000b"


# ---------------------------------------------------------------------------------------------
# LLDP (lldpd 1.0.x)


def test_lldp_one_neighbor_is_an_object_not_a_list():
    raw = json.loads(fmt("lldpcli-json-one-neighbor.json"))
    assert isinstance(raw["lldp"]["interface"], dict)
    (neighbor,) = parse_lldp_neighbors(fmt("lldpcli-json-one-neighbor.json"))
    assert neighbor["local_interface"] == "eno1" and neighbor["via"] == "LLDP"
    assert neighbor["chassis"]["name"] == "leaf-1.example.net"
    assert (neighbor["chassis"]["id"], neighbor["chassis"]["id_type"]) == (
        "00:1c:73:8e:5a:01", "mac")
    assert neighbor["chassis"]["mgmt_ip"] == ["192.0.2.11"]
    assert neighbor["chassis"]["capabilities"] == [{"type": "Bridge", "enabled": True},
                                                   {"type": "Router", "enabled": True}]
    assert neighbor["port"] == {"id": "Ethernet21", "id_type": "ifname",
                                "description": "compute-7 eno1", "ttl": 120, "mfs": 9236}
    assert neighbor["vlans"] == [{"vlan_id": 100, "name": "mgmt", "pvid": True},
                                 {"vlan_id": 201, "name": "tunnel", "pvid": False}]


def test_lldp_several_neighbors_are_a_list_of_one_key_objects():
    raw = json.loads(fmt("lldpcli-json-several-neighbors.json"))
    assert isinstance(raw["lldp"]["interface"], list)
    neighbors = parse_lldp_neighbors(fmt("lldpcli-json-several-neighbors.json"))
    assert [n["local_interface"] for n in neighbors] == ["eno1", "eno2", "eno3"]
    assert neighbors[1]["chassis"]["mgmt_ip"] == ["192.0.2.12", "2001:db8::12"]
    assert neighbors[1]["vlans"] == [{"vlan_id": 100, "name": "mgmt", "pvid": True}]
    oob = neighbors[2]
    # no system name: the chassis is not keyed by a name
    assert oob["chassis"]["name"] is None and oob["chassis"]["id"] == "f4:cf:e2:4a:00:80"
    assert oob["chassis"]["capabilities"] == [{"type": "Bridge", "enabled": True}]
    assert (oob["port"]["id"], oob["port"]["id_type"]) == ("gi1/0/7", "local")
    assert oob["port"]["mfs"] is None
    assert oob["vlans"] == [{"vlan_id": 30, "name": None, "pvid": True}]


def test_lldp_json0_build():
    neighbors = parse_lldp_neighbors(fmt("lldpcli-json0-two-neighbors.json"))
    several = parse_lldp_neighbors(fmt("lldpcli-json-several-neighbors.json"))
    assert neighbors == [several[0], several[2]]


def test_lldp_two_neighbors_on_one_port():
    text = json.dumps({"lldp": {"interface": [
        {"eno1": {"via": "LLDP", "rid": "1", "chassis": {"sw-a": {"id": {
            "type": "mac", "value": "00:00:00:00:00:0a"}}}, "port": {"id": {
                "type": "ifname", "value": "Ethernet1"}}}},
        {"eno1": {"via": "CDPv2", "rid": "2", "chassis": {"sw-b": {"id": {
            "type": "local", "value": "sw-b"}}}, "port": {"id": {
                "type": "ifname", "value": "Gi0/1"}, "descr": "Gi0/1"}}}]}})
    neighbors = parse_lldp_neighbors(text)
    assert [(n["local_interface"], n["chassis"]["name"], n["port"]["id"]) for n in neighbors] == [
        ("eno1", "sw-a", "Ethernet1"), ("eno1", "sw-b", "Gi0/1")]
    assert neighbors[1]["via"] == "CDPv2"


def test_lldp_0_9_interface_level_ttl():
    text = json.dumps({"lldp": {"interface": {"eth0": {
        "via": "LLDP", "chassis": {"sw": {"id": {"type": "mac", "value": "00:00:00:00:00:02"}}},
        "port": {"id": {"type": "mac", "value": "00:00:00:00:00:02"}, "descr": "eth1"},
        "ttl": {"ttl": "120"}}}}})
    (neighbor,) = parse_lldp_neighbors(text)
    assert neighbor["port"]["ttl"] == 120 and neighbor["port"]["description"] == "eth1"


def test_lldp_malformed_output_names_the_command():
    with pytest.raises(CommandError) as info:
        parse_lldp_neighbors(fmt("lldpcli-json-one-neighbor.json")[:200])
    assert info.value.command == "lldpcli -f json show neighbors details"
    with pytest.raises(CommandError):
        parse_lldp_neighbors('{"neighbors": []}')
    with pytest.raises(CommandError):
        parse_lldp_neighbors('{"lldp": {"interface": ["eno1"]}}')


def test_lldp_neighbors_collected(site):
    lldp = site[0]["lldp"]
    assert lldp["present"] and lldp["running"]
    assert [n["local_interface"] for n in lldp["neighbors"]] == ["eno1", "eno2", "eno3"]
    # the switches behind both members of bond0
    bond0 = [m["name"] for m in by_name(site[0]["bonds"])["bond0"]["members"]]
    assert sorted(n["chassis"]["name"] for n in lldp["neighbors"]
                  if n["local_interface"] in bond0) == ["leaf-1.example.net",
                                                        "leaf-2.example.net"]


def test_lldpd_running_without_neighbors():
    source = FakeSource({
        "lldpcli -f json show neighbors details": fmt("lldpcli-json-no-neighbor.json"),
        "lldpcli -f json show configuration": fmt("lldpcli-json-show-configuration.json")})
    assert collect_lldp(source) == {"present": True, "running": True, "error": None,
                                    "neighbors": []}


def test_lldpd_down():
    # lldpcli prints an empty list and exits 0, and `show configuration` prints nothing
    source = FakeSource({
        "lldpcli -f json show neighbors details": fmt("lldpcli-json-no-neighbor.json"),
        "lldpcli -f json show configuration": ""})
    assert collect_lldp(source)["running"] is False
    # or lldpcli fails outright
    source = FakeSource({}, {"lldpcli -f json show neighbors details": (
        "exited 1: [lldpcli] not able to get the list of interfaces. Unable to connect to "
        "lldpd daemon")})
    lldp = collect_lldp(source)
    assert lldp["present"] is True and lldp["running"] is False and "Unable" in lldp["error"]


def test_lldp_absent():
    assert collect_lldp(FakeSource({})) == {"present": False, "running": False, "error": None,
                                            "neighbors": []}


def test_command_names_are_the_recorded_keys():
    assert " ".join(host.IP_ADDR) == "ip -j -d addr show"
    assert " ".join(host.LLDP_NEIGHBORS) == "lldpcli -f json show neighbors details"
    assert " ".join(host.VIRSH_NAMES) == "virsh -r list --all --name"
