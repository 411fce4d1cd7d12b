"""The lab's OpenStack API tells the same story as the switches: every Neutron port bound to a
host is plugged there, with the same MAC, and every server runs where Nova says."""

from __future__ import annotations

import json

import openstack
import pytest

from calipso_core.lab.manager import cloud_name
from tests.conftest import ssh
from tests.lab.test_lab_switches import ovs_table


@pytest.fixture(scope="module")
def cloud(lab, monkeypatch_module):
    monkeypatch_module.setenv("OS_CLIENT_CONFIG_FILE", str(lab.paths.clouds_yaml))
    conn = openstack.connect(cloud=cloud_name(lab.spec.name))
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def switch_ports(lab, description) -> dict[str, tuple[str, str]]:
    """iface-id -> (host, MAC) from OVS external_ids, and from the Linux-bridge host's taps."""
    found = {}
    for host in description["hosts"]:
        if host["ovs_bridges"]:
            for iface in ovs_table(lab, host["name"], "Interface"):
                ids = iface["external_ids"]
                if "iface-id" in ids:
                    found[ids["iface-id"]] = (host["name"], ids["attached-mac"])
        else:
            links = {link["ifname"]: link for link in
                     json.loads(ssh(lab, host["name"], ["ip", "-j", "link", "show"]))}
            for port in description["ports"]:
                tap = port["devices"].get("tap")
                if tap in links and links[tap].get("master", "").startswith("brq"):
                    # the host side of a VM tap carries the guest MAC with fe as first octet
                    found[port["id"]] = (host["name"], "fa" + links[tap]["address"][2:])
    return found


def test_neutron_ports_are_plugged_where_neutron_binds_them(lab, description, cloud):
    on_switches = switch_ports(lab, description)
    api_ports = list(cloud.network.ports())
    assert {p.id for p in api_ports} == set(on_switches)
    for port in api_ports:
        assert on_switches[port.id] == (port.binding_host_id, port.mac_address), port.id


def test_servers_run_where_nova_says_with_the_macs_neutron_gave(lab, description, cloud):
    on_switches = switch_ports(lab, description)
    servers = list(cloud.compute.servers(all_projects=True))
    assert {s.name for s in servers} == {s["name"] for s in description["servers"]}
    for server in servers:
        ports = list(cloud.network.ports(device_id=server.id))
        assert len(ports) == 1
        host, mac = on_switches[ports[0].id]
        assert server.compute_host == host
        macs = [a["OS-EXT-IPS-MAC:mac_addr"] for addrs in server.addresses.values()
                for a in addrs]
        assert macs == [mac]


def test_agents_and_hypervisors_match_the_hosts(lab, description, cloud):
    agents = {(a.agent_type, a.host) for a in cloud.network.agents()}
    for host in description["hosts"]:
        for agent in host["agents"]:
            assert (agent, host["name"]) in agents
    hypervisors = {h.name for h in cloud.compute.hypervisors(details=True)}
    assert hypervisors == {h["name"] for h in description["hosts"] if h["role"] == "compute"}
