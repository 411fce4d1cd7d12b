#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Calipso developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: host_facts
short_description: Gather a host's networking - NICs, bonds, namespaces, libvirt domains, LLDP
version_added: "0.1.0"
description:
  - Gathers what a host's networking really holds and returns it as the C(calipso_host) fact.
  - Interfaces of the root network namespace, with physical NICs told apart from virtual devices.
    An interface without a link kind is a physical NIC when C(/sys/class/net/IF/device) exists;
    veth, tap, bridge, vxlan, Open vSwitch, bond, vlan and other devices are virtual and reported
    with their kind from C(ip -j -d addr show).
  - For physical NICs the driver (C(ethtool -i), or the C(/sys/class/net/IF/device/driver) link),
    speed and duplex (C(/sys/class/net/IF/speed) and C(duplex)); for every interface the MAC, MTU,
    operational state, carrier, master and addresses.
  - Linux bonds with their mode and members, from C(/proc/net/bonding/BOND) and C(ip -d).
  - Network namespaces (C(ip netns list)) with their interfaces and addresses; this is how Neutron
    services such as C(qdhcp-*) and C(qrouter-*) are seen.
  - libvirt domains and their interfaces (tap device, MAC, source bridge, OVS interface id, Nova
    metadata) from C(virsh -r list --all) and C(virsh -r dumpxml), where libvirt runs.
  - LLDP neighbours from C(lldpcli -f json show neighbors details), where lldpd runs.
  - The routing table of the root namespace and the hostname.
author:
  - Calipso developers (@calipso)
extends_documentation_fragment:
  - calipso.topology.facts
requirements:
  - iproute2 with JSON output (C(ip -j), iproute2 4.14 or later) on the managed host.
  - Optional, each reported as absent when missing - C(ethtool), C(virsh) (libvirt), C(lldpcli)
    (lldpd 0.9 or 1.0 and later, C(json) or C(json0) build).
notes:
  - The commands run are C(ip -j -d addr show), C(ip -j route show), C(ip -j netns list) (with
    C(ip netns list) as a fallback), C(ip netns exec NS ip -j -d addr show) for each namespace,
    C(ethtool -i IF) for each physical NIC, C(virsh -r list --all --name), C(virsh -r list --all),
    C(virsh -r dumpxml DOMAIN) for each domain, C(lldpcli -f json show neighbors details) and, when
    it lists no neighbour, C(lldpcli -f json show configuration) to tell a stopped lldpd apart.
  - Files under C(/sys) and C(/proc) are read as the commands C(cat PATH) and C(readlink PATH), so
    that I(recorded_outputs) covers them with the same keys, for example
    C(cat /proc/net/bonding/bond0), C(cat /sys/class/net/eno1/speed),
    C(readlink /sys/class/net/eno1/device), C(cat /proc/sys/kernel/hostname).
  - Physical NIC details are read for the root namespace only; interfaces of other namespaces carry
    what C(ip) reports.
  - A stopped libvirtd (C(virsh) fails with C(failed to connect)) gives C(libvirt.present=true) and
    C(libvirt.running=false); a stopped lldpd gives the same for C(lldp).
seealso:
  - name: iproute2 ip-link(8)
    description: The link kinds and details reported by C(ip -d).
    link: https://man7.org/linux/man-pages/man8/ip-link.8.html
  - name: Linux bonding driver
    description: The C(/proc/net/bonding) status files.
    link: https://www.kernel.org/doc/Documentation/networking/bonding.txt
  - name: libvirt domain XML format
    description: The C(<interface>) elements read from C(virsh dumpxml).
    link: https://libvirt.org/formatdomain.html#network-interfaces
"""

EXAMPLES = r"""
- name: Gather the networking of every host
  calipso.topology.host_facts:

- name: Show the physical NICs and the bonds
  ansible.builtin.debug:
    msg: "{{ calipso_host.physical_nics }} / {{ calipso_host.bonds | map(attribute='name') }}"

- name: The Neutron DHCP namespaces of a network node
  ansible.builtin.debug:
    msg: "{{ calipso_host.namespaces | selectattr('kind', 'equalto', 'qdhcp')
             | map(attribute='object_id') }}"

- name: Parse outputs recorded earlier, without touching the host
  calipso.topology.host_facts:
    recorded_outputs:
      "ip -j -d addr show": "{{ lookup('ansible.builtin.file', 'recorded/ip-addr.json') }}"
      "ip -j route show": "[]"
      "ip -j netns list": "[]"
      "cat /proc/sys/kernel/hostname": "compute-7"
      "virsh -r list --all --name":
      "lldpcli -f json show neighbors details":
