#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Calipso developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: linuxbridge_facts
short_description: Gather Linux bridge state as facts
version_added: "0.1.0"
description:
  - Reads iproute2's JSON (C(ip -j -d link show), C(bridge -j fdb show),
    C(bridge -j vlan show)) and returns every Linux bridge with its STP and VLAN filtering
    settings and members, FDB entries, VLANs per port, and vxlan devices with their VNI,
    local address, group or unicast remote destinations, port and underlay device.
  - Falls back to C(brctl show) where iproute2 cannot print JSON.
author:
  - Calipso developers (@calipso)
extends_documentation_fragment:
  - calipso.topology.facts
"""

EXAMPLES = r"""
- name: Gather Linux bridge facts
  calipso.topology.linuxbridge_facts:

- name: Show where each vxlan device floods to
  ansible.builtin.debug:
    msg: "{{ item.name }} -> {{ item.flood_destinations }}"
  loop: "{{ calipso_linuxbridge.vxlans }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts to add to ansible_facts.
  returned: always
  type: dict
  contains:
    calipso_linuxbridge:
      description: The host's Linux bridges.
      returned: always
      type: dict
      contains:
        present:
          description: Whether a tool to read bridges (ip or brctl) is installed.
          type: bool
          sample: true
        source:
          description: C(iproute2) or C(brctl), whichever the facts come from.
          type: str
          sample: iproute2
        bridges:
          description: Every bridge, sorted by name.
          type: list
          elements: dict
          contains:
            name:
              description: Bridge name.
              type: str
              sample: brq5f0a2b3c-4d
            mac:
              description: Bridge MAC.
              type: str
            mtu:
              description: MTU.
              type: int
            state:
              description: Operational state.
              type: str
            up:
              description: Administratively up.
              type: bool
            stp:
              description: Whether STP is on.
              type: bool
            vlan_filtering:
              description: Whether VLAN filtering is on.
              type: bool
            forward_delay:
              description: Forward delay in centiseconds.
              type: int
            bridge_id:
              description: Bridge id.
              type: str
            members:
              description: Member ports (C(brctl) gives names only).
              type: list
              elements: raw
              contains:
                name:
                  description: Member interface.
                  type: str
                kind:
                  description: Link kind (veth, vxlan, tun, ether ...).
                  type: str
                mac:
                  description: MAC.
                  type: str
                mtu:
                  description: MTU.
                  type: int
                up:
                  description: Administratively up.
                  type: bool
                oper_state:
                  description: Operational state.
                  type: str
                port_state:
                  description: STP port state (forwarding, blocking ...).
                  type: str
                learning:
                  description: MAC learning on the port.
                  type: bool
                flood:
                  description: Flooding on the port.
                  type: bool
                vlans:
                  description: VLANs of the port with their flags.
                  type: list
                  elements: dict
        vxlans:
          description: vxlan devices.
          type: list
          elements: dict
          contains:
            name:
              description: Device name.
              type: str
              sample: vxlan-1002
            vni:
              description: VXLAN network identifier.
              type: int
            local:
              description: Local tunnel address.
              type: str
            group:
              description: Multicast group, if any.
              type: str
            remote:
              description: Single remote, if configured on the device.
              type: str
            port:
              description: UDP destination port.
              type: int
            device:
              description: Underlay device.
              type: str
            learning:
              description: Whether the device learns remote endpoints.
              type: bool
            bridge:
              description: Bridge the device is a member of.
              type: str
            up:
              description: Administratively up.
              type: bool
            flood_destinations:
              description: Remote tunnel IPs of the all-zero FDB entries (head-end replication).
              type: list
              elements: str
            unicast_destinations:
              description: Per-MAC remote tunnel IPs (as l2population writes them).
              type: list
              elements: dict
        fdb:
          description: FDB entries that belong to a bridge or point at a tunnel endpoint.
          type: list
          elements: dict
"""

from ansible_collections.calipso.topology.plugins.module_utils.facts_module import (
    run_facts_module,
)
from ansible_collections.calipso.topology.plugins.module_utils.linuxbridge import (
    collect_linuxbridge,
)


def main():
    run_facts_module("calipso_linuxbridge", collect_linuxbridge)


if __name__ == "__main__":
    main()
