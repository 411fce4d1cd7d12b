#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Calipso developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: sensu_go_resources
short_description: Apply rendered Sensu Go resources through the backend's REST API
version_added: "0.1.0"
description:
  - Runs on the controller. Reads the Sensu Go resources Calipso rendered (wrapped C(core/v2)
    documents, one per C(*.json) file, as C(sensuctl create) reads them) and makes the backend
    hold exactly those, through its REST API, without C(sensuctl).
  - Handles the four kinds Calipso renders, C(CheckConfig), C(Entity), C(Handler) and
    C(EventFilter). Every resource is read first and written (HTTP PUT, create or replace) only
    when it differs from what the backend holds, ignoring the fields the backend sets itself
    (C(metadata.created_by); an entity's C(last_seen), C(system), C(sensu_agent_version) and
    C(user); a check's C(scheduler)) and treating absent, null, empty and zero values alike.
  - Filters and handlers are written before entities, and entities before checks, so that
    everything a check names exists when it arrives. Deletions come last, checks first.
  - With I(prune_value), resources of these kinds that carry the label I(prune_label) with that
    value and are not in I(src) are deleted, so the resources of objects that vanished from the
    inventory go away; resources without that label, and agent entities, are never touched.
author:
  - Calipso developers (@calipso)
options:
  url:
    description: The backend's API URL, for example C(https://sensu.example.com:8080).
    type: str
    required: true
  username:
    description:
      - The Sensu user to log in as (C(GET /auth) with HTTP basic authentication, then the
        access token it returns). Requires I(password); excludes I(api_key).
    type: str
  password:
    description: The password of I(username).
    type: str
  api_key:
    description:
      - A Sensu API key, sent in the C(Authorization) header as C(Key <api_key>); excludes
        I(username) and I(password).
    type: str
  namespace:
    description:
      - The Sensu namespace the resources are applied in. A document whose C(metadata.namespace)
        names another namespace is refused.
    type: str
    default: default
  src:
    description:
      - The directory of rendered documents, read recursively; every C(*.json) file holds one
        wrapped C(core/v2) resource. Other files (such as agent C(*.yml)) are ignored.
      - A file that is not JSON, or not a wrapped C(core/v2) resource of the four kinds, fails the
        module, naming the file, before anything is written.
    type: path
    required: true
  prune_label:
    description: The label that marks the resources of one environment (see I(prune_value)).
    type: str
    default: calipso_environment
  prune_value:
    description:
      - When given, every check, entity, handler and filter in I(namespace) whose label
        I(prune_label) equals this value and that I(src) does not hold is deleted. Agent entities
        are never deleted.
      - Not given, nothing is deleted.
    type: str
  validate_certs:
    description: Whether to verify the backend's TLS certificate.
    type: bool
    default: true
  ca_path:
    description: A PEM file of the CA certificates that signed the backend's certificate.
    type: path
  timeout:
    description: Seconds to wait for each response from the backend.
    type: int
    default: 30
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Reads the backend and reports what would be created, updated and deleted, writing nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: One before/after pair per created, updated or deleted resource, as wrapped documents without server-managed and zero-valued fields.
notes:
  - Resources are named C(<kind>/<name>) in the results, the kind as the API spells it
    (C(checks), C(entities), C(handlers), C(filters)).
  - The backend is asked for the labelled resources with C(labelSelector); the module checks
    the label itself as well, since a backend without response filtering lists everything.
  - No error message holds the password, the API key or an access token.
"""

EXAMPLES = r"""
- name: Apply the lab's rendered monitoring, removing the checks of vanished objects
  calipso.topology.sensu_go_resources:
    url: https://sensu-backend.example.com:8080
    username: calipso
    password: "{{ vault_sensu_password }}"
    ca_path: /etc/calipso/sensu-ca.pem
    src: /var/lib/calipso/monitoring/lab/backend
    prune_value: lab

- name: The same with an API key, only adding and updating
  calipso.topology.sensu_go_resources:
    url: https://sensu-backend.example.com:8080
    api_key: "{{ vault_sensu_api_key }}"
    src: /var/lib/calipso/monitoring/lab/backend
"""

RETURN = r"""
created:
  description: The resources created (or, in check mode, that would be), as C(<kind>/<name>).
  returned: always
  type: list
  elements: str
  sample: [checks/calipso-vnic-ac88d1f7c4ea, entities/calipso-vnic-ac88d1f7c4ea]
updated:
  description: The resources replaced because they differed from I(src).
  returned: always
  type: list
  elements: str
  sample: [checks/calipso-otep-4c97aa0ef496]
deleted:
  description: The labelled resources deleted because I(src) no longer holds them.
  returned: always
  type: list
  elements: str
  sample: [checks/calipso-vservice-70fc312fecd0, entities/calipso-vservice-70fc312fecd0]
unchanged:
  description: The resources the backend already held as I(src) has them.
  returned: always
  type: list
  elements: str
  sample: [filters/calipso-state-changes, handlers/calipso]
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.calipso.topology.plugins.module_utils.sensu_go_api import (
    KINDS,
    SensuGoClient,
    SensuGoError,
    comparable,
    differs,
    label_selector,
    prunable,
    unwrap,
    wrap,
)


def read_documents(src, namespace):
    """{(kind, name): body} of every *.json under src; ValueError naming the file otherwise."""
    if not os.path.isdir(src):
        raise ValueError("src %s is not a directory" % src)
    found = {}
    where = {}
    for root, dirs, files in os.walk(src):
        dirs.sort()
        for name in sorted(files):
            if not name.endswith(".json"):
                continue
            path = os.path.join(root, name)
            try:
                with open(path, encoding="utf-8") as handle:
                    doc = json.load(handle)
                kind, resource, body = unwrap(doc, namespace)
            except (OSError, ValueError) as exc:  # unreadable, not JSON, not a resource
                raise ValueError("%s: %s" % (path, exc))
            if (kind, resource) in found:
                raise ValueError("%s and %s both define %s/%s"
                                 % (where[(kind, resource)], path, kind, resource))
            found[(kind, resource)] = body
            where[(kind, resource)] = path
    if not found:
        # Pruning against an empty render would delete the whole environment's monitoring.
        raise ValueError("src %s holds no *.json resource" % src)
    return found


def _shown(kind, body):
    return wrap(kind, comparable(kind, body)) if body is not None else ""


def _diff(kind, name, before, after):
    label = "%s/%s" % (kind, name)
    return {"before_header": "%s (backend)" % label, "after_header": "%s (src)" % label,
            "before": _shown(kind, before), "after": _shown(kind, after)}


class Apply:
    """One run: what was (or, in check mode, would be) created, updated, deleted, left alone.

    The backend's resources of each kind are listed once (a few paged requests, where a GET per
    rendered resource cost one request each, thousands at scale), before that kind is written,
    and the same listing serves the prune: what it deletes was not written in this run."""

    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.namespace = module.params["namespace"]
        self.outcome = {"created": [], "updated": [], "deleted": [], "unchanged": []}
        self.diffs = []
        self._listed = {}

    def _listing(self, kind):
        """{name: resource} of every resource of kind in the namespace, listed on first use."""
        if kind not in self._listed:
            self._listed[kind] = {(item.get("metadata") or {}).get("name"): item
                                  for item in self.client.list(self.namespace, kind)}
        return self._listed[kind]

    def write(self, desired):
        for kind in KINDS:
            names = sorted(n for k, n in desired if k == kind)
            held = self._listing(kind) if names else {}
            for name in names:
                body = desired[(kind, name)]
                current = held.get(name)
                if current is not None and not differs(kind, current, body):
                    self.outcome["unchanged"].append("%s/%s" % (kind, name))
                    continue
                if not self.module.check_mode:
                    self.client.put(self.namespace, kind, name, body)
                self._record("created" if current is None else "updated", kind, name, current,
                             body)

    def prune(self, desired, key, value):
        for kind in reversed(KINDS):
            for name, item in self._listing(kind).items():
                if not name or (kind, name) in desired or not prunable(kind, item, key, value):
                    continue
                if not self.module.check_mode:
                    self.client.delete(self.namespace, kind, name)
                self._record("deleted", kind, name, item, None)

    def _record(self, action, kind, name, before, after):
        self.outcome[action].append("%s/%s" % (kind, name))
        if self.module._diff:
            self.diffs.append(_diff(kind, name, before, after))

    def result(self):
        result = dict(self.outcome)
        result["changed"] = any(result[key] for key in ("created", "updated", "deleted"))
        if self.module._diff:
            result["diff"] = self.diffs
        return result


def main():
    module = AnsibleModule(
        argument_spec={
            "url": {"type": "str", "required": True},
            "username": {"type": "str"},
            "password": {"type": "str", "no_log": True},
            "api_key": {"type": "str", "no_log": True},
            "namespace": {"type": "str", "default": "default"},
            "src": {"type": "path", "required": True},
            "prune_label": {"type": "str", "default": "calipso_environment"},
            "prune_value": {"type": "str"},
            "validate_certs": {"type": "bool", "default": True},
            "ca_path": {"type": "path"},
            "timeout": {"type": "int", "default": 30},
        },
        mutually_exclusive=[("api_key", "username"), ("api_key", "password")],
        required_together=[("username", "password")],
        required_one_of=[("api_key", "username")],
        supports_check_mode=True,
    )
    params = module.params
    try:
        if params["prune_value"] is not None:
            # Refused before anything is written, rather than after the writes.
            label_selector(params["prune_label"], params["prune_value"])
        desired = read_documents(params["src"], params["namespace"])
        client = SensuGoClient(params["url"], username=params["username"],
                               password=params["password"], api_key=params["api_key"],
                               validate_certs=params["validate_certs"],
                               ca_path=params["ca_path"], timeout=params["timeout"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    run = Apply(module, client)
    try:
        run.write(desired)
        if params["prune_value"] is not None:
            run.prune(desired, params["prune_label"], params["prune_value"])
    except SensuGoError as exc:
        # What was written before the failure stays written: say what it was.
        module.fail_json(msg=str(exc), status=exc.status, **run.result())
    module.exit_json(**run.result())


if __name__ == "__main__":
    main()
