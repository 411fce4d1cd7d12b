#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Calipso developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: network_facts
short_description: Gather all of Calipso's host facts in one task
version_added: "0.1.0"
description:
  - Runs the collectors of M(calipso.topology.ovs_facts), M(calipso.topology.linuxbridge_facts),
    M(calipso.topology.vpp_facts) and M(calipso.topology.host_facts) in one module run, so a
    host pays for one connection and one module transfer instead of four; discovery uses it.
  - Returns the same facts, under the same keys, as the four modules.
author:
  - Calipso developers (@calipso)
options:
  subsets:
    description:
      - Which facts to gather.
    type: list
    elements: str
    choices: [ovs, linuxbridge, vpp, host]
    default: [ovs, linuxbridge, vpp, host]
  flows:
    description:
      - With C(ovs), also summarise each bridge's flows, as M(calipso.topology.ovs_facts) does.
    type: bool
    default: false
extends_documentation_fragment:
  - calipso.topology.facts
seealso:
  - module: calipso.topology.ovs_facts
  - module: calipso.topology.linuxbridge_facts
  - module: calipso.topology.vpp_facts
  - module: calipso.topology.host_facts
"""

EXAMPLES = r"""
- name: Gather everything Calipso discovers on a host
  calipso.topology.network_facts:

- name: Only the switches
  calipso.topology.network_facts:
    subsets: [ovs, linuxbridge]
    flows: true
"""

RETURN = r"""
ansible_facts:
  description: The facts of the gathered subsets, each under its own key.
  returned: always
  type: dict
  contains:
    calipso_ovs:
      description: As returned by M(calipso.topology.ovs_facts).
      returned: when ovs is gathered
      type: dict
    calipso_linuxbridge:
      description: As returned by M(calipso.topology.linuxbridge_facts).
      returned: when linuxbridge is gathered
      type: dict
    calipso_vpp:
      description: As returned by M(calipso.topology.vpp_facts).
      returned: when vpp is gathered
      type: dict
    calipso_host:
      description: As returned by M(calipso.topology.host_facts).
      returned: when host is gathered
      type: dict
"""

from ansible_collections.calipso.topology.plugins.module_utils.facts_module import (
    run_facts_modules,
)
from ansible_collections.calipso.topology.plugins.module_utils.host import collect_host
from ansible_collections.calipso.topology.plugins.module_utils.linuxbridge import (
    collect_linuxbridge,
)
from ansible_collections.calipso.topology.plugins.module_utils.ovs import collect_ovs
from ansible_collections.calipso.topology.plugins.module_utils.vpp import collect_vpp

COLLECTORS = {
    "ovs": ("calipso_ovs", collect_ovs),
    "linuxbridge": ("calipso_linuxbridge", collect_linuxbridge),
    "vpp": ("calipso_vpp", collect_vpp),
    "host": ("calipso_host", collect_host),
}


def collect_all(source, params):
    facts = {}
    for subset in params["subsets"]:
        key, collect = COLLECTORS[subset]
        facts[key] = collect(source, params)
    return facts


def main():
    run_facts_modules(collect_all, argument_spec={
        "subsets": {"type": "list", "elements": "str", "choices": list(COLLECTORS),
                    "default": list(COLLECTORS)},
        "flows": {"type": "bool", "default": False},
    })


if __name__ == "__main__":
    main()
