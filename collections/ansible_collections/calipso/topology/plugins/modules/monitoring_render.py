#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Calipso developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: monitoring_render
short_description: Render an environment's Sensu monitoring from the stored inventory
version_added: "0.1.0"
description:
  - Runs on the controller. Reads the environment's committed inventory from the store and
    renders a check per monitored object (vedge, vconnector, vnic, host_pnic, otep, vservice,
    instance) for Sensu Go (core/v2 resources and each agent's agent.yml settings) or Sensu
    classic (conf.d JSON for the server and for each client).
  - Writes the files into O(dest) (C(backend/) and C(agents/<host>/)), replacing the directory
    as a whole and only when a file would change, so that a second run reports no change.
  - Every document is validated against the fields and types Sensu documents before anything
    is written; an environment the store holds nothing for is refused, since rendering nothing
    would take every check away.
author:
  - Calipso developers (@calipso)
extends_documentation_fragment:
  - calipso.topology.inventory_store
options:
  dest:
    description:
      - The directory to render into. It must be new, empty or written by this module before.
    type: path
    required: true
  settings:
    description:
      - The environment's monitoring settings, as keys of C(MonitoringSettings) in
        C(calipso_core.monitoring.checks), for example C(target) (C(sensu-go) or
        C(sensu-classic)), C(interval), C(timeout), C(intervals) and C(timeouts) per object type,
        C(handler), C(store), C(namespace), C(otep_warning_ms), C(otep_critical_ms),
        C(plugin_dir), C(python), C(restate_every), C(rabbitmq) (host, port, vhost, user; never
        the password).
      - A key Calipso does not know is an error.
    type: dict
    default: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Renders and compares with O(dest) without writing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: Lists the files added, changed and removed.
"""

EXAMPLES = r"""
- name: Render the lab's monitoring for Sensu classic
  calipso.topology.monitoring_render:
    environment: lab
    dest: /var/lib/calipso/monitoring/lab
    settings:
      target: sensu-classic
      interval: 60
      intervals:
        otep: 30
  delegate_to: localhost
  run_once: true
  register: monitoring
"""

RETURN = r"""
dest:
  description: The directory rendered into.
  returned: success
  type: str
  sample: /var/lib/calipso/monitoring/lab
target:
  description: The Sensu flavour rendered.
  returned: success
  type: str
  sample: sensu-go
checks:
  description: How many checks were rendered.
  returned: success
  type: int
  sample: 41
unmonitored:
  description: Objects of a monitored type that got no check, and why (not C(skipped), which
    Ansible reserves for tasks that did not run).
  returned: success
  type: list
  elements: dict
  sample: [{object_id: controller-tapa1, object_type: vnic, reason: "a vservice's vnic"}]
agents:
  description: Each inventory host's directory under C(dest/agents) and its number of checks.
  returned: success
  type: dict
  sample: {compute1: {dir: compute1, checks: 9}}
added:
  description: Files (relative to O(dest)) new in this render.
  returned: success
  type: list
  elements: str
changed_files:
  description: Files whose content changed.
  returned: success
  type: list
  elements: str
removed:
  description: Files of the previous render that are gone (their objects vanished).
  returned: success
  type: list
  elements: str
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from calipso_core.monitoring.checks import MonitoringError
    from calipso_core.monitoring.deploy import render_to_directory, settings_from_mapping
    from calipso_core.store import StoreError, open_store
except ImportError:
    CALIPSO_IMPORT_ERROR = traceback.format_exc()
else:
    CALIPSO_IMPORT_ERROR = None


def _diff(result):
    lines = ["%s %s" % (mark, path) for mark, paths in
             (("+", result.added), ("~", result.changed), ("-", result.removed))
             for path in paths]
    return {"before_header": "previous render", "after_header": "this render",
            "before": "", "after": "\n".join(lines) + ("\n" if lines else "")}


def main():
    module = AnsibleModule(
        argument_spec={
            "environment": {"type": "str", "required": True},
            "dest": {"type": "path", "required": True},
            "settings": {"type": "dict", "default": {}},
            "store": {"type": "str"},
        },
        supports_check_mode=True,
    )
    if CALIPSO_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("calipso"), exception=CALIPSO_IMPORT_ERROR)
    params = module.params
    try:
        settings = settings_from_mapping(params["settings"])
        store = open_store(params["store"])
        try:
            result = render_to_directory(store, params["environment"], settings, params["dest"],
                                         dry_run=module.check_mode)
        finally:
            store.close()
    except (MonitoringError, StoreError) as exc:
        module.fail_json(msg="monitoring not rendered, %s is left as it was: %s"
                         % (params["dest"], exc))
    rendered = result.rendered
    agents = {agent.host: {"dir": name, "checks": len(agent.checks)}
              for name, agent in rendered.agents.items()}
    output = {
        "changed": result.differs or result.written,
        "dest": params["dest"],
        "target": rendered.target,
        "checks": len(rendered.checks),
        "unmonitored": [{"object_id": s.object_id, "object_type": s.object_type,
                         "reason": s.reason} for s in rendered.skipped],
        "agents": agents,
        "added": result.added,
        "changed_files": result.changed,
        "removed": result.removed,
    }
    if module._diff:
        output["diff"] = _diff(result)
    module.exit_json(**output)


if __name__ == "__main__":
    main()