"""

RETURN = r"""
ansible_facts:
  description: The facts gathered.
  returned: always
  type: dict
  contains:
    calipso_host:
      description: The host's networking.
      returned: always
      type: dict
      contains:
        hostname:
          description: The kernel hostname (C(/proc/sys/kernel/hostname)); null if unreadable.
          returned: always
          type: str
          sample: compute-7
        interfaces:
          description: Interfaces of the root network namespace, in ifindex order.
          returned: always
          type: list
          elements: dict
          contains:
            name:
              description: Interface name.
              returned: always
              type: str
              sample: eno1
            ifindex:
              description: Interface index.
              returned: always
              type: int
              sample: 2
            kind:
              description:
                - C(physical) for a NIC (no link kind and a C(/sys/class/net/IF/device)),
                  C(loopback), the link kind of C(ip -d) for virtual devices (C(veth), C(bridge),
                  C(vxlan), C(openvswitch), C(bond), C(vlan), C(macvlan) ...; tun devices as
                  C(tap) or C(tun)), or C(unknown) for a kind-less virtual device.
              returned: always
              type: str
              sample: physical
            physical:
              description: Whether the interface is a physical NIC.
              returned: always
              type: bool
              sample: true
            link_type:
              description: Link layer type (C(ether), C(loopback), C(none) ...).
              returned: always
              type: str
              sample: ether
            mac:
              description: Current MAC address.
              returned: always
              type: str
              sample: "3c:fd:fe:a5:10:40"
            permanent_mac:
              description: Permanent MAC address where it differs or the interface is a bond member.
              returned: always
              type: str
              sample: "3c:fd:fe:a5:10:41"
            mtu:
              description: MTU.
              returned: always
              type: int
              sample: 9000
            operstate:
              description: Operational state, lower case (C(up), C(down), C(unknown) ...).
              returned: always
              type: str
              sample: up
            admin_up:
              description: Whether the interface is administratively up (C(UP) flag).
              returned: always
              type: bool
              sample: true
            carrier:
              description: Whether the interface has carrier (C(LOWER_UP) flag).
              returned: always
              type: bool
              sample: true
            flags:
              description: Interface flags as C(ip) prints them.
              returned: always
              type: list
              elements: str
              sample: [BROADCAST, MULTICAST, SLAVE, UP, LOWER_UP]
            master:
              description: The bridge, bond or Open vSwitch datapath the interface is attached to.
              returned: always
              type: str
              sample: bond0
            master_kind:
              description: Kind of the master (C(bridge), C(bond), C(openvswitch)).
              returned: always
              type: str
              sample: bond
            port_state:
              description: State as a port of its master (bridge STP state or bond member state).
              returned: always
              type: str
              sample: active
            peer:
              description: Peer of a veth in the same namespace, or the parent of a VLAN device.
              returned: always
              type: str
              sample: qvb5e3c1b2a-4d
            peer_ifindex:
              description: ifindex of the peer or parent, when C(ip) reports it.
              returned: always
              type: int
              sample: 829
            peer_netnsid:
              description: Id of the namespace that holds the peer, when it is another namespace.
              returned: always
              type: int
              sample: 0
            vlan_id:
              description: VLAN id of a vlan device.
              returned: always
              type: int
              sample: 100
            vxlan:
              description: VXLAN details of a vxlan device (vni, local, remote, group, port, dev).
              returned: always
              type: dict
              sample:
                {vni: 1002, local: 10.249.1.13, remote: null, group: null, port: 4789, dev: eth1}
            addresses:
              description: IP addresses.
              returned: always
              type: list
              elements: dict
              contains:
                family:
                  description: C(inet) or C(inet6).
                  returned: always
                  type: str
                  sample: inet
                address:
                  description: The address.
                  returned: always
                  type: str
                  sample: 192.0.2.27
                prefixlen:
                  description: Prefix length.
                  returned: always
                  type: int
                  sample: 24
                cidr:
                  description: Address and prefix length.
                  returned: always
                  type: str
                  sample: 192.0.2.27/24
                scope:
                  description: Address scope (C(global), C(link), C(host)).
                  returned: always
                  type: str
                  sample: global
                broadcast:
                  description: Broadcast address, if any.
                  returned: always
                  type: str
                  sample: 192.0.2.255
                label:
                  description: Address label, if any.
                  returned: always
                  type: str
                  sample: bond0.100
            driver:
              description: Kernel driver of a physical NIC; null for other interfaces.
              returned: always
              type: str
              sample: ixgbe
            driver_version:
              description: Driver version from C(ethtool -i).
              returned: always
              type: str
              sample: 6.1.0-28-amd64
            firmware_version:
              description: Firmware version from C(ethtool -i).
              returned: always
              type: str
              sample: 0x800008c3, 1.2735.0
            bus_info:
              description: Bus address from C(ethtool -i).
              returned: always
              type: str
              sample: "0000:3b:00.0"
            speed:
              description: Speed in Mb/s of a physical NIC or bond; null when unknown.
              returned: always
              type: int
              sample: 10000
            duplex:
              description: C(full) or C(half) for a physical NIC or bond; null when unknown.
              returned: always
              type: str
              sample: full
        physical_nics:
          description: Names of the physical NICs.
          returned: always
          type: list
          elements: str
          sample: [eno1, eno2, eno3, eno4]
        bonds:
          description: Linux bonds.
          returned: always
          type: list
          elements: dict
          contains:
            name:
              description: Bond interface name.
              returned: always
              type: str
              sample: bond0
            mode:
              description: Bonding mode (C(balance-rr), C(active-backup), C(balance-xor),
                C(broadcast), C(802.3ad), C(balance-tlb), C(balance-alb)).
              returned: always
              type: str
              sample: 802.3ad
            mode_description:
              description: The mode as the bonding driver words it.
              returned: always
              type: str
              sample: IEEE 802.3ad Dynamic link aggregation
            mii_status:
              description: MII status of the bond (C(up) or C(down)).
              returned: always
              type: str
              sample: up
            miimon:
              description: MII polling interval in ms.
              returned: always
              type: int
              sample: 100
            active_slave:
              description: Currently active member (active-backup, balance-tlb/alb).
              returned: always
              type: str
              sample: eno3
            primary_slave:
              description: Primary member, if set.
              returned: always
              type: str
              sample: eno3
            xmit_hash_policy:
              description: Transmit hash policy (balance-xor and 802.3ad).
              returned: always
              type: str
              sample: layer3+4
            lacp_rate:
              description: LACP rate (802.3ad).
              returned: always
              type: str
              sample: fast
            aggregator:
              description: Active 802.3ad aggregator (id, ports, actor_key, partner_key,
                partner_mac).
              returned: always
              type: dict
              sample:
                id: 1
                ports: 2
                actor_key: 15
                partner_key: 32769
                partner_mac: "00:1c:73:8e:5a:00"
            mac:
              description: MAC address of the bond.
              returned: always
              type: str
              sample: "3c:fd:fe:a5:10:40"
            speed:
              description: Aggregate speed in Mb/s; null when unknown.
              returned: always
              type: int
              sample: 20000
            operstate:
              description: Operational state of the bond interface.
              returned: always
              type: str
              sample: up
            source:
              description: C(proc) when C(/proc/net/bonding/BOND) was read, else C(iproute2).
              returned: always
              type: str
              sample: proc
            members:
              description: Bond members.
              returned: always
              type: list
              elements: dict
              contains:
                name:
                  description: Member interface.
                  returned: always
                  type: str
                  sample: eno1
                mii_status:
                  description: MII status of the member (C(up), C(down), C(going_down) ...).
                  returned: always
                  type: str
                  sample: up
                state:
                  description: Member state from C(ip -d) (C(active) or C(backup)).
                  returned: always
                  type: str
                  sample: active
                active:
                  description: Whether it is the active member; null for modes without one.
                  returned: always
                  type: bool
                  sample: true
                speed:
                  description: Speed in Mb/s; null when unknown.
                  returned: always
                  type: int
                  sample: 10000
                duplex:
                  description: Duplex; null when unknown.
                  returned: always
                  type: str
                  sample: full
                link_failure_count:
                  description: Link failures counted by the bonding driver.
                  returned: always
                  type: int
                  sample: 0
                permanent_mac:
                  description: Permanent MAC address of the member.
                  returned: always
                  type: str
                  sample: "3c:fd:fe:a5:10:41"
                aggregator_id:
                  description: 802.3ad aggregator the member belongs to.
                  returned: always
                  type: int
                  sample: 1
                physical:
                  description: Whether the member is a physical NIC.
                  returned: always
                  type: bool
                  sample: true
        routes:
          description: Routes of the main table of the root namespace (C(ip -j route show)).
          returned: always
          type: list
          elements: dict
          contains:
            dst:
              description: Destination prefix or C(default).
              returned: always
              type: str
              sample: default
            gateway:
              description: Next hop, if any.
              returned: always
              type: str
              sample: 192.0.2.1
            dev:
              description: Output interface.
              returned: always
              type: str
              sample: bond0.100
            protocol:
              description: Routing protocol (C(kernel), C(static), C(dhcp) ...).
              returned: always
              type: str
              sample: static
            scope:
              description: Route scope, if printed.
              returned: always
              type: str
              sample: link
            prefsrc:
              description: Preferred source address, if any.
              returned: always
              type: str
              sample: 192.0.2.27
            metric:
              description: Metric, if any.
              returned: always
              type: int
              sample: 100
            type:
              description: Route type when not unicast (C(blackhole), C(local) ...).
              returned: always
              type: str
              sample: blackhole
        default_route:
          description: The first default route (gateway and dev), or null.
          returned: always
          type: dict
          sample: {gateway: 192.0.2.1, dev: bond0.100}
        namespaces:
          description: Network namespaces other than the root one.
          returned: always
          type: list
          elements: dict
          contains:
            name:
              description: Namespace name.
              returned: always
              type: str
              sample: qdhcp-78a4eda1-8eb7-5f33-910c-55d2ddaa4296
            id:
              description: Namespace id (netnsid) as seen from the root namespace, if assigned.
              returned: always
              type: int
              sample: 1
            kind:
              description: C(qdhcp), C(qrouter), C(snat), C(fip), C(qlbaas), C(ovnmeta) or C(other),
                from the name's prefix.
              returned: always
              type: str
              sample: qdhcp
            object_id:
              description: The name after the prefix (network id for qdhcp, router id for qrouter
                and snat ...); null for C(other).
              returned: always
              type: str
              sample: 78a4eda1-8eb7-5f33-910c-55d2ddaa4296
            interfaces:
              description: Interfaces of the namespace, with the fields of I(interfaces) that come
                from C(ip) (no physical, driver, speed, duplex).
              returned: always
              type: list
              elements: dict
              sample:
                - name: tap684d3e27-ef
                  kind: tap
                  mac: "fa:16:3e:6f:82:e2"
                  addresses: [{cidr: 10.10.1.2/24}]
            error:
              description: Why the namespace's interfaces could not be read (for example it was
                deleted meanwhile); null otherwise.
              returned: always
              type: str
              sample: null
        libvirt:
          description: libvirt domains.
          returned: always
          type: dict
          contains:
            present:
              description: Whether C(virsh) is installed.
              returned: always
              type: bool
              sample: true
            running:
              description: Whether libvirtd answered.
              returned: always
              type: bool
              sample: true
            error:
              description: The error of C(virsh) when libvirtd did not answer.
              returned: always
              type: str
              sample: >-
                virsh -r list --all --name: exited 1: error: failed to connect to the hypervisor
            domains:
              description: Domains, running or not.
              returned: always
              type: list
              elements: dict
              contains:
                name:
                  description: Domain name.
                  returned: always
                  type: str
                  sample: instance-0000000a
                uuid:
                  description: Domain UUID (the Nova server id for Nova instances).
                  returned: always
                  type: str
                  sample: 0b7e2c4d-6f1a-4e3b-9d8c-2a1b0c9d8e7f
                id:
                  description: Domain id while running; null otherwise.
                  returned: always
                  type: int
                  sample: 1
                state:
                  description: State from C(virsh list) (C(running), C(shut off), C(paused) ...).
                  returned: always
                  type: str
                  sample: running
                type:
                  description: Hypervisor type.
                  returned: always
                  type: str
                  sample: kvm
                vcpus:
                  description: Number of vCPUs.
                  returned: always
                  type: int
                  sample: 1
                memory_kib:
                  description: Memory in KiB.
                  returned: always
                  type: int
                  sample: 2097152
                nova:
                  description: Nova instance metadata (name, package, creation_time, flavor,
                    user_id, user_name, project_id, project_name, ports with their ips); null for
                    a domain Nova did not create.
                  returned: always
                  type: dict
                  sample:
                    name: web-1
                    flavor: m1.small
                    project_id: 9f8e7d6c5b4a43219876543210fedcba
                    ports: []
                interfaces:
                  description: The domain's network interfaces.
                  returned: always
                  type: list
                  elements: dict
                  contains:
                    type:
                      description: Interface type (C(bridge), C(ethernet), C(network),
                        C(vhostuser), C(hostdev) ...).
                      returned: always
                      type: str
                      sample: bridge
                    mac:
                      description: Guest MAC address (the Neutron port's MAC).
                      returned: always
                      type: str
                      sample: "fa:16:3e:2b:7c:11"
                    target:
                      description: Host device (tap) name.
                      returned: always
                      type: str
                      sample: tap5e3c1b2a-4d
                    model:
                      description: Device model.
                      returned: always
                      type: str
                      sample: virtio
                    driver:
                      description: Backend driver name, if set.
                      returned: always
                      type: str
                      sample: vhost
                    source_bridge:
                      description: Bridge the interface is plugged in.
                      returned: always
                      type: str
                      sample: qbr5e3c1b2a-4d
                    source_network:
                      description: libvirt network, for C(network) interfaces.
                      returned: always
                      type: str
                      sample: default
                    source_dev:
                      description: Host device, for C(direct) interfaces.
                      returned: always
                      type: str
                      sample: eno5
                    source_path:
                      description: Socket path, for C(vhostuser) interfaces.
                      returned: always
                      type: str
                      sample: /var/run/openvswitch/vhu5b6c7d8e-9f
                    source_mode:
                      description: Socket or macvtap mode.
                      returned: always
                      type: str
                      sample: server
                    source_pci:
                      description: PCI address of a C(hostdev) interface's function.
                      returned: always
                      type: str
                      sample: "0000:3b:02.1"
                    virtualport_type:
                      description: Virtual port type (C(openvswitch), C(802.1Qbh) ...).
                      returned: always
                      type: str
                      sample: openvswitch
                    interface_id:
                      description: Open vSwitch interface id (the Neutron port id).
                      returned: always
                      type: str
                      sample: 8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d
                    mtu:
                      description: MTU, if set.
                      returned: always
                      type: int
                      sample: 1450
                    alias:
                      description: Device alias of a running domain.
                      returned: always
                      type: str
                      sample: net0
                error:
                  description: Why the domain could not be dumped (undefined meanwhile); null
                    otherwise.
                  returned: always
                  type: str
                  sample: null
        lldp:
          description: LLDP neighbours.
          returned: always
          type: dict
          contains:
            present:
              description: Whether C(lldpcli) is installed.
              returned: always
              type: bool
              sample: true
            running:
              description: Whether lldpd answered.
              returned: always
              type: bool
              sample: true
            error:
              description: The error of C(lldpcli) when lldpd did not answer, if it failed.
              returned: always
              type: str
              sample: null
            neighbors:
              description: One entry per neighbour.
              returned: always
              type: list
              elements: dict
              contains:
                local_interface:
                  description: Local interface the neighbour was seen on.
                  returned: always
                  type: str
                  sample: eno1
                via:
                  description: Protocol (C(LLDP), C(CDPv2) ...).
                  returned: always
                  type: str
                  sample: LLDP
                rid:
                  description: lldpd's remote index.
                  returned: always
                  type: int
                  sample: 1
                age:
                  description: Time since the neighbour was first seen, as lldpcli prints it.
                  returned: always
                  type: str
                  sample: 0 day, 02:11:07
                chassis:
                  description: Remote chassis (name, id, id_type, description, mgmt_ip list,
                    capabilities list of type and enabled).
                  returned: always
                  type: dict
                  sample:
                    name: leaf-1.example.net
                    id: "00:1c:73:8e:5a:01"
                    id_type: mac
                    mgmt_ip: [192.0.2.11]
                port:
                  description: Remote port (id, id_type, description, ttl, mfs).
                  returned: always
                  type: dict
                  sample:
                    {id: Ethernet21, id_type: ifname, description: compute-7 eno1, ttl: 120,
                     mfs: 9236}
                vlans:
                  description: VLANs the neighbour advertises on the port (vlan_id, name, pvid).
                  returned: always
                  type: list
                  elements: dict
                  sample: [{vlan_id: 100, name: mgmt, pvid: true}]
"""

from ansible_collections.calipso.topology.plugins.module_utils.facts_module import (  # noqa: E402
    run_facts_module,
)
from ansible_collections.calipso.topology.plugins.module_utils.host import collect_host  # noqa: E402


def main():
    run_facts_module("calipso_host", collect_host)


if __name__ == "__main__":
    main()
