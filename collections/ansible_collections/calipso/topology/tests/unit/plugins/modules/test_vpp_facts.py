# -*- coding: utf-8 -*-
# Copyright: Calipso developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""vpp_facts end to end over the vppctl outputs recorded in the formats of VPP 16.09, 19.08 and
24.02 (fixtures/vpp/<release>/, see fixtures/vpp/README.md): facts under calipso_vpp, the same
in check mode, VPP absent or not answering as facts, unreadable output as a failure naming the
command."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


import pytest

from ansible_collections.calipso.topology.plugins.module_utils.sources import RecordedSource
from ansible_collections.calipso.topology.plugins.module_utils.vpp import collect_vpp
from ansible_collections.calipso.topology.plugins.modules import vpp_facts
from ansible_collections.calipso.topology.tests.unit.plugins.recorded import recorded_folder


def recorded(release):
    return recorded_folder("vpp", release)


@pytest.mark.parametrize("release", ["16.09", "19.08", "24.02"])
def test_facts_under_calipso_vpp_and_same_in_check_mode(run_module, release):
    outputs = recorded(release)
    result, failed = run_module(vpp_facts.main, {"recorded_outputs": outputs})
    assert not failed and result["changed"] is False
    facts = result["ansible_facts"]["calipso_vpp"]
    assert facts == collect_vpp(RecordedSource(outputs), {})
    assert facts["present"] and facts["running"] and facts["release"].startswith(release)
    assert facts["interfaces"] and facts["bridge_domains"] and facts["vhost_user"]
    checked, failed = run_module(vpp_facts.main, {"recorded_outputs": outputs,
                                                  "_ansible_check_mode": True})
    assert not failed and checked["ansible_facts"] == result["ansible_facts"]


def test_current_release_topology(run_module):
    result, failed = run_module(vpp_facts.main, {"recorded_outputs": recorded("24.02")})
    assert not failed
    facts = result["ansible_facts"]["calipso_vpp"]
    bd10 = [d for d in facts["bridge_domains"] if d["bd_id"] == 10][0]
    assert [m["interface"] for m in bd10["members"]] == [
        "loop0", "VirtualEthernet0/0/0", "VirtualEthernet0/0/1", "vxlan_tunnel10",
        "vxlan_tunnel11"]
    assert [(t["interface"], t["dst"], t["vni"]) for t in facts["vxlan_tunnels"]] == [
        ("vxlan_tunnel10", "10.20.0.25", 5010), ("vxlan_tunnel11", "239.1.1.10", 5010)]
    sockets = dict((v["interface"], (v["socket"], v["connected"])) for v in facts["vhost_user"])
    assert sockets["VirtualEthernet0/0/2"] == ("/var/run/vpp/vhu-d90e2277-13.sock", False)
    assert facts["modes"]["TenGigabitEthernet3b/0/1.3001"] == {
        "mode": "bridge", "bd_id": 3001, "shg": 0, "bvi": False}


def test_vppctl_absent_is_a_fact(run_module):
    result, failed = run_module(vpp_facts.main, {"recorded_outputs": {}})
    assert not failed
    facts = result["ansible_facts"]["calipso_vpp"]
    assert facts["present"] is False and facts["running"] is False
    assert facts["interfaces"] == [] and facts["bridge_domains"] == []


def test_vpp_not_running_is_a_fact(run_module):
    message = "clib_socket_init: connect (fd 3, '/run/vpp/cli.sock'): Connection refused\n"
    result, failed = run_module(vpp_facts.main,
                                {"recorded_outputs": {"vppctl show version": message}})
    assert not failed
    facts = result["ansible_facts"]["calipso_vpp"]
    assert facts["present"] is True and facts["running"] is False
    assert "Connection refused" in facts["error"]


def test_unknown_subcommand_is_a_warning(run_module):
    outputs = recorded("24.02")
    outputs["vppctl show vxlan tunnel"] = "show: unknown input `vxlan tunnel'\n"
    result, failed = run_module(vpp_facts.main, {"recorded_outputs": outputs})
    assert not failed
    facts = result["ansible_facts"]["calipso_vpp"]
    assert facts["vxlan_tunnels"] == [] and len(facts["warnings"]) == 1


def test_unreadable_output_fails_naming_the_command(run_module):
    outputs = recorded("19.08")
    text = outputs["vppctl show bridge-domain 100 detail"]
    outputs["vppctl show bridge-domain 100 detail"] = text[:text.index("VirtualEthernet0/0/0")
                                                           + 10]
    result, failed = run_module(vpp_facts.main, {"recorded_outputs": outputs})
    assert failed
    assert result["command"] == "vppctl show bridge-domain 100 detail"
    assert result["msg"].startswith("vppctl show bridge-domain 100 detail: member row")
