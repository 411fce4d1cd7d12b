"""The lab's logical description: hosts, projects, networks, routers, servers and ports.

The description is generated from a few size parameters and is deterministic: the same lab name and
size always give the same uuids, MACs, VNIs and addresses. The builder plumbs it into namespaces,
OVS and Linux bridges, the local OpenStack API serves it, and tests compare discovery against it,
so it is the single ground truth of the lab.

Port entries carry Neutron's fields plus a `devices` map (tap/qbr/qvb/qvo/qr/qg/ns names and the
bridge they hang on); the cloud API serves only Neutron's fields.
"""

from __future__ import annotations

import hashlib
import ipaddress
import uuid
from dataclasses import dataclass
from typing import Any

# Compute layouts, assigned to compute nodes in this order and then round again, so that the
# default three computes cover OVS hybrid, OVS native and the Linux-bridge agent.
COMPUTE_LAYOUTS = ("ovs-hybrid", "ovs-native", "linuxbridge")

# Tiers of the hosted tenant's networks; networks beyond these are named net4, net5 ...
TENANT_TIERS = ("web", "app", "db")
MAIN_PROJECT = "webshop"
OTHER_PROJECT = "analytics"
ADMIN_PROJECT = "admin"

FIRST_VNI = 1001
TENANT_MTU = 1450  # 1500 underlay minus the 50 bytes of VXLAN over IPv4
NEUTRON_DEVICE_NAME_LEN = 14  # Neutron cuts tap/qbr/qvo/qr-/qg-/brq names to 14 characters
LAB_NAME_MAX = 6  # root-namespace interface names (cl + lab + -mgmt) stay within 15 characters


class LabSpecError(ValueError):
    """The lab parameters cannot describe a lab."""


@dataclass(frozen=True)
class LabSize:
    """How big the lab is: compute nodes, tenant networks of the main project, VMs per compute."""

    computes: int = 3
    networks: int = 3
    vms_per_node: int = 2

    def validate(self) -> None:
        if not 1 <= self.computes <= 20:
            raise LabSpecError(f"computes must be 1..20, got {self.computes}")
        if not 1 <= self.networks <= 50:
            raise LabSpecError(f"networks must be 1..50, got {self.networks}")
        if not 0 <= self.vms_per_node <= 50:
            raise LabSpecError(f"vms_per_node must be 0..50, got {self.vms_per_node}")


@dataclass(frozen=True)
class LabSpec:
    """A lab: its name (prefix of every namespace and root interface), size and address plan."""

    name: str = "demo"
    size: LabSize = LabSize()
    # First two octets of the lab's three underlay /24s (management, tunnel, external).
    address_base: str = "10.250"

    def validate(self) -> None:
        if not (self.name.isascii() and self.name.isalnum() and self.name.islower()):
            raise LabSpecError(f"lab name must be lowercase letters and digits: {self.name!r}")
        if not 1 <= len(self.name) <= LAB_NAME_MAX:
            raise LabSpecError(f"lab name must be 1..{LAB_NAME_MAX} characters: {self.name!r}")
        try:
            net = ipaddress.ip_network(f"{self.address_base}.0.0/16")
        except ValueError as exc:
            raise LabSpecError(f"address_base must be two octets like 10.250: {exc}") from exc
        if not net.is_private:
            raise LabSpecError(f"address_base must be a private range: {self.address_base}")
        self.size.validate()

    def underlay(self, plane: str) -> ipaddress.IPv4Network:
        """The /24 of one underlay plane: management, tunnel or external."""
        index = {"management": 0, "tunnel": 1, "external": 2}[plane]
        return ipaddress.IPv4Network(f"{self.address_base}.{index}.0/24")


def _uuid(lab: str, kind: str, key: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"calipso-lab:{lab}:{kind}:{key}"))


