"""A short, human-readable summary of a lab: its hosts (and whether Ansible reached them over
SSH), networks and VMs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from calipso_core.ansible_run import HostOutcome
from calipso_core.lab.spec import hosts_serving


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    columns = zip(headers, *rows, strict=False)
    widths = [max(len(str(cell)) for cell in column) for column in columns]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
             for row in [headers, *rows]]
    return "\n".join(line.rstrip() for line in lines)


def reach_status(outcome: HostOutcome | None, expected_hostname: str) -> str:
    if outcome is None:
        return "not reached"
    if outcome.status != "ok":
        return f"{outcome.status}: {outcome.message}"[:60]
    hostname = outcome.result.get("ansible_facts", {}).get("ansible_hostname", "?")
    return "ok" if hostname == expected_hostname else f"ok, but hostname is {hostname}"


def lab_summary(description: dict[str, Any], status: Mapping[str, Any],
                reached: Mapping[str, HostOutcome]) -> str:
    projects = {p["id"]: p["name"] for p in description["projects"]}
    networks = {n["id"]: n for n in description["networks"]}
    ports = {p["id"]: p for p in description["ports"]}
    head = (f"Lab {description['name']}: {len(description['hosts'])} hosts, "
            f"{len(description['projects'])} projects, {len(description['networks'])} networks, "
            f"{len(description['routers'])} router(s), {len(description['servers'])} VMs\n"
            f"OpenStack API: {status['api']} (cloud {status['cloud']} in {status['clouds_yaml']})\n"
            f"Ansible inventory: {status['inventory']}")
    hosts = table(["HOST", "ROLE", "LAYOUT", "MGMT IP", "TUNNEL IP", "ANSIBLE OVER SSH"],
                  [[h["name"], h["role"], h["layout"], h["management_ip"], h["tunnel_ip"],
                    reach_status(reached.get(h["name"]), h["name"])]
                   for h in description["hosts"]])
    nets = table(["NETWORK", "PROJECT", "TYPE", "VNI", "CIDR", "HOSTS"],
                 [[n["name"], projects.get(n["project_id"], "-"), n["provider:network_type"],
                   str(n["provider:segmentation_id"] or "-"), n["subnets"][0]["cidr"],
                   ",".join(hosts_serving(description, n["id"])) or "-"]
                  for n in description["networks"]])
    vms = []
    for server in description["servers"]:
        port = ports[server["port_ids"][0]]
        vms.append([server["name"], projects[server["project_id"]], server["host"],
                    server["layout"], networks[port["network_id"]]["name"],
                    port["fixed_ips"][0]["ip_address"], port["mac_address"]])
    vm_table = table(["VM", "PROJECT", "HOST", "LAYOUT", "NETWORK", "IP", "MAC"], vms)
    return "\n\n".join([head, hosts, nets, vm_table])
