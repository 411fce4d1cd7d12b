"""Open vSwitch on a lab host: its private daemons and the bridges of an ML2/OVS node.

No OVS kernel datapath exists on these machines, so every bridge uses the userspace datapath
(`datapath_type=netdev`); overlay traffic therefore goes through OVS userspace tunnelling, which
needs the tunnel IP on an OVS bridge (br-phy) that holds the underlay NIC.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from calipso_core.lab.system import HostNamespaces

OVS_CTL = "/usr/share/openvswitch/scripts/ovs-ctl"
VXLAN_PORT = 4789


def start(host: HostNamespaces, ovs_dir: Path, system_id: str) -> None:
    (ovs_dir / "openvswitch").mkdir(parents=True, exist_ok=True)
    host.run([OVS_CTL, "start", f"--system-id={system_id}", "--no-mlockall", "--no-monitor"])


def vsctl(host: HostNamespaces, commands: Iterable[Sequence[str]]) -> str:
    """Run several ovs-vsctl commands as one database transaction."""
    argv = ["ovs-vsctl", "--timeout=10"]
    for index, command in enumerate(commands):
        if index:
            argv.append("--")
        argv.extend(command)
    return host.run(argv)


def add_flows(host: HostNamespaces, bridge: str, flows: Iterable[str]) -> None:
    host.run(["ovs-ofctl", "add-flows", bridge, "-"], stdin="\n".join(flows) + "\n")


def tunnel_port_name(remote_ip: str) -> str:
    """The OVS agent names a tunnel port after its remote IP in hex: vxlan-0afa010b."""
    return "vxlan-" + ipaddress.IPv4Address(remote_ip).packed.hex()


def neutron_iface_ids(port: dict[str, Any]) -> list[str]:
    """external_ids that Nova's os-vif and the OVS agent put on a port's OVS interface."""
    ids = {"iface-id": port["id"], "attached-mac": port["mac_address"],
           "iface-status": "active"}
    if port["device_owner"].startswith("compute:"):
        ids["vm-uuid"] = port["device_id"]
    return [f"external_ids:{key}={value}" for key, value in ids.items()]


def build_bridges(host: HostNamespaces, desc_host: dict[str, Any],
                  peers: list[dict[str, Any]]) -> None:
    """br-int, br-tun (one vxlan port per peer host), br-phy with the underlay NIC, and on the
    network node br-ex with the external NIC, patched to br-int as the agent's bridge_mappings."""
    tunnel_ip = desc_host["tunnel_ip"]
    eth1 = next(n for n in desc_host["nics"] if n["name"] == "eth1")
    cmds: list[list[str]] = []
    for bridge in desc_host["ovs_bridges"]:
        cmds.append(["--may-exist", "add-br", bridge])
        cmds.append(["set", "bridge", bridge, "datapath_type=netdev"])
    cmds += [
        ["set-fail-mode", "br-int", "secure"],
        ["set-fail-mode", "br-tun", "secure"],
        ["set", "bridge", "br-phy", f"other_config:hwaddr={eth1['mac']}"],
        ["add-port", "br-phy", "eth1"],
        ["add-port", "br-int", "patch-tun", "--", "set", "interface", "patch-tun",
         "type=patch", "options:peer=patch-int"],
        ["add-port", "br-tun", "patch-int", "--", "set", "interface", "patch-int",
         "type=patch", "options:peer=patch-tun"],
    ]
    for peer in peers:
        name = tunnel_port_name(peer["tunnel_ip"])
        cmds += [["add-port", "br-tun", name], [
            "set", "interface", name, "type=vxlan", f"options:remote_ip={peer['tunnel_ip']}",
            f"options:local_ip={tunnel_ip}", "options:key=flow", "options:in_key=flow",
            "options:out_key=flow", "options:df_default=true",
            f"options:dst_port={VXLAN_PORT}"]]
    if "br-ex" in desc_host["ovs_bridges"]:
        cmds += [
            ["add-port", "br-ex", "eth2"],
            ["add-port", "br-int", "int-br-ex", "--", "set", "interface", "int-br-ex",
             "type=patch", "options:peer=phy-br-ex"],
            ["add-port", "br-ex", "phy-br-ex", "--", "set", "interface", "phy-br-ex",
             "type=patch", "options:peer=int-br-ex"],
        ]
    vsctl(host, cmds)
    # The tunnel IP moves onto br-phy, where OVS's userspace routing table learns it.
    host.run(["ip", "addr", "flush", "dev", "eth1"])
    host.run(["ip", "link", "set", "br-phy", "up"])
    host.run(["ip", "addr", "add", eth1["address"], "dev", "br-phy"])
    # br-int: the agent's canary table and NORMAL switching, with the provider patch dropped
    # until a flat network is mapped onto it (the lab's external network stays on br-ex).
    br_int_flows = ["table=0,priority=0,actions=resubmit(,60)",
                    "table=23,priority=0,actions=drop",
                    "table=60,priority=3,actions=NORMAL"]
    if "br-ex" in desc_host["ovs_bridges"]:
        br_int_flows.append("table=0,priority=2,in_port=int-br-ex,actions=drop")
    add_flows(host, "br-int", br_int_flows)


def tunnel_flows(local_vlans: dict[str, int], vni_of: dict[str, int],
                 flood_ports: dict[str, list[str]], tunnel_ports: list[str]) -> list[str]:
    """br-tun's flow tables as the OVS agent programs them for VXLAN: 0 classify, 2 unicast or
    flood, 4 VNI to local VLAN, 10 learn and deliver, 20 learned unicast, 22 flood per VLAN."""
    flows = ["table=0,priority=1,in_port=patch-int,actions=resubmit(,2)",
             "table=0,priority=0,actions=drop",
             "table=2,priority=0,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00,actions=resubmit(,20)",
             "table=2,priority=0,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,actions=resubmit(,22)",
             "table=4,priority=0,actions=drop",
             "table=10,priority=1,actions=learn(table=20,hard_timeout=300,priority=1,"
             "NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],"
             "load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],"
             "output:OXM_OF_IN_PORT[]),output:patch-int",
             "table=20,priority=0,actions=resubmit(,22)",
             "table=22,priority=0,actions=drop"]
    flows += [f"table=0,priority=1,in_port={port},actions=resubmit(,4)" for port in tunnel_ports]
    for network_id, vlan in sorted(local_vlans.items(), key=lambda item: item[1]):
        vni = vni_of[network_id]
        flows.append(f"table=4,priority=1,tun_id={vni:#x},"
                     f"actions=mod_vlan_vid:{vlan},resubmit(,10)")
        outputs = ",".join(f"output:{port}" for port in flood_ports.get(network_id, []))
        if outputs:
            flows.append(f"table=22,priority=1,dl_vlan={vlan},"
                         f"actions=strip_vlan,set_tunnel:{vni:#x},{outputs}")
    return flows


def add_port(host: HostNamespaces, bridge: str, device: str, port: dict[str, Any],
             vlan: int | None, internal: bool = False) -> None:
    """Plug a Neutron port's device into an OVS bridge with its local VLAN and external_ids."""
    cmd = ["add-port", bridge, device, "--", "set", "interface", device,
           *neutron_iface_ids(port)]
    if internal:
        cmd.append("type=internal")
    if vlan is not None:
        cmd += ["--", "set", "port", device, f"tag={vlan}"]
    vsctl(host, [cmd])
