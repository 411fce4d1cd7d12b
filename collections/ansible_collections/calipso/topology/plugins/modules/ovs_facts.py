#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Calipso developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ovs_facts
short_description: Gather Open vSwitch state as facts
version_added: "0.1.0"
description:
  - Reads the host's OVSDB through C(ovs-vsctl --format=json) and returns the switch instance,
    every bridge with its ports and interfaces, patch pairs and tunnels resolved, and optionally
    a per-bridge summary of the OpenFlow tables.
  - The host's OVS is the one C(ovs-vsctl) finds, so C(OVS_RUNDIR) in the environment selects it.
author:
  - Calipso developers (@calipso)
options:
  flows:
    description:
      - Also summarise each bridge's flows (count and packets per table) from
        C(ovs-ofctl dump-flows).
    type: bool
    default: false
extends_documentation_fragment:
  - calipso.topology.facts
"""

EXAMPLES = r"""
- name: Gather Open vSwitch facts
  calipso.topology.ovs_facts:

- name: Gather them with a flow summary per bridge
  calipso.topology.ovs_facts:
    flows: true

- name: List the VXLAN tunnel endpoints of this host
  ansible.builtin.debug:
    msg: "{{ calipso_ovs.tunnels | map(attribute='remote_ip') | list }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts to add to ansible_facts.
  returned: always
  type: dict
  contains:
    calipso_ovs:
      description: The host's Open vSwitch.
      returned: always
      type: dict
      contains:
        present:
          description: Whether ovs-vsctl is installed.
          type: bool
          sample: true
        running:
          description: Whether the OVS database answered.
          type: bool
          sample: true
        error:
          description: Why the database did not answer, when it did not.
          type: str
          returned: when present and not running
        version:
          description: The ovs_version of the switch.
          type: str
          sample: "3.1.0"
        db_version:
          description: The schema version of the database.
          type: str
          sample: "8.3.1"
        system_id:
          description: The external_ids system-id (the chassis name for OVN).
          type: str
          sample: 2b1f8b9e-4c7e-5f0e-9d54-0a1b2c3d4e5f
        hostname:
          description: The hostname OVS recorded.
          type: str
          sample: compute1
        system_type:
          description: The system type OVS recorded.
          type: str
        system_version:
          description: The system version OVS recorded.
          type: str
        datapath_types:
          description: Datapath types this OVS supports.
          type: list
          elements: str
          sample: [netdev, system]
        iface_types:
          description: Interface types this OVS supports.
          type: list
          elements: str
        external_ids:
          description: The switch's external_ids (for example ovn-encap-ip).
          type: dict
        other_config:
          description: The switch's other_config.
          type: dict
        bridges:
          description: Every bridge, sorted by name.
          type: list
          elements: dict
          contains:
            name:
              description: Bridge name.
              type: str
              sample: br-int
            uuid:
              description: OVSDB row uuid.
              type: str
            datapath_type:
              description: C(system) or C(netdev).
              type: str
            datapath_id:
              description: The OpenFlow datapath id.
              type: str
            fail_mode:
              description: C(secure), C(standalone) or null.
              type: str
            protocols:
              description: OpenFlow versions enabled.
              type: list
              elements: str
            stp_enable:
              description: Whether STP is on.
              type: bool
            controllers:
              description: OpenFlow controllers with target, role and is_connected.
              type: list
              elements: dict
            external_ids:
              description: The bridge's external_ids.
              type: dict
            other_config:
              description: The bridge's other_config.
              type: dict
            flows:
              description: Flow summary (total, packets, tables by number) when I(flows=true).
              type: dict
              returned: when flows is true
            ports:
              description: The bridge's ports, sorted by name.
              type: list
              elements: dict
              contains:
                name:
                  description: Port name.
                  type: str
                uuid:
                  description: OVSDB row uuid.
                  type: str
                tag:
                  description: Access VLAN tag (the OVS agent's local VLAN).
                  type: int
                trunks:
                  description: Trunked VLANs.
                  type: list
                  elements: int
                vlan_mode:
                  description: VLAN mode.
                  type: str
                bond_mode:
                  description: Bond mode of a bonded port.
                  type: str
                lacp:
                  description: LACP setting of a bonded port.
                  type: str
                bond_members:
                  description: Interfaces of a bonded port (empty when not a bond).
                  type: list
                  elements: str
                external_ids:
                  description: The port's external_ids.
                  type: dict
                interfaces:
                  description: The port's interfaces.
                  type: list
                  elements: dict
                  contains:
                    name:
                      description: Interface name.
                      type: str
                    type:
                      description: C(system), C(internal), C(patch), C(vxlan) ...
                      type: str
                    ofport:
                      description: OpenFlow port number.
                      type: int
                    mac_in_use:
                      description: MAC address in use.
                      type: str
                    admin_state:
                      description: C(up) or C(down).
                      type: str
                    link_state:
                      description: C(up) or C(down).
                      type: str
                    mtu:
                      description: MTU.
                      type: int
                    error:
                      description: Why OVS could not open the interface, if it could not.
                      type: str
                    options:
                      description: Options such as peer, local_ip, remote_ip, key.
                      type: dict
                    external_ids:
                      description: Neutron's iface-id, attached-mac, vm-uuid, iface-status.
                      type: dict
                    bridge:
                      description: The bridge the interface is on.
                      type: str
                    port:
                      description: The port the interface belongs to.
                      type: str
        patch_pairs:
          description: Patch connections between bridges, each listed once.
          type: list
          elements: dict
          sample: [{bridge: br-int, port: patch-tun, peer_bridge: br-tun, peer_port: patch-int}]
        tunnels:
          description: Tunnel interfaces with their endpoints.
          type: list
          elements: dict
          sample:
            - bridge: br-tun
              port: vxlan-0afa010b
              type: vxlan
              local_ip: 10.250.1.10
              remote_ip: 10.250.1.11
              key: flow
"""

from ansible_collections.calipso.topology.plugins.module_utils.facts_module import (
    run_facts_module,
)
from ansible_collections.calipso.topology.plugins.module_utils.ovs import collect_ovs


def main():
    run_facts_module("calipso_ovs", collect_ovs,
                     argument_spec={"flows": {"type": "bool", "default": False}})


if __name__ == "__main__":
    main()
