"""Wiring a lab description into devices: underlay, VMs per layout, DHCP and router namespaces.

Names follow Neutron and Nova (tap/qbr/qvb/qvo/qr-/qg-/brq/vxlan-<vni>, qdhcp-/qrouter-), so that
what discovery finds on a lab host looks like what it would find on a real one.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from calipso_core.lab import ovs
from calipso_core.lab.hosts import host_netns, root_link_prefix
from calipso_core.lab.spec import device_name, hosts_serving, tap_mac
from calipso_core.lab.system import HostNamespaces, netns_run, run

# Per underlay plane: the suffix of the root namespace's bridge and of each host's veth end.
PLANE_SUFFIX = {"management": ("mgmt", "m"), "tunnel": ("tun", "t"), "external": ("ext", "x")}


def root_bridge(lab: str, plane: str) -> str:
    return root_link_prefix(lab) + PLANE_SUFFIX[plane][0]


def create_root_bridges(lab: str, description: dict[str, Any]) -> None:
    """One root-namespace bridge per underlay plane; management and external get the .1 address
    (Ansible's way in, and the external network's upstream gateway)."""
    for plane, cidr in description["underlay"].items():
        bridge = root_bridge(lab, plane)
        run(["ip", "link", "add", bridge, "type", "bridge"])
        if plane != "tunnel":
            net = ipaddress.IPv4Network(cidr)
            run(["ip", "addr", "add", f"{net.network_address + 1}/{net.prefixlen}", "dev", bridge])
        run(["ip", "link", "set", bridge, "up"])


def plumb_nics(lab: str, index: int, host: dict[str, Any], ns: HostNamespaces) -> None:
    """The host's NICs: veths into the root bridges; addresses on those that carry one."""
    netns = host_netns(lab, host["name"])
    for nic in host["nics"]:
        root_end = f"{root_link_prefix(lab)}{index}{PLANE_SUFFIX[nic['plane']][1]}"
        run(["ip", "link", "add", root_end, "type", "veth", "peer", "name", nic["name"],
             "netns", netns])
        run(["ip", "link", "set", root_end, "master", root_bridge(lab, nic["plane"]), "up"])
        ns.run(["ip", "link", "set", nic["name"], "address", nic["mac"], "up"])
        # veths hand on partial checksums that userspace OVS forwards unfinished (a kernel vxlan
        # device's outer UDP checksum among them): the lab's NICs finish them in software.
        ns.run(["ethtool", "-K", nic["name"], "tx", "off"])
        if nic["address"]:
            ns.run(["ip", "addr", "add", nic["address"], "dev", nic["name"]])


def _guest(server: dict[str, Any], port: dict[str, Any], network: dict[str, Any],
           has_router: bool) -> None:
    """Configure the guest end of a VM's tap inside the VM's namespace."""
    vm = server["netns"]
    subnet = network["subnets"][0]
    prefix = ipaddress.IPv4Network(subnet["cidr"]).prefixlen
    netns_run(vm, ["ip", "link", "set", "lo", "up"])
    netns_run(vm, ["ip", "link", "set", "eth0", "address", port["mac_address"],
                   "mtu", str(network["mtu"]), "up"])
    # Userspace OVS forwards veth frames as they are: a guest must hand it finished checksums.
    netns_run(vm, ["ethtool", "-K", "eth0", "tx", "off"])
    netns_run(vm, ["ip", "addr", "add", f"{port['fixed_ips'][0]['ip_address']}/{prefix}",
                   "dev", "eth0"])
    if has_router:
        netns_run(vm, ["ip", "route", "add", "default", "via", subnet["gateway_ip"]])


def _veth_into(ns: HostNamespaces, lab: str, host: str, outer: str, inner: str,
               inner_netns: str) -> None:
    """A veth pair made in the root namespace: `inner` goes to another namespace, `outer` to
    the host (the host's private /run/netns cannot see a VM's namespace by name)."""
    run(["ip", "link", "add", outer, "type", "veth", "peer", "name", inner,
         "netns", inner_netns])
    run(["ip", "link", "set", outer, "netns", host_netns(lab, host)])


