# -*- coding: utf-8 -*-
# Copyright: Calipso developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""calipso.topology.host_facts end to end over recorded outputs (the `recorded_outputs`
option): the lab controller captured over SSH (fixtures/host/lab/controller) and a bonded
compute node in the formats of real releases (fixtures/host/site/compute-7; see
fixtures/host/README.md). Facts under calipso_host, the same in check mode, absent tools as
facts, and failures that name the command on malformed output."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.calipso.topology.plugins.modules import host_facts
from ansible_collections.calipso.topology.tests.unit.plugins.recorded import fixture_text


def read(*parts):
    return fixture_text("host", *parts)


def recorded(host_dir):
    manifest = json.loads(read(host_dir, "commands.json"))
    return dict((command, read(host_dir, path) if path else None)
                for command, path in manifest.items())


def test_site_host_facts_and_check_mode(run_module):
    outputs = recorded("site/compute-7")
    result, failed = run_module(host_facts.main, {"recorded_outputs": outputs})
    assert not failed and result["changed"] is False
    facts = result["ansible_facts"]["calipso_host"]
    assert facts["hostname"] == "compute-7"
    assert facts["physical_nics"] == ["eno1", "eno2", "eno3", "eno4", "eno5"]
    assert [(b["name"], b["mode"]) for b in facts["bonds"]] == [
        ("bond0", "802.3ad"), ("bond1", "active-backup")]
    assert [d["name"] for d in facts["libvirt"]["domains"]] == [
        "instance-0000000a", "instance-0000000b", "instance-0000000c"]
    assert len(facts["lldp"]["neighbors"]) == 3
    checked, failed = run_module(host_facts.main, {"recorded_outputs": outputs,
                                                   "_ansible_check_mode": True})
    assert not failed and checked["ansible_facts"] == result["ansible_facts"]


def test_lab_controller_namespaces(run_module):
    result, failed = run_module(host_facts.main,
                                {"recorded_outputs": recorded("lab/controller")})
    assert not failed
    facts = result["ansible_facts"]["calipso_host"]
    assert sorted(ns["kind"] for ns in facts["namespaces"]) == ["qdhcp"] * 4 + ["qrouter"]
    assert all(ns["name"] == "%s-%s" % (ns["kind"], ns["object_id"])
               for ns in facts["namespaces"])
    router = [ns for ns in facts["namespaces"] if ns["kind"] == "qrouter"][0]
    assert sorted(i["name"][:3] for i in router["interfaces"]) == ["lo", "qg-", "qr-", "qr-",
                                                                   "qr-"]
    assert facts["libvirt"]["present"] is False and facts["lldp"]["present"] is False


def test_only_iproute2_present(run_module):
    outputs = {"ip -j -d addr show": read("lab/compute1", "ip-j-d-addr-show.json"),
               "ip -j route show": "[]\n", "ip -j netns list": "[]\n"}
    result, failed = run_module(host_facts.main, {"recorded_outputs": outputs})
    assert not failed
    facts = result["ansible_facts"]["calipso_host"]
    assert facts["hostname"] is None and facts["routes"] == [] and facts["namespaces"] == []
    assert facts["libvirt"] == {"present": False, "running": False, "error": None,
                                "domains": []}
    assert facts["lldp"]["present"] is False


def test_malformed_xml_fails_naming_the_command(run_module):
    outputs = recorded("site/compute-7")
    outputs["virsh -r dumpxml instance-0000000a"] = read(
        "formats", "virsh-dumpxml-nova-hybrid.xml")[:500]
    result, failed = run_module(host_facts.main, {"recorded_outputs": outputs})
    assert failed
    assert result["command"] == "virsh -r dumpxml instance-0000000a"
    assert result["msg"].startswith("virsh -r dumpxml instance-0000000a: malformed XML")


def test_malformed_json_fails_naming_the_command(run_module):
    outputs = recorded("lab/controller")
    outputs["ip -j -d addr show"] = outputs["ip -j -d addr show"][:-40]
    result, failed = run_module(host_facts.main, {"recorded_outputs": outputs})
    assert failed and result["command"] == "ip -j -d addr show"
    assert "malformed JSON" in result["msg"]


def test_garbage_bonding_file_fails_naming_the_file(run_module):
    outputs = recorded("site/compute-7")
    outputs["cat /proc/net/bonding/bond0"] = "Ethernet Channel Bonding Driver: v6.1.0\n\n"
    result, failed = run_module(host_facts.main, {"recorded_outputs": outputs})
    assert failed and result["command"] == "cat /proc/net/bonding/bond0"
