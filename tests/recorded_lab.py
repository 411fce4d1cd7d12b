"""The lab recorded in tests/data/lab_facts: its description (lab.json) and each host's facts as
network_facts gathered them, for the tests that build inventories offline. Each call reads the
files afresh, so that a test module editing its copy changes nobody else's."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from calipso_core.lab.spec import vm_port

LAB_FACTS_DIR = Path(__file__).resolve().parent / "data" / "lab_facts"


def recorded_description() -> dict[str, Any]:
    return json.loads((LAB_FACTS_DIR / "lab.json").read_text())


def recorded_facts() -> dict[str, dict[str, Any]]:
    """Each recorded host's facts, by host name."""
    return {host["name"]: json.loads((LAB_FACTS_DIR / f"{host['name']}.json").read_text())
            for host in recorded_description()["hosts"]}


def without_vm(facts: dict[str, dict[str, Any]], server: dict[str, Any]) -> dict[str, Any]:
    """The lab's facts as if a VM (one of the description's servers) on an OVS native host had
    been deleted: its tap and OVS port gone."""
    port = vm_port(recorded_description(), server)
    tap = port["devices"]["tap"]
    facts = copy.deepcopy(facts)
    host = facts[server["host"]]
    host["calipso_host"]["interfaces"] = [i for i in host["calipso_host"]["interfaces"]
                                          if i["name"] != tap]
    for bridge in host["calipso_ovs"]["bridges"]:
        bridge["ports"] = [p for p in bridge["ports"] if p["name"] != tap]
    return facts
