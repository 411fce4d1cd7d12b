#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Calipso developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: vpp_facts
short_description: Gather what fd.io VPP holds on a host as facts
version_added: "0.1.0"
description:
  - Reads the text that C(vppctl) prints (VPP has no JSON CLI) and returns the VPP version,
    software and hardware interfaces with their counters, the layer 2/layer 3 mode of every
    interface, bridge domains with their members, VXLAN tunnels, interface addresses and
    vhost-user interfaces with their sockets.
  - Runs C(vppctl show version), C(show interface), C(show hardware-interfaces), C(show mode),
    C(show bridge-domain) and C(show bridge-domain <id> detail) for each domain,
    C(show vxlan tunnel), C(show interface address) (C(show interface addr) if refused) and
    C(show vhost-user).
  - Parses by key words and table headers, not column positions, so the same module reads
    releases from 16.09 to 24.x, whose tables gained and renamed columns.
  - A C(vppctl) subcommand the release does not know, or that VPP refuses, leaves its section
    empty and adds a line to RV(ansible_facts.calipso_vpp.warnings); output that is cut short or
    unreadable fails the module with a message naming the command.
author:
  - Calipso developers (@calipso)
extends_documentation_fragment:
  - calipso.topology.facts
notes:
  - C(vppctl) not installed gives RV(ansible_facts.calipso_vpp.present=false). Installed but VPP
    not answering (no CLI socket, connection refused, C(vppctl) failing) gives
    RV(ansible_facts.calipso_vpp.present=true), RV(ansible_facts.calipso_vpp.running=false) and
    the reason in RV(ansible_facts.calipso_vpp.error).
  - Reading the CLI socket usually needs root, so use O(ignore:become=true).
"""

EXAMPLES = r"""
- name: Gather VPP facts
  calipso.topology.vpp_facts:
  become: true

- name: Show the members of every bridge domain
  ansible.builtin.debug:
    msg: "{{ item.bd_id }}: {{ item.members | map(attribute='interface') | list }}"
  loop: "{{ calipso_vpp.bridge_domains }}"
  when: calipso_vpp.running

- name: Parse outputs captured earlier instead of asking the host
  calipso.topology.vpp_facts:
    recorded_outputs:
      "vppctl show version": "{{ lookup('ansible.builtin.file', 'vpp/show_version.txt') }}"
      "vppctl show interface": "{{ lookup('ansible.builtin.file', 'vpp/show_interface.txt') }}"
      "vppctl show hardware-interfaces": "{{ lookup('ansible.builtin.file', 'vpp/show_hw.txt') }}"
  delegate_to: localhost
