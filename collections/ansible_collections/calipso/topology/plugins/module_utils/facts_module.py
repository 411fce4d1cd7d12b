# -*- coding: utf-8 -*-
# Copyright: Calipso developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The one base every calipso.topology *_facts module runs on.

It owns what the modules share: the `recorded_outputs` option (the offline path), check mode
(gathering facts changes nothing, so it runs the same), turning collector errors into a failure
that names the command, and returning the facts under the module's own key.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.calipso.topology.plugins.module_utils.sources import (
    CommandError,
    LiveSource,
    RecordedSource,
)

COMMON_ARGUMENT_SPEC = {
    "recorded_outputs": {"type": "dict", "required": False},
}


def run_facts_module(facts_key, collect, argument_spec=None):
    """Run a facts module: collect(source, params) returns the facts stored under facts_key."""
    run_facts_modules(lambda source, params: {facts_key: collect(source, params)},
                      argument_spec)


def run_facts_modules(collect_all, argument_spec=None):
    """Run a module that gathers several kinds of facts in one pass (one connection, one
    transfer): collect_all(source, params) returns {facts key: facts}."""
    spec = dict(COMMON_ARGUMENT_SPEC)
    spec.update(argument_spec or {})
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    recorded = module.params["recorded_outputs"]
    source = RecordedSource(recorded) if recorded is not None else LiveSource(module)
    try:
        facts = collect_all(source, module.params)
    except CommandError as exc:
        module.fail_json(msg=str(exc), command=exc.command)
    except ValueError as exc:  # a parser's own complaint about malformed output
        module.fail_json(msg="malformed output: %s" % exc)
    module.exit_json(changed=False, ansible_facts=facts)
