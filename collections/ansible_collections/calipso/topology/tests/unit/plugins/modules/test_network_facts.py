# -*- coding: utf-8 -*-
# Copyright: Calipso developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""network_facts returns, in one run, exactly what the single modules return."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.calipso.topology.plugins.modules import (
    linuxbridge_facts,
    network_facts,
    ovs_facts,
    vpp_facts,
)
from ansible_collections.calipso.topology.tests.unit.plugins.recorded import fixture_json


def recorded_compute1():
    outputs = fixture_json("ovs", "lab-compute1.json")
    outputs.update(fixture_json("linuxbridge", "lab-compute1.json"))
    return outputs


def test_same_facts_as_the_single_modules(run_module):
    outputs = recorded_compute1()
    combined, failed = run_module(network_facts.main, {
        "recorded_outputs": outputs, "subsets": ["ovs", "linuxbridge", "vpp"], "flows": True})
    assert not failed
    for module, args in ((ovs_facts, {"flows": True}), (linuxbridge_facts, {}), (vpp_facts, {})):
        single, failed = run_module(module.main, dict(args, recorded_outputs=outputs))
        assert not failed
        for key, value in single["ansible_facts"].items():
            assert combined["ansible_facts"][key] == value


def test_only_the_asked_subsets(run_module):
    result, failed = run_module(network_facts.main, {"recorded_outputs": recorded_compute1(),
                                                     "subsets": ["linuxbridge"]})
    assert not failed
    assert list(result["ansible_facts"]) == ["calipso_linuxbridge"]