"""

RETURN = r"""
ansible_facts:
  description: Facts to add to ansible_facts.
  returned: always
  type: dict
  contains:
    calipso_vpp:
      description: What VPP holds on the host. Every key is always there; sections are empty
        when VPP is absent or not running.
      returned: always
      type: dict
      contains:
        present:
          description: Whether C(vppctl) is installed.
          type: bool
          sample: true
        running:
          description: Whether VPP answered C(vppctl show version).
          type: bool
          sample: true
        error:
          description: Why VPP is considered not running (what C(vppctl) said), else null.
          type: str
          sample: "vppctl show version: clib_socket_init: connect (fd 3, '/run/vpp/cli.sock'):
            No such file or directory"
        warnings:
          description: Sections left empty because the release does not know the command or
            refused it, one line each, naming the command.
          type: list
          elements: str
          sample: ["vppctl show vxlan tunnel: show: unknown input `vxlan tunnel'"]
        version:
          description: The version as C(show version) prints it.
          type: str
          sample: v19.08.1-release
        release:
          description: The release number from the version.
          type: str
          sample: "19.08.1"
        build:
          description: Who built VPP, where and when, as printed.
          type: dict
          sample: {"by": "root", "host": "5f3a1e0c9b7d", "date": "2019-09-18T14:27:05"}
        interfaces:
          description: Software interfaces (C(show interface)), in index order.
          type: list
          elements: dict
          contains:
            name:
              description: Interface name.
              type: str
              sample: TenGigabitEthernet5/0/1.2001
            index:
              description: sw_if_index.
              type: int
              sample: 8
            state:
              description: Administrative state as printed (C(up), C(down), C(up/punt),
                C(bond-slave), C(error)).
              type: str
              sample: up
            admin_up:
              description: Whether the interface is administratively up.
              type: bool
              sample: true
            mtu:
              description: Layer 3 MTU; null on releases that do not print MTU (before 18.10).
              type: int
              sample: 9000
            mtu_by_protocol:
              description: The MTU column split into C(l3), C(ip4), C(ip6) and C(mpls), or null.
              type: dict
              sample: {"l3": 9000, "ip4": 0, "ip6": 0, "mpls": 0}
            parent:
              description: Parent interface of a sub-interface (C(name.N)), else null.
              type: str
              sample: TenGigabitEthernet5/0/1
            sub_id:
              description: Sub-interface id, else null.
              type: int
              sample: 2001
            counters:
              description: Counters keyed by their printed name with separators as
                underscores (C(rx_packets), C(rx_bytes), C(tx_packets), C(tx_bytes), C(drops),
                C(punt), C(ip4), C(ip6), C(rx_miss), C(tx_error) ...). VPP prints only
                counters that are not zero; the first five are reported as 0 when absent.
              type: dict
              sample: {"rx_packets": 100312, "rx_bytes": 11701442, "tx_packets": 99870,
                       "tx_bytes": 11650071, "drops": 0}
        hardware_interfaces:
          description: Hardware interfaces (C(show hardware-interfaces)), in index order.
          type: list
          elements: dict
          contains:
            name:
              description: Interface name.
              type: str
              sample: TenGigabitEthernet5/0/0
            index:
              description: hw_if_index (not the same numbering as sw_if_index).
              type: int
              sample: 1
            sw_if_index:
              description: sw_if_index of the interface of the same name, if listed.
              type: int
              sample: 1
            link:
              description: Link state (C(up), C(down), or C(slave) for a bond member).
              type: str
              sample: up
            hardware:
              description: The Hardware column (device name, or C(Slave-Idx) list of a bond).
              type: str
              sample: TenGigabitEthernet5/0/0
            mac:
              description: Ethernet address, null for interfaces without one.
              type: str
              sample: "90:e2:ba:4c:1f:60"
            device:
              description: Device description line (NIC model, C(Linux PACKET socket
                interface v3), C(VXLAN), C(local) ...), null where none is printed.
              type: str
              sample: Intel 82599
            link_speed:
              description: Link speed as printed (19.x and later), else null.
              type: str
              sample: 10 Gbps
            carrier:
              description: Carrier state of a DPDK device, else null.
              type: str
              sample: up
            pci_address:
              description: PCI address of a DPDK device, else null.
              type: str
              sample: "0000:05:00.00"
            bond_members:
              description: hw_if_index of the members of a bond, else null.
              type: list
              elements: int
              sample: [2, 3]
        modes:
          description:
            - Interface name to its forwarding mode (C(show mode)).
            - Each value has C(mode), one of C(l3), C(bridge) or C(xconnect). A bridge member
              also has C(bd_id), C(shg) (split horizon group) and C(bvi) (whether it is the
              domain's BVI); a cross-connected interface has C(peer). Another layer 2 mode a
              later release may add is kept under its own name, with its words in C(args).
          type: dict
          sample: {"loop0": {"mode": "bridge", "bd_id": 100, "shg": 0, "bvi": true},
                   "local0": {"mode": "l3"},
                   "VirtualEthernet0/0/2": {"mode": "xconnect",
                                            "peer": "TenGigabitEthernet5/0/1.2002"}}
        bridge_domains:
          description: Bridge domains (C(show bridge-domain), then C(show bridge-domain <id>
            detail)); the default domain 0 is left out. Flags a release does not print are
            null.
          type: list
          elements: dict
          contains:
            bd_id:
              description: Bridge domain id.
              type: int
              sample: 100
            index:
              description: Internal bridge domain index.
              type: int
              sample: 1
            learning:
              description: MAC learning.
              type: bool
              sample: true
            forwarding:
              description: Unicast forwarding.
              type: bool
              sample: true
            uu_flood:
              description: Unknown unicast flooding.
              type: bool
              sample: true
            uu_forward_interface:
              description: Interface unknown unicast is forwarded to, if configured.
              type: str
              sample: null
            flooding:
              description: Flooding.
              type: bool
              sample: true
            arp_term:
              description: ARP termination.
              type: bool
              sample: false
            arp_ufwd:
              description: ARP unicast forwarding (20.x and later), else null.
              type: bool
              sample: false
            mac_age:
              description: MAC age in minutes, null when ageing is off or not printed.
              type: int
              sample: 5
            learn_count:
              description: Learned MAC count (20.x and later), else null.
              type: int
              sample: 6
            learn_limit:
              description: MAC learning limit (20.x and later), else null.
              type: int
              sample: 16777216
            bvi:
              description: BVI interface name, null if none.
              type: str
              sample: loop0
            tag:
              description: Bridge domain tag (BD-Tag), null if none.
              type: str
              sample: net-4a1f09e2
            input_features:
              description: Layer 2 input features of the domain (20.x and later detail
                output), else null.
              type: list
              elements: str
              sample: ["l2-learn", "l2-fwd", "l2-flood", "l2-output"]
            arp_entries:
              description: ARP termination table entries.
              type: list
              elements: dict
              sample: [{"ip": "10.10.0.11", "mac": "fa:16:3e:5a:20:c1"}]
            members:
              description: Member interfaces; empty if the detail command gave nothing.
              type: list
              elements: dict
              contains:
                interface:
                  description: Member interface name.
                  type: str
                  sample: vxlan_tunnel0
                sw_if_index:
                  description: Its sw_if_index.
                  type: int
                  sample: 6
                shg:
                  description: Split horizon group.
                  type: int
                  sample: 1
                bvi:
                  description: Whether it is the BVI.
                  type: bool
                  sample: false
                uu_forward:
                  description: Whether it is the unknown unicast forwarding interface.
                  type: bool
                  sample: false
                tx_flood:
                  description: Whether it receives flooded traffic (null before 17.x).
                  type: bool
                  sample: true
                vlan_tag_rewrite:
                  description: VLAN tag rewrite as printed.
                  type: str
                  sample: pop-1
        vxlan_tunnels:
          description: VXLAN tunnels (C(show vxlan tunnel)). Values a release does not print
            are null.
          type: list
          elements: dict
          contains:
            index:
              description: Tunnel index (the bracketed number).
              type: int
              sample: 0
            instance:
              description: Instance, the number in the interface name (the index before 18.x).
              type: int
              sample: 10
            interface:
              description: Tunnel interface name, from sw_if_index where known.
              type: str
              sample: vxlan_tunnel10
            src:
              description: Local tunnel endpoint.
              type: str
              sample: 10.20.0.24
            dst:
              description: Remote tunnel endpoint (or multicast group).
              type: str
              sample: 10.20.0.25
            multicast:
              description: Whether dst is a multicast group.
              type: bool
              sample: false
            vni:
              description: VXLAN network identifier.
              type: int
              sample: 5010
            sw_if_index:
              description: sw_if_index of the tunnel interface.
              type: int
              sample: 7
            src_port:
              description: UDP source port (20.x and later).
              type: int
              sample: 4789
            dst_port:
              description: UDP destination port (20.x and later).
              type: int
              sample: 4789
            encap_fib_index:
              description: FIB index used to reach dst.
              type: int
              sample: 0
            encap_dpo_index:
              description: Encapsulation DPO index (18.x and later).
              type: int
              sample: 7
            fib_entry_index:
              description: FIB entry of dst (16.09 to 17.x).
              type: int
              sample: 14
            mcast_sw_if_index:
              description: Interface of a multicast tunnel.
              type: int
              sample: 1
            flow_index:
              description: Offload flow index, if any.
              type: int
              sample: null
            decap_next:
              description: Where decapsulated packets go (C(l2) unless printed otherwise).
              type: str
              sample: l2
        addresses:
          description: Interface name to its IPv4 and IPv6 addresses in CIDR form
            (C(show interface address)); every listed interface, with an empty list if it
            has none.
          type: dict
          sample: {"loop0": ["10.10.0.1/24", "fd00:10::1/64"], "local0": []}
        vhost_user:
          description: vhost-user interfaces (C(show vhost-user)).
          type: list
          elements: dict
          contains:
            interface:
              description: Interface name.
              type: str
              sample: VirtualEthernet0/0/0
            hw_if_index:
              description: hw_if_index (the ifindex printed).
              type: int
              sample: 5
            sw_if_index:
              description: sw_if_index of the interface of the same name, if listed.
              type: int
              sample: 5
            socket:
              description: Socket file name.
              type: str
              sample: /var/run/vpp/vhu-2b6e0f1c-9a.sock
            mode:
              description: VPP's role on the socket, C(server) or C(client).
              type: str
              sample: server
            errno:
              description: The socket's last error as printed (C(Success) when fine).
              type: str
              sample: Success
            connected:
              description: Whether a guest is attached (socket without error and guest
                memory regions mapped).
              type: bool
              sample: true
            memory_regions:
              description: Number of guest memory regions mapped.
              type: int
              sample: 2
            virtio_net_hdr_sz:
              description: Negotiated virtio-net header size.
              type: int
              sample: 12
            features_hex:
              description: Negotiated virtio features as printed.
              type: str
              sample: "0x150208000"
            features:
              description: Negotiated virtio feature names.
              type: list
              elements: str
              sample: ["VIRTIO_NET_F_MRG_RXBUF", "VIRTIO_F_VERSION_1"]
            protocol_features:
              description: Negotiated vhost-user protocol feature names.
              type: list
              elements: str
              sample: ["VHOST_USER_PROTOCOL_F_MQ"]
"""

from ansible_collections.calipso.topology.plugins.module_utils.facts_module import (  # noqa: E402
    run_facts_module,
)
from ansible_collections.calipso.topology.plugins.module_utils.vpp import (  # noqa: E402
    collect_vpp,
)


def main():
    run_facts_module("calipso_vpp", collect_vpp)


if __name__ == "__main__":
    main()
