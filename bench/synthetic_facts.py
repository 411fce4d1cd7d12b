"""Synthetic environments for scale: `network_facts` for N OVS-hybrid compute hosts with M VMs
each, in the exact shape the modules return (the recorded lab facts are the model), plus the
matching cloud view.

Networks are spread so that each one spans a bounded group of hosts, and each host tunnels only
to the hosts it shares a network with, as l2population arranges it at real sites (a full mesh of
1,000 hosts would be a million tunnel ports no site runs).
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from calipso_core.discovery.cloud_inventory import CloudView

Doc = dict[str, Any]
HOSTS_PER_NETWORK = 25
VMS_PER_NETWORK_PER_HOST = 2


def _uid(kind: str, key: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"calipso-synthetic:{kind}:{key}"))


def _mac(prefix: str, n: int) -> str:
    return f"{prefix}:{(n >> 16) & 255:02x}:{(n >> 8) & 255:02x}:{n & 255:02x}"


def _iface(name: str, index: int, mac: str, kind: str = "veth", master: str | None = None,
           master_kind: str | None = None, peer: str | None = None,
           addresses: list[Doc] | None = None) -> Doc:
    return {"name": name, "ifindex": index, "kind": kind, "mac": mac, "mtu": 1450,
            "operstate": "up", "admin_up": True, "carrier": True, "master": master,
            "master_kind": master_kind, "peer": peer, "peer_ifindex": None, "physical": False,
            "addresses": addresses or [], "flags": ["UP", "LOWER_UP"]}


def _ovs_iface(name: str, ofport: int, iface_type: str = "system",
               external_ids: Doc | None = None, options: Doc | None = None) -> Doc:
    return {"name": name, "uuid": _uid("ovs-iface", name), "type": iface_type, "ofport": ofport,
            "mac_in_use": None, "mac": None, "admin_state": "up", "link_state": "up",
            "link_speed": None, "mtu": 1450, "error": None, "options": options or {},
            "external_ids": external_ids or {}, "status": {}}


def _port(name: str, interface: Doc, tag: int | None = None) -> Doc:
    return {"name": name, "uuid": _uid("ovs-port", name), "tag": tag, "trunks": [],
            "vlan_mode": None, "bond_mode": None, "lacp": None, "bond_members": [],
            "external_ids": {}, "interfaces": [interface]}


def generate(hosts: int, vms_per_host: int) -> tuple[dict[str, Doc], CloudView]:
    """(facts by host, cloud view) of an environment of `hosts` computes with `vms_per_host` VMs
    each."""
    networks_per_host = max(1, vms_per_host // VMS_PER_NETWORK_PER_HOST)
    groups = max(1, hosts // HOSTS_PER_NETWORK)
    project = _uid("project", "tenant")
    tunnel_net = ipaddress.IPv4Network("10.128.0.0/12")
    tunnel_ip = {h: str(tunnel_net.network_address + 10 + h) for h in range(hosts)}
    names = {h: f"compute{h + 1:04d}" for h in range(hosts)}
    view = CloudView(region="RegionOne",
                     projects=[{"id": project, "name": "tenant", "description": ""}])
    # Networks of group g live on the hosts h with h % groups == g.
    networks: dict[int, list[Doc]] = {}
    for group in range(groups):
        for k in range(networks_per_host):
            net_id = _uid("network", f"{group}-{k}")
            vni = 1000 + group * networks_per_host + k
            networks.setdefault(group, []).append({"id": net_id, "vni": vni})
            view.networks.append({"id": net_id, "name": f"net-{vni}", "project_id": project,
                                  "provider_network_type": "vxlan",
                                  "provider_segmentation_id": vni, "status": "ACTIVE",
                                  "mtu": 1450})
    facts: dict[str, Doc] = {}
    vm_number = 0
    for h in range(hosts):
        name, group = names[h], h % groups
        peers = [p for p in range(group, hosts, groups) if p != h]
        interfaces = [_iface("eth1", 2, _mac("52:54:01", h), addresses=[
            {"family": "inet", "address": tunnel_ip[h], "cidr": f"{tunnel_ip[h]}/12"}])]
        int_ports = [_port("patch-tun", _ovs_iface("patch-tun", 1, "patch",
                                                   options={"peer": "patch-int"}))]
        tun_ports = [_port("patch-int", _ovs_iface("patch-int", 1, "patch",
                                                   options={"peer": "patch-tun"}))]
        tunnels = []
        for n, peer in enumerate(peers):
            port_name = "vxlan-" + ipaddress.IPv4Address(tunnel_ip[peer]).packed.hex()
            options = {"local_ip": tunnel_ip[h], "remote_ip": tunnel_ip[peer], "key": "flow",
                       "dst_port": "4789"}
            tun_ports.append(_port(port_name, _ovs_iface(port_name, n + 2, "vxlan",
                                                         options=options)))
            tunnels.append({"bridge": "br-tun", "port": port_name, "type": "vxlan",
                            "local_ip": tunnel_ip[h], "remote_ip": tunnel_ip[peer],
                            "key": "flow", "dst_port": "4789", "ofport": n + 2,
                            "link_state": "up", "error": None})
        bridges = [{"name": "br-int", "datapath_type": "netdev", "ports": int_ports},
                   {"name": "br-phy", "datapath_type": "netdev",
                    "ports": [_port("eth1", _ovs_iface("eth1", 1))]},
                   {"name": "br-tun", "datapath_type": "netdev", "ports": tun_ports}]
        lb_bridges = []
        for v in range(vms_per_host):
            vm_number += 1
            network = networks[group][v % len(networks[group])]
            port_id, server_id = _uid("port", str(vm_number)), _uid("server", str(vm_number))
            mac = _mac("fa:16:3e", vm_number)
            tap, qbr = f"tap{port_id[:11]}", f"qbr{port_id[:11]}"
            qvb, qvo = f"qvb{port_id[:11]}", f"qvo{port_id[:11]}"
            interfaces += [_iface(tap, 100 + 4 * v, "fe" + mac[2:], "tun", qbr, "bridge"),
                           _iface(qbr, 101 + 4 * v, mac, "bridge"),
                           _iface(qvb, 102 + 4 * v, mac, "veth", qbr, "bridge", qvo),
                           _iface(qvo, 103 + 4 * v, mac, "veth", peer=qvb)]
            lb_bridges.append({"name": qbr, "up": True, "stp": False, "vlan_filtering": False,
                               "members": [{"name": qvb}, {"name": tap}]})
            int_ports.append(_port(qvo, _ovs_iface(qvo, 10 + v, external_ids={
                "iface-id": port_id, "attached-mac": mac, "vm-uuid": server_id,
                "iface-status": "active"}), tag=1 + v % len(networks[group])))
            view.ports.append({"id": port_id, "network_id": network["id"],
                               "binding_host_id": name, "mac_address": mac,
                               "fixed_ips": [{"ip_address": f"10.{vm_number >> 16 & 255}."
                                              f"{vm_number >> 8 & 255}.{vm_number & 255}"}],
                               "device_owner": "compute:nova", "device_id": server_id,
                               "project_id": project, "status": "ACTIVE"})
            view.servers.append({"id": server_id, "name": f"vm-{vm_number}",
                                 "compute_host": name, "project_id": project,
                                 "status": "ACTIVE"})
        facts[name] = {
            "calipso_host": {"hostname": name, "interfaces": interfaces, "namespaces": []},
            "calipso_ovs": {"present": True, "running": True, "version": "3.1.0",
                            "system_id": _uid("ovs", name), "bridges": bridges,
                            "tunnels": tunnels},
            "calipso_linuxbridge": {"present": True, "bridges": lb_bridges, "vxlans": []},
            "calipso_vpp": {"present": False},
        }
    return facts, view
