# -*- coding: utf-8 -*-
# Copyright: Calipso developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The modules end to end over recorded lab outputs: facts under their own key, the same in
check mode, and a failure that names the command on malformed output."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.calipso.topology.plugins.modules import linuxbridge_facts, ovs_facts
from ansible_collections.calipso.topology.tests.unit.plugins.recorded import fixture_json


load = fixture_json


@pytest.mark.parametrize("module, key, fixture", [
    (ovs_facts, "calipso_ovs", "ovs/lab-controller.json"),
    (linuxbridge_facts, "calipso_linuxbridge", "linuxbridge/lab-compute3.json"),
])
def test_facts_are_returned_under_their_key_and_same_in_check_mode(run_module, module, key,
                                                                   fixture):
    outputs = load(fixture)
    result, failed = run_module(module.main, {"recorded_outputs": outputs})
    assert not failed and result["changed"] is False
    facts = result["ansible_facts"][key]
    assert facts["present"] is True and facts["bridges"]
    checked, failed = run_module(module.main, {"recorded_outputs": outputs,
                                               "_ansible_check_mode": True})
    assert not failed and checked["ansible_facts"] == result["ansible_facts"]


def test_ovs_facts_with_flows(run_module):
    result, failed = run_module(ovs_facts.main, {"recorded_outputs": load(
        "ovs/lab-compute1.json"), "flows": True})
    assert not failed
    assert all(b["flows"]["total"] > 0 for b in result["ansible_facts"]["calipso_ovs"]["bridges"])


def test_malformed_output_fails_naming_the_command(run_module):
    outputs = load("ovs/lab-compute2.json")
    outputs["ovs-vsctl --timeout=5 --format=json list Interface"] = '{"headings": ['
    result, failed = run_module(ovs_facts.main, {"recorded_outputs": outputs})
    assert failed
    assert result["command"] == "ovs-vsctl --timeout=5 --format=json list Interface"
    assert "malformed OVSDB JSON" in result["msg"]
