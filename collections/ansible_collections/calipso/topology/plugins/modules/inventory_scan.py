#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Calipso developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: inventory_scan
short_description: Build and store an environment's inventory from its hosts' facts
version_added: "0.1.0"
description:
  - Runs on the controller. Takes the facts that M(calipso.topology.network_facts) gathered on
    every host of an environment and, when a cloud is named, its OpenStack view; builds the
    objects, links (with their state) and cliques, and commits them to the inventory store as
    one new scan generation.
  - Refuses to commit when facts are missing for any host it was told to expect, so that an
    unreachable host never empties its part of the inventory; the previous inventory stays.
author:
  - Calipso developers (@calipso)
extends_documentation_fragment:
  - calipso.topology.inventory_store
options:
  facts:
    description: Each host's facts, keyed by host name (calipso_ovs, calipso_linuxbridge,
      calipso_vpp, calipso_host).
    type: dict
    required: true
  hosts:
    description: The hosts whose facts must all be present (usually every host of the play).
    type: list
    elements: str
    required: true
  limit:
    description:
      - Replace only these hosts' part of the inventory (C(ansible-playbook --limit)); the
        other hosts' objects and links stay as stored, tunnels and cliques are recomputed.
      - Empty or absent, the whole environment is replaced.
    type: list
    elements: str
  cloud:
    description: The cloud's name in clouds.yaml; without it, discovery uses host facts alone.
    type: str
  clouds_yaml:
    description: The clouds.yaml that names the cloud (else openstacksdk's own search path).
    type: path
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Builds the inventory and reports its counts without writing to the store.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
"""

EXAMPLES = r"""
- name: Build and store the lab's inventory
  calipso.topology.inventory_scan:
    environment: lab
    hosts: "{{ groups['all'] }}"
    facts: "{{ collected_facts }}"
    cloud: calipso-lab-demo
    clouds_yaml: /var/lib/calipso/lab/demo/clouds.yaml
"""

RETURN = r"""
generation:
  description: The scan generation committed (null in check mode).
  returned: success
  type: int
  sample: 3
counts:
  description: Objects, links and cliques built.
  returned: always
  type: dict
  sample: {objects: 72, links: 85, cliques: 52}
documents_written:
  description: Inventory documents the store wrote (0 when nothing changed).
  returned: success
  type: int
properties:
  description: What was learnt of the environment (distribution, mechanism and type drivers).
  returned: always
  type: dict
cloud_error:
  description: Why the cloud's API could not be read, when it could not.
  returned: always
  type: str
"""

import os
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from calipso_core.discovery.assemble import assemble
    from calipso_core.discovery.scan import read_cloud, run_scan
    from calipso_core.store import open_store
except ImportError:
    CALIPSO_IMPORT_ERROR = traceback.format_exc()
else:
    CALIPSO_IMPORT_ERROR = None


def main():
    module = AnsibleModule(
        argument_spec={
            "environment": {"type": "str", "required": True},
            "facts": {"type": "dict", "required": True},
            "hosts": {"type": "list", "elements": "str", "required": True},
            "limit": {"type": "list", "elements": "str"},
            "store": {"type": "str"},
            "cloud": {"type": "str"},
            "clouds_yaml": {"type": "path"},
        },
        supports_check_mode=True,
    )
    if CALIPSO_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("calipso"), exception=CALIPSO_IMPORT_ERROR)
    params = module.params
    missing = sorted(h for h in params["hosts"] if not params["facts"].get(h))
    if missing:
        module.fail_json(msg="no facts from %s: the inventory is left as it was"
                         % ", ".join(missing), missing_hosts=missing)
    if params["clouds_yaml"]:
        os.environ["OS_CLIENT_CONFIG_FILE"] = params["clouds_yaml"]
    if module.check_mode:
        view, cloud_error = read_cloud(params["cloud"])
        inventory = assemble(params["environment"], params["facts"], view)
        module.exit_json(changed=True, generation=None, cloud_error=cloud_error,
                         counts={"objects": len(inventory.objects),
                                 "links": len(inventory.links)},
                         properties=inventory.properties)
    try:
        store = open_store(params["store"])
        report = run_scan(params["environment"], params["facts"], store, params["cloud"],
                          limit=params["limit"])
    except Exception as exc:  # the store or a builder failed: nothing was committed
        module.fail_json(msg="scan failed, the inventory is left as it was: %s" % exc,
                         exception=traceback.format_exc())
    module.exit_json(changed=report.summary.documents_written > 0,
                     generation=report.summary.generation,
                     documents_written=report.summary.documents_written,
                     counts=report.counts, properties=report.properties,
                     cloud_error=report.cloud_error)


if __name__ == "__main__":
    main()