def plumb_vm(lab: str, server: dict[str, Any], port: dict[str, Any], network: dict[str, Any],
             host: dict[str, Any], ns: HostNamespaces, has_router: bool) -> None:
    """A VM: a namespace holding the guest end of its tap; the tap plugged per the host's layout."""
    run(["ip", "netns", "add", server["netns"]])
    devices = port["devices"]
    tap = devices["tap"]
    _veth_into(ns, lab, host["name"], tap, "eth0", server["netns"])
    _guest(server, port, network, has_router)
    ns.run(["ip", "link", "set", tap, "address", tap_mac(port["mac_address"]),
            "mtu", str(network["mtu"]), "up"])
    layout = host["layout"]
    vlan = host["local_vlans"].get(network["id"])
    if layout == "ovs-hybrid":
        qbr, qvb, qvo = devices["qbr"], devices["qvb"], devices["qvo"]
        _linux_bridge(ns, qbr)
        ns.run(["ip", "link", "set", tap, "master", qbr])
        ns.run(["ip", "link", "add", qvb, "type", "veth", "peer", "name", qvo])
        for dev in (qvb, qvo):
            ns.run(["ip", "link", "set", dev, "mtu", str(network["mtu"]), "up"])
        ns.run(["ip", "link", "set", qvb, "master", qbr])
        ovs.add_port(ns, "br-int", qvo, port, vlan)
    elif layout == "ovs-native":
        ovs.add_port(ns, "br-int", tap, port, vlan)
    else:
        ns.run(["ip", "link", "set", tap, "master", devices["bridge"]])


def unplug_vm(port: dict[str, Any], host: dict[str, Any], ns: HostNamespaces) -> None:
    """Undo plumb_vm on the host's side (the tap goes with the VM's namespace)."""
    devices = port["devices"]
    if host["layout"] == "ovs-hybrid":
        ovs.vsctl(ns, [["--if-exists", "del-port", "br-int", devices["qvo"]]])
        ns.run(["ip", "link", "delete", devices["qvb"]])
        ns.run(["ip", "link", "delete", devices["qbr"]])
    elif host["layout"] == "ovs-native":
        ovs.vsctl(ns, [["--if-exists", "del-port", "br-int", devices["tap"]]])
    ns.run(["ip", "link", "delete", devices["tap"]], check=False)


def _linux_bridge(ns: HostNamespaces, name: str) -> None:
    ns.run(["ip", "link", "add", name, "type", "bridge", "forward_delay", "0", "stp_state", "0"])
    ns.run(["ip", "link", "set", name, "up"])


def plumb_linuxbridge_networks(description: dict[str, Any], host: dict[str, Any],
                               ns: HostNamespaces) -> None:
    """The Linux-bridge agent's brq bridge and vxlan-<vni> device per network the host serves,
    with flood entries towards the tunnel IPs of the other hosts serving it (as l2pop has it)."""
    tunnel_ip_of = {h["name"]: h["tunnel_ip"] for h in description["hosts"]}
    for network in description["networks"]:
        served = hosts_serving(description, network["id"])
        if host["name"] not in served or network["provider:network_type"] != "vxlan":
            continue
        brq = device_name("brq", network["id"])
        vni = network["provider:segmentation_id"]
        vxlan = f"vxlan-{vni}"
        _linux_bridge(ns, brq)
        ns.run(["ip", "link", "add", vxlan, "type", "vxlan", "id", str(vni), "dev", "eth1",
                "local", host["tunnel_ip"], "dstport", str(ovs.VXLAN_PORT), "nolearning"])
        ns.run(["ip", "link", "set", vxlan, "master", brq, "up"])
        for other in served:
            if other != host["name"]:
                ns.run(["bridge", "fdb", "append", "00:00:00:00:00:00", "dev", vxlan,
                        "dst", tunnel_ip_of[other]])


def program_tunnels(description: dict[str, Any], host: dict[str, Any],
                    ns: HostNamespaces) -> None:
    """br-tun flows of an OVS host: each local VLAN to its VNI and back, flooding only to the
    tunnel ports of hosts that serve the network."""
    others = [h for h in description["hosts"] if h["name"] != host["name"]]
    port_of = {h["name"]: ovs.tunnel_port_name(h["tunnel_ip"]) for h in others}
    vni_of = {n["id"]: n["provider:segmentation_id"] for n in description["networks"]}
    flood = {nid: [port_of[h] for h in hosts_serving(description, nid) if h in port_of]
             for nid in host["local_vlans"]}
    ovs.add_flows(ns, "br-tun", ovs.tunnel_flows(host["local_vlans"], vni_of, flood,
                                                 sorted(port_of.values())))


