"""Clique computation at scale: every clique of a synthetic OVS/VXLAN cloud, by default 1,000 hosts
and 20,000 instances, with the shipped clique types.

    .venv/bin/python bench/cliques.py [--hosts 1000] [--vms-per-host 20] [--tunnel-peers 300]

Prints the topology's size, the wall time of compute_cliques (graph included) on one core, and
its peak Python memory (tracemalloc, in a second run: tracing slows Python down several times).

The topology: per host, OVS (one vedge), one otep on eth1 (the tunnel NIC), eth2 on OVS (external),
both NICs cabled to their rack's switch (40 hosts a rack); VMs in the hybrid plug (tap, qbr,
qvb/qvo into OVS) with one Neutron port per vnic; each host's VMs on 40 networks shared with its
neighbours, eth1 carrying them; a tunnel to each of `tunnel_peers` other hosts; on the first 10
hosts (network nodes) a DHCP vservice per network and a router per 10 networks.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc
from collections import Counter
from typing import Any

from calipso_core.model.cliques import compute_cliques
from calipso_core.model.types import load_registry

Doc = dict[str, Any]
NETWORK_NODES = 10
HOSTS_PER_RACK = 40
NETWORKS_PER_HOST = 40
NETWORKS_PER_ROUTER = 10
ENVIRONMENT = {"distribution": "openstack", "mechanism_drivers": ["openvswitch"],
               "type_drivers": ["vxlan"]}


class _Topology:
    def __init__(self) -> None:
        self.objects: list[Doc] = []
        self.links: list[Doc] = []

    def add(self, obj_type: str, obj_id: str, host: str | None = None, **attributes: Any) -> str:
        self.objects.append({"id": obj_id, "type": obj_type, "name": obj_id, "host": host,
                             "status": "unknown", "attributes": attributes})
        return obj_id

    def link(self, link_type: str, source: str, target: str, host: str | None = None) -> None:
        source_type, target_type = link_type.split("-")
        self.links.append({"id": f"{link_type}:{source}:{target}", "link_type": link_type,
                           "source_id": source, "target_id": target, "source_type": source_type,
                           "target_type": target_type, "host": host, "state": "up",
                           "attributes": {}})


def synthetic_topology(hosts: int = 1000, vms_per_host: int = 20, vnics_per_vm: int = 2,
                       tunnel_peers: int = 300,
                       networks: int = 1000) -> tuple[list[Doc], list[Doc]]:
    """(objects, links) of the synthetic cloud; deterministic."""
    topo = _Topology()
    nets = [topo.add("network", f"net-{n:04d}", status="ACTIVE") for n in range(networks)]
    external = topo.add("network", "net-external", status="ACTIVE", external=True)
    switches = [topo.add("switch", f"switch-{r:03d}")
                for r in range((hosts + HOSTS_PER_RACK - 1) // HOSTS_PER_RACK)]
    vedges, oteps = [], []
    for h in range(hosts):
        host = topo.add("host", f"host-{h:04d}", f"host-{h:04d}")
        vedge = topo.add("vedge", f"{host}-ovs", host, switch="ovs")
        otep = topo.add("otep", f"{host}-otep", host, local_ip=f"10.1.{h // 250}.{h % 250}")
        eth1 = topo.add("host_pnic", f"{host}-eth1", host, state="up")
        eth2 = topo.add("host_pnic", f"{host}-eth2", host, state="up")
        topo.add("host_pnic", f"{host}-eth0", host, state="up")
        vedges.append(vedge)
        oteps.append(otep)
        topo.link("vedge-otep", vedge, otep, host)
        topo.link("otep-host_pnic", otep, eth1, host)
        topo.link("vedge-host_pnic", vedge, eth2, host)
        topo.link("host_pnic-network", eth2, external, host)
        for nic in (eth1, eth2):
            port = topo.add("switch_pnic", f"{switches[h // HOSTS_PER_RACK]}-{nic}", ttl=120)
            topo.link("host_pnic-switch_pnic", nic, port, host)
            topo.link("switch_pnic-switch", port, switches[h // HOSTS_PER_RACK])
        # Neighbouring hosts share networks, as a project's VMs tend to be placed together.
        window = (h // HOSTS_PER_RACK) * HOSTS_PER_RACK
        carried = set()
        for v in range(vms_per_host):
            vm = topo.add("instance", f"{host}-vm-{v:03d}", host, status="ACTIVE")
            for k in range(vnics_per_vm):
                net = nets[(window + (v * vnics_per_vm + k) % NETWORKS_PER_HOST) % networks]
                carried.add(net)
                tap = topo.add("vnic", f"{vm}-tap{k}", host, side="instance", state="up",
                               network_id=net)
                topo.add("port", f"{vm}-port{k}", host, network_id=net)
                qbr = topo.add("vconnector", f"{vm}-qbr{k}", host, kind="linux_bridge",
                               state="up")
                topo.link("instance-vnic", vm, tap, host)
                topo.link("vnic-vconnector", tap, qbr, host)
                topo.link("vconnector-vedge", qbr, vedge, host)
        for net in sorted(carried):
            topo.link("host_pnic-network", eth1, net, host)
    for h in range(hosts):
        for d in range(1, tunnel_peers // 2 + 1):
            topo.link("otep-otep", oteps[h], oteps[(h + d) % hosts])
    for n, net in enumerate(nets):
        node = n % min(NETWORK_NODES, hosts)
        dhcp = topo.add("vservice", f"host-{node:04d}-qdhcp-{net}", f"host-{node:04d}",
                        service_type="dhcp")
        _service_vnic(topo, dhcp, net, vedges[node], f"host-{node:04d}")
    for r in range(0, networks, NETWORKS_PER_ROUTER):
        node = (r // NETWORKS_PER_ROUTER) % min(NETWORK_NODES, hosts)
        router = topo.add("vservice", f"host-{node:04d}-qrouter-{r}", f"host-{node:04d}",
                          service_type="router")
        for net in [*nets[r:r + NETWORKS_PER_ROUTER], external]:
            _service_vnic(topo, router, net, vedges[node], f"host-{node:04d}")
    return topo.objects, topo.links


def _service_vnic(topo: _Topology, service: str, net: str, vedge: str, host: str) -> None:
    vnic = topo.add("vnic", f"{service}-{net}", host, side="vservice", state="up",
                    network_id=net)
    topo.link("vservice-vnic", service, vnic, host)
    topo.link("vnic-vedge", vnic, vedge, host)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--vms-per-host", type=int, default=20)
    parser.add_argument("--vnics-per-vm", type=int, default=2)
    parser.add_argument("--tunnel-peers", type=int, default=300)
    parser.add_argument("--networks", type=int, default=1000)
    args = parser.parse_args()
    objects, links = synthetic_topology(args.hosts, args.vms_per_host, args.vnics_per_vm,
                                        args.tunnel_peers, args.networks)
    clique_types = load_registry().clique_types_for(ENVIRONMENT)
    print(f"topology: {args.hosts} hosts, {sum(o['type'] == 'instance' for o in objects)} "
          f"instances, {len(objects)} objects, {len(links)} links")
    print(f"clique types: {', '.join(c.entry for c in clique_types)}")

    gc.collect()
    start = time.perf_counter()
    cliques = compute_cliques("bench", objects, links, clique_types)
    elapsed = time.perf_counter() - start
    for name, count in sorted(Counter(c["clique_type"] for c in cliques).items()):
        sizes = [len(c["nodes"]) for c in cliques if c["clique_type"] == name]
        links_in = [len(c["links"]) for c in cliques if c["clique_type"] == name]
        print(f"  {name:10} {count:6} cliques, nodes mean {statistics.mean(sizes):7.1f} "
              f"max {max(sizes):5}, links mean {statistics.mean(links_in):7.1f} "
              f"max {max(links_in):5}")
    print(f"compute_cliques: {len(cliques)} cliques in {elapsed:.2f} s")

    del cliques
    gc.collect()
    tracemalloc.start()
    compute_cliques("bench", objects, links, clique_types)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak memory (tracemalloc, graph and cliques, inputs excluded): "
          f"{peak / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
