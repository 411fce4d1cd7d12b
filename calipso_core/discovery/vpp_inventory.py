"""Objects and links of a VPP host, from its `calipso_vpp` facts.

VPP is one vedge; each bridge domain is a vconnector; vhost-user interfaces are the instances'
vnics (their socket is named after the Neutron port, vhu<port id prefix>); each local VXLAN
source address is an otep; NICs that DPDK drives (invisible to the kernel) are host NICs. State
comes from VPP's own interface and link states.
"""

from __future__ import annotations

import os
from typing import Any

from calipso_core.discovery.records import HostInventory, both_up

Doc = dict[str, Any]
VHOST_SOCKET_PREFIX = "vhu"


def add_vpp(inv: HostInventory, host: Doc, vpp: Doc) -> None:
    """Add a running VPP's objects and links to a host's inventory."""
    state = {i["name"]: i.get("state") for i in vpp.get("interfaces", [])}
    vedge = inv.add("vedge", f"{inv.host}-vpp", f"{inv.host}/vpp", ("host", host["id"]),
                    switch="vpp", version=vpp.get("version"), release=vpp.get("release"),
                    interfaces=sorted(state))
    pnics = {}
    for hw in vpp.get("hardware_interfaces", []):
        if not hw.get("pci_address"):
            continue
        pnic = inv.add("host_pnic", f"{inv.host}-{hw['name']}", hw["name"], ("host", host["id"]),
                       mac=hw.get("mac"), speed=hw.get("link_speed"), driver=hw.get("device"),
                       pci_address=hw.get("pci_address"), physical=True, kind="dpdk",
                       state=hw.get("link"), addresses=vpp.get("addresses", {}).get(hw["name"],
                                                                                     []))
        pnics[hw["name"]] = pnic
        inv.link("vedge-host_pnic", vedge, pnic, both_up(hw.get("link"), state.get(hw["name"])),
                 link_state=hw.get("link"), error=None)

    vnics = {}
    for vhost in vpp.get("vhost_user", []):
        socket_name = os.path.splitext(os.path.basename(vhost.get("socket") or ""))[0]
        vnic = inv.add("vnic", f"{inv.host}-{vhost['interface']}", vhost["interface"],
                       ("host", host["id"]), side="instance", socket=vhost.get("socket"),
                       connected=vhost.get("connected"), state=state.get(vhost["interface"]),
                       port_hint=socket_name.removeprefix(VHOST_SOCKET_PREFIX).lstrip("-") or None)
        vnics[vhost["interface"]] = vnic

    tunnels = {t["interface"]: t for t in vpp.get("vxlan_tunnels", [])}
    bridges = {}
    for bd in vpp.get("bridge_domains", []):
        bridge = inv.add("vconnector", f"{inv.host}-bd-{bd['bd_id']}", f"bd-{bd['bd_id']}",
                         ("host", host["id"]), kind="vpp_bridge_domain", bd_id=bd["bd_id"],
                         members=[m["interface"] for m in bd.get("members", [])],
                         learning=bd.get("learning"), flooding=bd.get("flooding"),
                         bvi=bd.get("bvi"), tag=bd.get("tag"))
        bridges[bd["bd_id"]] = bridge
        inv.link("vconnector-vedge", bridge, vedge, "up")
        for member in bd.get("members", []):
            vnic = vnics.get(member["interface"])
            if vnic is not None:
                connected = "up" if vnic["attributes"]["connected"] else "down"
                inv.link("vnic-vconnector", vnic, bridge,
                         both_up(state.get(member["interface"]), connected))
    _vpp_oteps(inv, host, vpp, vedge, tunnels, bridges, pnics, state)


def _vpp_oteps(inv: HostInventory, host: Doc, vpp: Doc, vedge: Doc, tunnels: dict[str, Doc],
               bridges: dict[int, Doc], pnics: dict[str, Doc], state: dict[str, Any]) -> None:
    by_src: dict[str, list[Doc]] = {}
    for tunnel in tunnels.values():
        by_src.setdefault(tunnel["src"], []).append(tunnel)
    owner = {cidr.split("/")[0]: name for name, cidrs in vpp.get("addresses", {}).items()
             for cidr in cidrs}
    member_of = {member: bd_id for bd_id, bridge in bridges.items()
                 for member in bridge["attributes"]["members"]}
    for src, group in sorted(by_src.items()):
        otep = inv.add("otep", f"{inv.host}-otep-{src}", f"{inv.host}/{src}",
                       ("host", host["id"]), local_ip=src, tunnel_types=["vxlan"],
                       remote_ips=sorted(t["dst"] for t in group if not t.get("multicast")),
                       groups=sorted(t["dst"] for t in group if t.get("multicast")),
                       ports=sorted(t["interface"] for t in group),
                       vnis=sorted({t["vni"] for t in group}), address_configured=src in owner)
        inv.link("vedge-otep", vedge, otep, "up")
        for tunnel in group:
            bd_id = member_of.get(tunnel["interface"])
            if bd_id is not None:
                device_state = state.get(tunnel["interface"]) or "unknown"
                inv.link("otep-vconnector", otep, bridges[bd_id], device_state,
                         device=tunnel["interface"], vni=tunnel["vni"], device_state=device_state)
        nic = pnics.get(owner.get(src, ""))
        if nic is not None:
            inv.link("otep-host_pnic", otep, nic, nic["attributes"]["state"] or "unknown")