def _namespace_port(ns: HostNamespaces, bridge: str, device: str, port: dict[str, Any],
                    vlan: int | None, namespace: str, prefixlen: int, mtu: int) -> None:
    """An OVS internal port moved into one of the host's service namespaces, as the DHCP and
    L3 agents plug theirs."""
    ovs.add_port(ns, bridge, device, port, vlan, internal=True)
    ns.run(["ip", "link", "set", device, "netns", namespace])
    ns.in_netns(namespace, ["ip", "link", "set", device, "address", port["mac_address"],
                            "mtu", str(mtu), "up"])
    ns.in_netns(namespace, ["ip", "addr", "add",
                            f"{port['fixed_ips'][0]['ip_address']}/{prefixlen}", "dev", device])


def _ensure_namespace(ns: HostNamespaces, namespace: str) -> None:
    if namespace not in ns.run(["ip", "netns", "list"]).split():
        ns.run(["ip", "netns", "add", namespace])
        ns.in_netns(namespace, ["ip", "link", "set", "lo", "up"])


def plumb_dhcp(description: dict[str, Any], host: dict[str, Any], ns: HostNamespaces,
               dhcp_dir: Path) -> None:
    """qdhcp-<network> namespaces with their tap on br-int and dnsmasq run as the DHCP agent
    runs it, a static range and one host entry per port of the network."""
    for port in description["ports"]:
        if port["device_owner"] != "network:dhcp" or port["binding:host_id"] != host["name"]:
            continue
        network = next(n for n in description["networks"] if n["id"] == port["network_id"])
        subnet = network["subnets"][0]
        net = ipaddress.IPv4Network(subnet["cidr"])
        namespace = port["devices"]["namespace"]
        _ensure_namespace(ns, namespace)
        _namespace_port(ns, "br-int", port["devices"]["tap"], port,
                        host["local_vlans"][network["id"]], namespace, net.prefixlen,
                        network["mtu"])
        conf = dhcp_dir / network["id"]
        conf.mkdir(parents=True, exist_ok=True)
        hosts_file = conf / "host"
        hosts_file.write_text("".join(
            f"{p['mac_address']},host-{p['fixed_ips'][0]['ip_address'].replace('.', '-')}"
            f".openstacklocal,{p['fixed_ips'][0]['ip_address']}\n"
            for p in description["ports"] if p["network_id"] == network["id"]))
        ns.in_netns(namespace, [
            "dnsmasq", "--no-hosts", "--no-resolv", "--port=0",
            f"--pid-file={conf / 'pid'}", f"--dhcp-hostsfile={hosts_file}",
            f"--dhcp-leasefile={conf / 'leases'}", f"--interface={port['devices']['tap']}",
            "--except-interface=lo", "--bind-interfaces",
            f"--dhcp-range=set:subnet-{subnet['id']},{net.network_address},static,"
            f"{net.netmask},86400s",
            f"--dhcp-option-force=option:mtu,{network['mtu']}",
            f"--dhcp-option=option:router,{subnet['gateway_ip']}",
            "--dhcp-lease-max=256", "--conf-file=/dev/null", "--domain=openstacklocal",
            "--user=root", "--group=root"])


def plumb_routers(description: dict[str, Any], host: dict[str, Any],
                  ns: HostNamespaces) -> None:
    """qrouter-<router> namespaces: qr- ports on br-int, the qg- port on br-ex, forwarding on."""
    ports = {p["id"]: p for p in description["ports"]}
    networks = {n["id"]: n for n in description["networks"]}
    for router in description["routers"]:
        if router["host"] != host["name"]:
            continue
        namespace = f"qrouter-{router['id']}"
        _ensure_namespace(ns, namespace)
        for port_id in router["interface_port_ids"]:
            port = ports[port_id]
            network = networks[port["network_id"]]
            prefix = ipaddress.IPv4Network(network["subnets"][0]["cidr"]).prefixlen
            _namespace_port(ns, "br-int", port["devices"]["qr"], port,
                            host["local_vlans"][network["id"]], namespace, prefix, network["mtu"])
        gateway = ports[router["gateway_port_id"]]
        external = networks[gateway["network_id"]]
        prefix = ipaddress.IPv4Network(external["subnets"][0]["cidr"]).prefixlen
        _namespace_port(ns, "br-ex", gateway["devices"]["qg"], gateway, None, namespace, prefix,
                        external["mtu"])
        ns.in_netns(namespace, ["ip", "route", "add", "default", "via",
                                external["subnets"][0]["gateway_ip"]])
        ns.in_netns(namespace, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])


def network_has_router(description: dict[str, Any], network_id: str) -> bool:
    return any(p["network_id"] == network_id and p["device_owner"] == "network:router_interface"
               for p in description["ports"])