def _mac(prefix: str, seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return prefix + ":" + ":".join(f"{b:02x}" for b in digest[:3])


def neutron_mac(seed: str) -> str:
    """A MAC in Neutron's default base_mac range fa:16:3e."""
    return _mac("fa:16:3e", seed)


def tap_mac(port_mac: str) -> str:
    """The host side of a VM's tap: libvirt gives it the guest MAC with fe as first octet."""
    return "fe" + port_mac[2:]


def device_name(prefix: str, port_id: str) -> str:
    """Neutron's device naming: a prefix and the first characters of the port uuid."""
    return (prefix + port_id)[:NEUTRON_DEVICE_NAME_LEN]


def _host_ip(spec: LabSpec, plane: str, index: int) -> str:
    return str(spec.underlay(plane).network_address + 10 + index)


def _hosts(spec: LabSpec) -> list[dict[str, Any]]:
    hosts = []
    for index in range(spec.size.computes + 1):
        is_controller = index == 0
        name = "controller" if is_controller else f"compute{index}"
        layout = "network" if is_controller else COMPUTE_LAYOUTS[(index - 1) % len(COMPUTE_LAYOUTS)]
        uses_ovs = layout != "linuxbridge"
        mgmt_ip = _host_ip(spec, "management", index)
        tunnel_ip = _host_ip(spec, "tunnel", index)
        nics = [
            {"name": "eth0", "mac": _mac("52:54:00", f"{spec.name}:{name}:eth0"),
             "plane": "management", "address": f"{mgmt_ip}/24", "bridge": None},
            # The tunnel IP lives on br-phy where OVS userspace tunnelling needs it; the
            # Linux-bridge agent's kernel vxlan devices use it straight on eth1.
            {"name": "eth1", "mac": _mac("52:54:00", f"{spec.name}:{name}:eth1"),
             "plane": "tunnel", "address": f"{tunnel_ip}/24",
             "bridge": "br-phy" if uses_ovs else None},
        ]
        if is_controller:
            nics.append({"name": "eth2", "mac": _mac("52:54:00", f"{spec.name}:{name}:eth2"),
                         "plane": "external", "address": None, "bridge": "br-ex"})
        if uses_ovs:
            bridges = ["br-int", "br-tun", "br-phy"] + (["br-ex"] if is_controller else [])
            agents = ["Open vSwitch agent"]
        else:
            bridges = []
            agents = ["Linux bridge agent"]
        if is_controller:
            agents += ["DHCP agent", "L3 agent", "Metadata agent"]
        hosts.append({
            "name": name,
            "role": "controller" if is_controller else "compute",
            "layout": layout,
            "netns": f"calipso-{spec.name}-{name}",
            "management_ip": mgmt_ip,
            "tunnel_ip": tunnel_ip,
            "system_id": _uuid(spec.name, "ovs-system", name) if uses_ovs else None,
            "ovs_bridges": bridges,
            "nics": nics,
            "agents": agents,
            "nova_services": ["nova-compute"] if not is_controller
            else ["nova-conductor", "nova-scheduler"],
            "local_vlans": {},
        })
    return hosts


def _network(spec: LabSpec, name: str, project_id: str, vni: int, cidr: str) -> dict[str, Any]:
    net_id = _uuid(spec.name, "network", name)
    subnet = ipaddress.IPv4Network(cidr)
    return {
        "id": net_id,
        "name": name,
        "project_id": project_id,
        "status": "ACTIVE",
        "admin_state_up": True,
        "shared": False,
        "router:external": False,
        "mtu": TENANT_MTU,
        "provider:network_type": "vxlan",
        "provider:physical_network": None,
        "provider:segmentation_id": vni,
        "subnets": [{
            "id": _uuid(spec.name, "subnet", name),
            "name": f"{name}-subnet",
            "network_id": net_id,
            "project_id": project_id,
            "ip_version": 4,
            "cidr": cidr,
            "gateway_ip": str(subnet.network_address + 1),
            "allocation_pools": [{"start": str(subnet.network_address + 2),
                                  "end": str(subnet.broadcast_address - 1)}],
            "enable_dhcp": True,
            "dns_nameservers": [],
        }],
    }


def _port(spec: LabSpec, key: str, network: dict[str, Any], ip: str, owner: str,
          device_id: str, host: str, devices: dict[str, Any], vif_type: str,
          vif_details: dict[str, Any]) -> dict[str, Any]:
    port_id = _uuid(spec.name, "port", key)
    return {
        "id": port_id,
        "name": "",
        "network_id": network["id"],
        "project_id": network["project_id"],
        "mac_address": neutron_mac(f"{spec.name}:{port_id}"),
        "fixed_ips": [{"subnet_id": network["subnets"][0]["id"], "ip_address": ip}],
        "device_owner": owner,
        "device_id": device_id,
        "status": "ACTIVE",
        "admin_state_up": True,
        "binding:host_id": host,
        "binding:vif_type": vif_type,
        "binding:vnic_type": "normal",
        "binding:vif_details": vif_details,
        "devices": devices,
    }


def _ovs_vif(hybrid: bool) -> dict[str, Any]:
    return {"port_filter": True, "ovs_hybrid_plug": hybrid, "bridge_name": "br-int",
            "datapath_type": "netdev", "connectivity": "l2"}


def _vm_devices(layout: str, port_id: str, network_id: str) -> dict[str, Any]:
    """Where a VM port's devices sit on its host, as Nova's os-vif and the agents name them."""
    tap = device_name("tap", port_id)
    if layout == "ovs-hybrid":
        return {"tap": tap, "qbr": device_name("qbr", port_id),
                "qvb": device_name("qvb", port_id), "qvo": device_name("qvo", port_id),
                "bridge": "br-int"}
    if layout == "ovs-native":
        return {"tap": tap, "bridge": "br-int"}
    return {"tap": tap, "bridge": device_name("brq", network_id)}


def describe(spec: LabSpec) -> dict[str, Any]:
    """The whole logical description of the lab, as plain JSON-able data."""
    spec.validate()
    projects = [{"id": _uuid(spec.name, "project", name), "name": name, "domain_id": "default",
                 "description": desc, "enabled": True}
                for name, desc in ((ADMIN_PROJECT, "cloud administration"),
                                   (MAIN_PROJECT, "hosted web shop: web, app and db tiers"),
                                   (OTHER_PROJECT, "another tenant's batch jobs"))]
    project_id = {p["name"]: p["id"] for p in projects}
    hosts = _hosts(spec)
    controller = hosts[0]
    computes = hosts[1:]

    networks = []
    for index in range(spec.size.networks):
        name = TENANT_TIERS[index] if index < len(TENANT_TIERS) else f"net{index + 1}"
        networks.append(_network(spec, name, project_id[MAIN_PROJECT], FIRST_VNI + index,
                                 f"10.10.{index + 1}.0/24"))
    other_net = _network(spec, "data", project_id[OTHER_PROJECT], FIRST_VNI + 100,
                         "10.20.1.0/24")
    external = _network(spec, "public", project_id[ADMIN_PROJECT], 0,
                        str(spec.underlay("external")))
    external.update({"router:external": True, "provider:network_type": "flat",
                     "provider:physical_network": "external", "provider:segmentation_id": None,
                     "mtu": 1500})
    ext_net = spec.underlay("external")
    external["subnets"][0].update({
        "enable_dhcp": False,
        "allocation_pools": [{"start": str(ext_net.network_address + 100),
                              "end": str(ext_net.network_address + 200)}]})
    tenant_networks = [*networks, other_net]

    ports: list[dict[str, Any]] = []
    # DHCP: one port per tenant network on the controller, in qdhcp-<network id>.
    dhcp_device_id = f"dhcp{controller['system_id']}"
    for net in tenant_networks:
        port = _port(spec, f"dhcp:{net['name']}", net,
                     net["subnets"][0]["allocation_pools"][0]["start"], "network:dhcp",
                     f"{dhcp_device_id}-{net['id']}", controller["name"], {}, "ovs",
                     _ovs_vif(False))
        port["devices"] = {"tap": device_name("tap", port["id"]), "bridge": "br-int",
                           "namespace": f"qdhcp-{net['id']}"}
        ports.append(port)

    # One router for the main project: an interface on each of its networks, a gateway outside.
    router_id = _uuid(spec.name, "router", "webshop-router")
    router_ports = []
    for net in networks:
        port = _port(spec, f"router:{net['name']}", net, net["subnets"][0]["gateway_ip"],
                     "network:router_interface", router_id, controller["name"], {}, "ovs",
                     _ovs_vif(False))
        port["devices"] = {"qr": device_name("qr-", port["id"]), "bridge": "br-int",
                           "namespace": f"qrouter-{router_id}"}
        router_ports.append(port)
    gateway = _port(spec, "router:gateway", external,
                    external["subnets"][0]["allocation_pools"][0]["start"],
                    "network:router_gateway", router_id, controller["name"], {}, "ovs",
                    _ovs_vif(False))
    gateway["project_id"] = ""  # Neutron gives gateway ports no tenant
    gateway["devices"] = {"qg": device_name("qg-", gateway["id"]), "bridge": "br-ex",
                          "namespace": f"qrouter-{router_id}"}
    ports += [*router_ports, gateway]
    routers = [{
        "id": router_id, "name": "webshop-router", "project_id": project_id[MAIN_PROJECT],
        "status": "ACTIVE", "admin_state_up": True, "host": controller["name"],
        "external_gateway_info": {
            "network_id": external["id"], "enable_snat": True,
            "external_fixed_ips": gateway["fixed_ips"]},
        "interface_port_ids": [p["id"] for p in router_ports],
        "gateway_port_id": gateway["id"],
    }]

    # VMs: spread over the computes, the main project's tiers taking turns; one VM of the other
    # project on the last compute.
    servers: list[dict[str, Any]] = []
    tier_counts: dict[str, int] = {}
    next_ip: dict[str, int] = {}
    placements = [(compute, networks[(c * spec.size.vms_per_node + s) % len(networks)])
                  for c, compute in enumerate(computes) for s in range(spec.size.vms_per_node)]
    placements.append((computes[-1], other_net))
    for compute, net in placements:
        tier_counts[net["name"]] = tier_counts.get(net["name"], 0) + 1
        name = {"data": "etl"}.get(net["name"], net["name"]) + f"-{tier_counts[net['name']]}"
        server_id = _uuid(spec.name, "server", name)
        subnet = ipaddress.IPv4Network(net["subnets"][0]["cidr"])
        next_ip[net["id"]] = next_ip.get(net["id"], 10) + 1
        layout = compute["layout"]
        port_id = _uuid(spec.name, "port", f"vm:{name}")
        port = _port(spec, f"vm:{name}", net, str(subnet.network_address + next_ip[net["id"]]),
                     "compute:nova", server_id, compute["name"],
                     _vm_devices(layout, port_id, net["id"]),
                     "bridge" if layout == "linuxbridge" else "ovs",
                     {"port_filter": True, "connectivity": "l2"} if layout == "linuxbridge"
                     else _ovs_vif(layout == "ovs-hybrid"))
        ports.append(port)
        servers.append({
            "id": server_id,
            "name": name,
            "project_id": net["project_id"],
            "host": compute["name"],
            "layout": layout,
            "instance_name": f"instance-{len(servers) + 1:08x}",
            "status": "ACTIVE",
            "availability_zone": "nova",
            "flavor": "m1.tiny",
            "netns": f"calipso-{spec.name}-vm-{name}",
            "port_ids": [port["id"]],
        })

    # Local VLANs: each OVS host numbers the networks it serves from 1, in VNI order, the way the
    # OVS agent hands them out as ports appear; they differ between hosts, as in a real cloud.
    for host in hosts:
        if not host["ovs_bridges"]:
            continue
        served = sorted({p["network_id"] for p in ports
                         if p["binding:host_id"] == host["name"]
                         and p["devices"].get("bridge") == "br-int"},
                        key=lambda nid: next(n["provider:segmentation_id"]
                                             for n in tenant_networks if n["id"] == nid))
        host["local_vlans"] = {nid: vlan for vlan, nid in enumerate(served, start=1)}

    return {
        "name": spec.name,
        "region": "RegionOne",
        "address_base": spec.address_base,
        "size": {"computes": spec.size.computes, "networks": spec.size.networks,
                 "vms_per_node": spec.size.vms_per_node},
        "underlay": {plane: str(spec.underlay(plane))
                     for plane in ("management", "tunnel", "external")},
        "hosts": hosts,
        "projects": projects,
        "networks": [*tenant_networks, external],
        "routers": routers,
        "servers": servers,
        "ports": ports,
    }


def hosts_serving(description: dict[str, Any], network_id: str) -> list[str]:
    """Names of the hosts that have a port on a network (the tunnel flood list, as l2pop has it)."""
    return sorted({p["binding:host_id"] for p in description["ports"]
                   if p["network_id"] == network_id})


def vm_port(description: dict[str, Any], server: dict[str, Any]) -> dict[str, Any]:
    """A VM's (first) port in a lab's description."""
    return next(p for p in description["ports"] if p["id"] == server["port_ids"][0])
