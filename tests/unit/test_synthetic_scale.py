"""The synthetic environment generator (bench/synthetic_facts.py) yields facts the builders read
completely: every VM a vnic, instance and clique; tunnels only within network groups."""

from __future__ import annotations

from collections import Counter

from bench.synthetic_facts import HOSTS_PER_NETWORK, generate
from calipso_core.discovery.assemble import assemble
from calipso_core.model.cliques import compute_cliques
from calipso_core.model.types import load_registry


def test_synthetic_environment_is_discovered_whole():
    hosts, vms = 2 * HOSTS_PER_NETWORK, 4
    facts, view = generate(hosts, vms)
    inventory = assemble("synthetic", facts, view)
    types = Counter(o["type"] for o in inventory.objects)
    assert types["host"] == hosts and types["instance"] == hosts * vms
    assert types["vnic"] == hosts * vms and types["vconnector"] == hosts * vms
    links = Counter((x["link_type"], x["state"]) for x in inventory.links)
    # two groups of 25 hosts, each a full mesh of tunnels
    assert links[("otep-otep", "up")] == 2 * HOSTS_PER_NETWORK * (HOSTS_PER_NETWORK - 1) // 2
    assert links[("instance-vnic", "up")] == hosts * vms
    registry = load_registry()
    cliques = compute_cliques("synthetic", inventory.objects, inventory.links,
                              registry.clique_types_for(inventory.properties))
    instance_cliques = [c for c in cliques if c["clique_type"] == "instance"]
    assert len(instance_cliques) == hosts * vms
    # each VM's clique reaches the oteps of the 25 hosts of its network group
    assert {sum("-otep-" in n for n in c["nodes"]) for c in instance_cliques} == \
        {HOSTS_PER_NETWORK}
