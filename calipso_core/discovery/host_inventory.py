"""Objects and links from one host's facts: what exists on the wire, without the cloud's API.

Input is what `calipso.topology.network_facts` returns for a host (calipso_ovs,
calipso_linuxbridge, calipso_host; calipso_vpp is handled by its own builder). Output is the
host's objects (host, host_pnic, vedge, vconnector, vnic, vservice, otep, instance where the
host names one) and the links among them that one host can see. Tunnels between hosts
(otep-otep) need every host's oteps and are built by `tunnel_links`.

Ids are derived from what the host reports, never from scan order: OVS system-id, Nova's
vm-uuid, `<host>-<device>` and `<host>-<namespace>`, so every scan (and every event) computes the
same id for the same thing. Link state comes from real status: both ends' link state.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from calipso_core.discovery.records import HostInventory, both_up, iface_state, link_id
from calipso_core.discovery.vpp_inventory import add_vpp

Doc = dict[str, Any]

# Device name prefixes that Neutron, Nova and OVS give their own devices; an interface without
# one of them, in the host's namespace, that is physical or a veth/bond uplink is a host NIC.
VIRTUAL_PREFIXES = ("tap", "qbr", "qvb", "qvo", "qr-", "qg-", "brq", "vxlan", "br-", "ovs-",
                    "patch-", "int-", "phy-", "lo", "vhu", "virbr", "docker", "genev", "gre")
UPLINK_KINDS = ("veth", "bond", "vlan", None)
SERVICE_KINDS = {"qdhcp": "dhcp", "qrouter": "router", "snat": "router", "fip": "router",
                 "qlbaas": "lbaas", "ovnmeta": "metadata"}


def is_host_nic(iface: Doc) -> bool:
    if iface.get("physical"):
        return True
    return (iface.get("kind") in UPLINK_KINDS and iface.get("mac") not in (None, "")
            and not iface["name"].startswith(VIRTUAL_PREFIXES))


def _ovs_interfaces(ovs: Doc) -> Iterable[tuple[Doc, Doc, Doc]]:
    for bridge in ovs.get("bridges", []):
        for port in bridge["ports"]:
            for iface in port["interfaces"]:
                yield bridge, port, iface


def build_host(host_name: str, facts: Doc) -> HostInventory:
    """Every object and in-host link of one host."""
    inv = HostInventory(host_name)
    host_facts = facts.get("calipso_host", {})
    ovs = facts.get("calipso_ovs", {})
    lb = facts.get("calipso_linuxbridge", {})
    host = inv.add("host", host_name, host_facts.get("hostname") or host_name,
                   hostname=host_facts.get("hostname"),
                   default_route=host_facts.get("default_route"))
    ifaces = {i["name"]: i for i in host_facts.get("interfaces", [])}
    by_index = {i["ifindex"]: i for i in ifaces.values() if i.get("ifindex") is not None}

    pnics = {name: inv.add("host_pnic", f"{host_name}-{name}", name, ("host", host["id"]),
                           mac=i.get("mac"), mtu=i.get("mtu"), speed=i.get("speed"),
                           duplex=i.get("duplex"), driver=i.get("driver"),
                           physical=bool(i.get("physical")), kind=i.get("kind"),
                           state=iface_state(i),
                           addresses=[a["cidr"] for a in i.get("addresses", [])])
             for name, i in ifaces.items() if is_host_nic(i)}

    vedge = None
    ovs_ifaces: dict[str, tuple[Doc, Doc, Doc]] = {}
    if ovs.get("running"):
        vedge = inv.add("vedge", ovs.get("system_id") or f"{host_name}-ovs", f"{host_name}/ovs",
                        ("host", host["id"]), switch="ovs", version=ovs.get("version"),
                        bridges=[b["name"] for b in ovs["bridges"]],
                        datapath_types=sorted({b["datapath_type"] for b in ovs["bridges"]}),
                        ports=[{"bridge": b["name"], "port": p["name"], "interface": i["name"],
                                "type": i["type"], "ofport": i["ofport"], "tag": p["tag"],
                                "link_state": i["link_state"], "iface_id":
                                i["external_ids"].get("iface-id")}
                               for b, p, i in _ovs_interfaces(ovs)])
        ovs_ifaces = {i["name"]: (b, p, i) for b, p, i in _ovs_interfaces(ovs)}
        for name, (bridge, _port, iface) in ovs_ifaces.items():
            if name in pnics and iface["type"] == "system":
                inv.link("vedge-host_pnic", vedge, pnics[name],
                         both_up(iface.get("link_state"), pnics[name]["attributes"]["state"]),
                         bridge=bridge["name"], link_state=iface.get("link_state"),
                         error=iface.get("error"))

    vconnectors = {b["name"]: inv.add("vconnector", f"{host_name}-{b['name']}", b["name"],
                                      ("host", host["id"]), kind="linux_bridge",
                                      stp=b.get("stp"), vlan_filtering=b.get("vlan_filtering"),
                                      members=[m["name"] if isinstance(m, dict) else m
                                               for m in b.get("members", [])],
                                      state="up" if b.get("up") else "down")
                   for b in lb.get("bridges", [])}

    _vm_vnics(inv, host, ifaces, by_index, ovs_ifaces, vedge, vconnectors)
    _services(inv, host, host_facts, ovs_ifaces, vedge)
    _oteps(inv, host, ifaces, ovs, lb, vedge, vconnectors, pnics)
    if facts.get("calipso_vpp", {}).get("running"):
        add_vpp(inv, host, facts["calipso_vpp"])
    return inv


def _vm_vnics(inv: HostInventory, host: Doc, ifaces: dict[str, Doc],
              by_index: dict[int, Doc], ovs_ifaces: dict[str, tuple[Doc, Doc, Doc]],
              vedge: Doc | None, vconnectors: dict[str, Doc]) -> None:
    """Instance-side vnics: taps on a Linux bridge (hybrid, Linux-bridge agent) or straight on
    OVS (native); Neutron's port and Nova's instance from OVS external_ids where present."""
    for name, iface in ifaces.items():
        if not name.startswith("tap"):
            continue
        bridge = iface.get("master")
        on_ovs = ovs_ifaces.get(name)
        if bridge not in vconnectors and on_ovs is None:
            continue
        # Hybrid plug: the qbr's qvb is a veth whose peer (qvo) is the OVS port Nova tagged.
        ovs_port = on_ovs
        if bridge in vconnectors:
            for member in vconnectors[bridge]["attributes"]["members"]:
                peer = _veth_peer(ifaces.get(member, {}), ifaces, by_index)
                if member.startswith("qvb") and peer in ovs_ifaces:
                    ovs_port = ovs_ifaces[peer]
        ids = ovs_port[2]["external_ids"] if ovs_port else {}
        vnic = inv.add("vnic", f"{inv.host}-{name}", name, ("host", host["id"]),
                       side="instance", mac=iface.get("mac"), mtu=iface.get("mtu"),
                       port_id=ids.get("iface-id"), guest_mac=ids.get("attached-mac"),
                       instance_id=ids.get("vm-uuid"), state=iface_state(iface))
        if bridge in vconnectors:
            inv.link("vnic-vconnector", vnic, vconnectors[bridge],
                     both_up(iface_state(iface), vconnectors[bridge]["attributes"]["state"]))
            if ovs_port and vedge:
                bridge_doc, port, ovs_iface = ovs_port
                inv.link("vconnector-vedge", vconnectors[bridge], vedge,
                         both_up(ovs_iface.get("link_state"),
                                 vconnectors[bridge]["attributes"]["state"]),
                         ovs_port=ovs_iface["name"], bridge=bridge_doc["name"], tag=port["tag"],
                         link_state=ovs_iface.get("link_state"), error=ovs_iface.get("error"))
        elif vedge and on_ovs:
            bridge_doc, port, ovs_iface = on_ovs
            inv.link("vnic-vedge", vnic, vedge,
                     both_up(iface_state(iface), ovs_iface.get("link_state")),
                     ovs_port=name, bridge=bridge_doc["name"], tag=port["tag"],
                     link_state=ovs_iface.get("link_state"), error=ovs_iface.get("error"))
        if ids.get("vm-uuid"):
            instance = inv.add("instance", ids["vm-uuid"], ids["vm-uuid"], ("host", host["id"]))
            inv.link("instance-vnic", instance, vnic, iface_state(iface) or "unknown")


def _veth_peer(iface: Doc, ifaces: dict[str, Doc], by_index: dict[int, Doc]) -> str | None:
    """The name of a veth's other end in the same namespace (iproute2 names it, or gives its
    ifindex)."""
    if iface.get("peer") in ifaces:
        return iface["peer"]
    peer = by_index.get(iface.get("peer_ifindex"))
    return peer["name"] if peer else None


def _services(inv: HostInventory, host: Doc, host_facts: Doc,
              ovs_ifaces: dict[str, tuple[Doc, Doc, Doc]], vedge: Doc | None) -> None:
    """vservices (qdhcp-, qrouter- ... namespaces) and their vnics, plugged into OVS."""
    for namespace in host_facts.get("namespaces", []):
        kind = SERVICE_KINDS.get(namespace.get("kind"))
        if kind is None:
            continue
        service = inv.add("vservice", f"{inv.host}-{namespace['name']}", namespace["name"],
                          ("host", host["id"]), service_type=kind,
                          object_id=namespace.get("object_id"), error=namespace.get("error"),
                          namespace=namespace["name"])
        for iface in namespace.get("interfaces", []):
            if iface.get("kind") == "loopback":
                continue
            on_ovs = ovs_ifaces.get(iface["name"])
            vnic = inv.add("vnic", f"{inv.host}-{namespace['name']}-{iface['name']}",
                           iface["name"], ("vservice", service["id"]), side="vservice",
                           mac=iface.get("mac"), mtu=iface.get("mtu"), state=iface_state(iface),
                           port_id=on_ovs[2]["external_ids"].get("iface-id") if on_ovs else None,
                           addresses=[a["cidr"] for a in iface.get("addresses", [])
                                      if a["family"] == "inet"])
            inv.link("vservice-vnic", service, vnic, iface_state(iface) or "unknown")
            if on_ovs and vedge:
                bridge, port, ovs_iface = on_ovs
                # OVS cannot see a port's device once it is moved into a namespace, so its own
                # admin/link state says down; the state is the device's, unless OVS has an error.
                inv.link("vnic-vedge", vnic, vedge,
                         both_up(iface_state(iface), "down" if ovs_iface.get("error") else "up"),
                         ovs_port=iface["name"], bridge=bridge["name"], tag=port["tag"],
                         link_state=iface_state(iface), error=ovs_iface.get("error"))


def _oteps(inv: HostInventory, host: Doc, ifaces: dict[str, Doc], ovs: Doc, lb: Doc,
           vedge: Doc | None, vconnectors: dict[str, Doc], pnics: dict[str, Doc]) -> None:
    """One otep per local tunnel address: OVS tunnel ports, Linux-bridge vxlan devices."""
    endpoints: dict[str, dict[str, Any]] = {}
    for tunnel in ovs.get("tunnels", []) if vedge else []:
        ep = endpoints.setdefault(tunnel["local_ip"], {"types": set(), "remotes": set(),
                                                       "ports": [], "devices": []})
        ep["types"].add(tunnel["type"])
        ep["remotes"].add(tunnel["remote_ip"])
        ep["ports"].append(tunnel["port"])
    for vxlan in lb.get("vxlans", []):
        ep = endpoints.setdefault(vxlan["local"], {"types": set(), "remotes": set(),
                                                   "ports": [], "devices": []})
        ep["types"].add("vxlan")
        ep["remotes"].update(vxlan["flood_destinations"])
        ep["devices"].append(vxlan)
    # Where each address lives: on an OVS bridge's internal port (userspace tunnelling) or a NIC.
    owner = {a["address"]: name for name, i in ifaces.items() for a in i.get("addresses", [])}
    for local_ip, ep in sorted(endpoints.items()):
        otep = inv.add("otep", f"{inv.host}-otep-{local_ip}", f"{inv.host}/{local_ip}",
                       ("host", host["id"]), local_ip=local_ip, tunnel_types=sorted(ep["types"]),
                       remote_ips=sorted(ep["remotes"]), ports=sorted(ep["ports"]),
                       vnis=sorted(d["vni"] for d in ep["devices"]),
                       address_configured=local_ip in owner)
        if ep["ports"] and vedge:
            inv.link("vedge-otep", vedge, otep, "up" if ovs.get("running") else "down")
        for device in ep["devices"]:
            bridge = vconnectors.get(device.get("bridge"))
            if bridge:
                device_state = "up" if device.get("up") else "down"
                inv.link("otep-vconnector", otep, bridge, device_state, device=device["name"],
                         vni=device["vni"], device_state=device_state)
        for nic in _uplinks(owner.get(local_ip), ep["devices"], ovs, pnics):
            inv.link("otep-host_pnic", otep, nic, nic["attributes"]["state"] or "unknown")


def _uplinks(address_owner: str | None, devices: list[Doc], ovs: Doc,
             pnics: dict[str, Doc]) -> list[Doc]:
    """The NICs a tunnel leaves by: the vxlan devices' underlay device, the NIC holding the
    address, or the NICs of the OVS bridge whose internal port holds it (br-phy)."""
    names = {d["device"] for d in devices if d.get("device")}
    if address_owner:
        names.add(address_owner)
        for bridge in ovs.get("bridges", []):
            if bridge["name"] == address_owner:
                names.update(i["name"] for p in bridge["ports"] for i in p["interfaces"])
    return [pnics[n] for n in sorted(names) if n in pnics]


def tunnel_links(oteps: list[Doc]) -> list[Doc]:
    """otep-otep links: one per pair of hosts whose endpoints name each other; up when both ends
    have the tunnel configured, down when only one end has."""
    by_ip = {o["attributes"]["local_ip"]: o for o in oteps}
    links = {}
    for otep in oteps:
        for remote_ip in otep["attributes"]["remote_ips"]:
            peer = by_ip.get(remote_ip)
            if peer is None:
                continue
            a, b = sorted((otep, peer), key=lambda o: o["id"])
            both_ends = (a["attributes"]["local_ip"] in b["attributes"]["remote_ips"]
                         and b["attributes"]["local_ip"] in a["attributes"]["remote_ips"])
            links[(a["id"], b["id"])] = {
                "id": link_id("otep-otep", a["id"], b["id"]), "link_type": "otep-otep",
                "source_id": a["id"], "source_type": "otep", "target_id": b["id"],
                "target_type": "otep", "host": None, "state": "up" if both_ends else "down",
                "attributes": {"hosts": sorted([a["host"], b["host"]]),
                               "ips": [a["attributes"]["local_ip"],
                                       b["attributes"]["local_ip"]]}}
    return [links[k] for k in sorted(links)]
