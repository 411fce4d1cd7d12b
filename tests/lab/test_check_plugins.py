"""Calipso's check plugins on the lab's hosts, run over SSH the way a Sensu agent runs them there.

On the session's lab, the check of every relevant object of the lab's description is OK on its
host. On a separate small lab of this module, faults are injected one at a time (an OVS port
deleted, a Linux bridge down, the tunnel IP's bridge down, a dnsmasq killed, a switch daemon
killed) and exactly the checks of the objects that the fault breaks turn non-OK: the faulty object
and what depends on it (the VMs behind it, the tunnels through it), nothing else; repairs bring
them back to OK.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from calipso_core.lab.manager import Lab
from calipso_core.lab.spec import LabSpec
from tests.conftest import lab_of_its_own

PLUGINS = Path(__file__).resolve().parents[2] / "roles" / "sensu_agent" / "files" / "plugins"
REMOTE_PYTHON = "/usr/bin/python3"
FAULT_LAB = LabSpec(name="pchk", address_base="10.243")
LINE = re.compile(r"^(VEDGE|VCONNECTOR|VNIC|HOST_PNIC|OTEP|VSERVICE|INSTANCE) "
                  r"(OK|WARNING|CRITICAL|UNKNOWN) - [^|\n]+( \| [^\n]+)?$")
STATES = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}


@dataclass(frozen=True)
class Check:
    """One check of one object, run on one host."""

    key: str  # "<host> <kind> <object>"
    host: str
    plugin: str
    args: tuple[str, ...]

    def argv(self) -> list[str]:
        return [REMOTE_PYTHON, str(PLUGINS / f"check_{self.plugin}.py"), *self.args]


@dataclass(frozen=True)
class Outcome:
    returncode: int
    line: str
    stderr: str

    @property
    def state(self) -> str:
        return STATES.get(self.returncode, f"exit {self.returncode}")


def checks_of(description: dict) -> dict[str, Check]:
    """The checks Calipso would render for the lab's objects, keyed by host, kind and object."""
    checks: list[Check] = []

    def add(host: str, plugin: str, obj: str, *args: str) -> None:
        checks.append(Check(f"{host} {plugin} {obj}", host, plugin, tuple(args)))

    hosts = {h["name"]: h for h in description["hosts"]}
    ports = {p["id"]: p for p in description["ports"]}
    networks = {n["id"]: n for n in description["networks"]}
    for host in description["hosts"]:
        name = host["name"]
        if host["ovs_bridges"]:
            add(name, "vedge", "ovs", "--switch", "ovs")
        for nic in ("eth0", "eth1"):
            add(name, "host_pnic", nic, "--device", nic)
        remotes = [a for h in description["hosts"] if h["name"] != name
                   for a in ("--remote", h["tunnel_ip"])]
        add(name, "otep", host["tunnel_ip"], "--local-ip", host["tunnel_ip"], *remotes)

    brq_members: dict[tuple[str, str, str], list[str]] = {}  # host, brq, network: taps
    for server in description["servers"]:
        port = ports[server["port_ids"][0]]
        host = hosts[server["host"]]
        devices = port["devices"]
        tap = devices["tap"]
        vlan = host["local_vlans"].get(port["network_id"])
        if server["layout"] == "ovs-hybrid":
            add(host["name"], "vconnector", devices["qbr"], "--bridge", devices["qbr"],
                "--member", tap, "--member", devices["qvb"])
            add(host["name"], "vnic", tap, "--device", tap, "--bridge", devices["qbr"])
            add(host["name"], "vnic", devices["qvo"], "--device", devices["qvo"],
                "--ovs-bridge", "br-int", "--tag", str(vlan))
        elif server["layout"] == "ovs-native":
            add(host["name"], "vnic", tap, "--device", tap, "--ovs-bridge", "br-int",
                "--tag", str(vlan))
        else:
            add(host["name"], "vnic", tap, "--device", tap, "--bridge", devices["bridge"])
            key = (host["name"], devices["bridge"], port["network_id"])
            brq_members.setdefault(key, []).append(tap)
        dhcp = next(p for p in description["ports"] if p["device_owner"] == "network:dhcp"
                    and p["network_id"] == port["network_id"])
        add(dhcp["binding:host_id"], "instance", server["name"],
            "--namespace", dhcp["devices"]["namespace"],
            "--ip", port["fixed_ips"][0]["ip_address"], "--mac", port["mac_address"])
    for (host_name, brq, network_id), taps in sorted(brq_members.items()):
        vxlan = f"vxlan-{networks[network_id]['provider:segmentation_id']}"
        members = [a for m in [*taps, vxlan] for a in ("--member", m)]
        add(host_name, "vconnector", brq, "--bridge", brq, *members)
    for port in description["ports"]:
        if port["device_owner"] == "network:dhcp":
            namespace = port["devices"]["namespace"]
            add(port["binding:host_id"], "vservice", namespace, "--namespace", namespace,
                "--process", "dnsmasq")
    for router in description["routers"]:
        namespace = f"qrouter-{router['id']}"
        add(router["host"], "vservice", namespace, "--namespace", namespace)
    by_key = {c.key: c for c in checks}
    assert len(by_key) == len(checks), "two checks with the same key"
    return by_key


# Runs on a lab host: the checks' argv lists, at once, as the host's monitoring agent would.
RUNNER = """
import json, subprocess, sys
from concurrent.futures import ThreadPoolExecutor
def run(argv):
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    return [proc.returncode, proc.stdout, proc.stderr]
with ThreadPoolExecutor(8) as pool:
    print(json.dumps(list(pool.map(run, json.loads(sys.argv[1])))))
"""


def run_on_host(lab: Lab, host: str, checks: list[Check]) -> list[Outcome]:
    """The checks of one host, over one SSH session to it (an SSH handshake costs more than a
    check does): `/usr/bin/python3 <plugin path> ARGS...` each, on the host."""
    argvs = json.dumps([c.argv() for c in checks])
    proc = subprocess.run(["ssh", "-F", str(lab.paths.ssh_dir / "config"), "-o", "BatchMode=yes",
                           host, "--", shlex.join([REMOTE_PYTHON, "-c", RUNNER, argvs])],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, f"ssh {host}: {proc.stderr}"
    return [Outcome(rc, out.rstrip("\n"), err) for rc, out, err in json.loads(proc.stdout)]


def run_checks(lab: Lab, checks: dict[str, Check]) -> dict[str, Outcome]:
    """Every check on its host, all hosts at once."""
    by_host: dict[str, list[str]] = {}
    for key, check in checks.items():
        by_host.setdefault(check.host, []).append(key)
    with ThreadPoolExecutor(max_workers=len(by_host)) as pool:
        futures = {host: pool.submit(run_on_host, lab, host, [checks[k] for k in keys])
                   for host, keys in by_host.items()}
        return {key: outcome for host, keys in by_host.items()
                for key, outcome in zip(keys, futures[host].result(), strict=True)}


def not_ok(outcomes: dict[str, Outcome]) -> set[str]:
    return {key for key, outcome in outcomes.items() if outcome.returncode != 0}


def report(outcomes: dict[str, Outcome], keys: set[str] | None = None) -> str:
    return "\n".join(f"{key}: {o.state}: {o.line} {o.stderr.strip()}"
                     for key, o in sorted(outcomes.items()) if keys is None or key in keys)


# -- the session lab: everything OK --------------------------------------------------------------

def test_every_object_of_the_lab_checks_ok_on_its_host(lab, description):
    checks = checks_of(description)
    kinds = {c.plugin for c in checks.values()}
    assert kinds == {"vedge", "vconnector", "vnic", "host_pnic", "otep", "vservice", "instance"}
    outcomes = run_checks(lab, checks)
    assert not not_ok(outcomes), report(outcomes, not_ok(outcomes))
    for key, outcome in outcomes.items():
        assert LINE.match(outcome.line), f"{key}: {outcome.line!r}"
        assert outcome.line.split()[1] == "OK"
    # What the checks cover, by host: OVS hosts have their switch checked, every host its NICs
    # and tunnel endpoint, the controller its DHCP and router namespaces and every VM.
    ovs_hosts = {h["name"] for h in description["hosts"] if h["ovs_bridges"]}
    assert {c.host for c in checks.values() if c.plugin == "vedge"} == ovs_hosts
    instances = [c for c in checks.values() if c.plugin == "instance"]
    assert {c.key.split()[-1] for c in instances} == {s["name"] for s in description["servers"]}
    assert {c.host for c in instances} == {"controller"}
    assert "rtt_" in outcomes[next(k for k in checks if " otep " in k)].line


def test_a_check_reports_real_trouble_on_the_lab(lab, description):
    """The same plugins on the same hosts say CRITICAL about objects that are not there."""
    host = description["hosts"][1]["name"]
    wrong = {
        "vnic": ["--device", "tap-nosuch"],
        "vconnector": ["--bridge", "br-int"],  # an OVS bridge, not a Linux bridge
        "otep": ["--local-ip", description["hosts"][1]["tunnel_ip"],
                 "--remote", description["underlay"]["tunnel"].replace(".0/24", ".250")],
        "vservice": ["--namespace", "qdhcp-nosuch"],
    }
    outcomes = run_on_host(lab, host, [Check(f"{host} {plugin} wrong", host, plugin, tuple(args))
                                       for plugin, args in wrong.items()])
    for outcome in outcomes:
        assert outcome.returncode == 2, outcome
        assert LINE.match(outcome.line) and " CRITICAL - " in outcome.line, outcome.line


# -- the fault lab: exactly what a fault breaks turns non-OK ------------------------------------

@pytest.fixture(scope="module")
def fault_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with lab_of_its_own(FAULT_LAB, tmp_path_factory.mktemp("pchk")) as lab:
        yield lab


@pytest.fixture(scope="module")
def fault_description(fault_lab: Lab) -> dict:
    return fault_lab.description()


@pytest.fixture(scope="module")
def fault_checks(fault_description: dict) -> dict[str, Check]:
    return checks_of(fault_description)


def vm(description: dict, layout: str) -> tuple[dict, dict]:
    server = next(s for s in description["servers"] if s["layout"] == layout)
    port = next(p for p in description["ports"] if p["id"] == server["port_ids"][0])
    return server, port


def instances_on(description: dict, host: str) -> set[str]:
    return {f"controller instance {s['name']}" for s in description["servers"]
            if s["host"] == host}


class Baseline:
    """The outcomes of the last full run on the fault lab that ended repaired: the next fault's
    "before" (a run of every check costs about two seconds)."""

    def __init__(self) -> None:
        self.outcomes: dict[str, Outcome] | None = None

    def take(self, lab: Lab, checks: dict[str, Check]) -> dict[str, Outcome]:
        before, self.outcomes = self.outcomes, None  # a failing test leaves no baseline
        return before if before is not None else run_checks(lab, checks)

    def repaired(self, lab: Lab, checks: dict[str, Check], before: dict[str, Outcome]) -> None:
        """After a repair: the same checks are non-OK as before the fault."""
        repaired = run_checks(lab, checks)
        assert not_ok(repaired) == not_ok(before), report(repaired, not_ok(repaired))
        self.outcomes = repaired


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    return Baseline()


def assert_fault(lab: Lab, checks: dict[str, Check], before: dict[str, Outcome],
                 expected: set[str]) -> dict[str, Outcome]:
    """After a fault: exactly the expected checks turned non-OK, and nothing else changed."""
    after = run_checks(lab, checks)
    turned = not_ok(after) - not_ok(before)
    healed = not_ok(before) - not_ok(after)
    assert (turned, healed) == (expected, set()), (
        f"expected non-OK: {sorted(expected)}\n" + report(after, not_ok(after) | expected))
    for key in expected:
        assert after[key].returncode == 2, report(after, {key})
        assert LINE.match(after[key].line), after[key].line
    return after


def test_fault_lab_starts_all_ok(fault_lab, fault_checks, baseline):
    outcomes = baseline.take(fault_lab, fault_checks)
    assert not not_ok(outcomes), report(outcomes, not_ok(outcomes))
    baseline.outcomes = outcomes


def test_deleted_qvo_port_fails_its_vnic_and_its_instance(fault_lab, fault_description,
                                                          fault_checks, baseline):
    server, port = vm(fault_description, "ovs-hybrid")
    host = server["host"]
    qvo = port["devices"]["qvo"]
    ns = fault_lab.host(host)
    before = baseline.take(fault_lab, fault_checks)
    # Keep what it takes to plug the port back as the OVS agent had it.
    vlan = ns.run(["ovs-vsctl", "--timeout=5", "get", "Port", qvo, "tag"]).strip()
    external_ids = ns.run(["ovs-vsctl", "--timeout=5", "get", "Interface", qvo,
                           "external_ids"]).strip()
    ns.run(["ovs-vsctl", "--timeout=5", "del-port", "br-int", qvo])
    after = assert_fault(fault_lab, fault_checks, before,
                         {f"{host} vnic {qvo}", f"controller instance {server['name']}"})
    assert "not a port of any OVS bridge" in after[f"{host} vnic {qvo}"].line
    ns.run(["ovs-vsctl", "--timeout=5", "add-port", "br-int", qvo, f"tag={vlan}", "--", "set",
            "Interface", qvo, f"external_ids={external_ids}"])
    baseline.repaired(fault_lab, fault_checks, before)


def test_linux_bridge_down_fails_its_vconnector_and_its_instances(fault_lab, fault_description,
                                                                  fault_checks, baseline):
    server, port = vm(fault_description, "linuxbridge")
    host = server["host"]
    brq = port["devices"]["bridge"]
    on_brq = {f"controller instance {s['name']}" for s in fault_description["servers"]
              if s["host"] == host and vm_port(fault_description, s)["devices"]["bridge"] == brq}
    ns = fault_lab.host(host)
    before = baseline.take(fault_lab, fault_checks)
    ns.run(["ip", "link", "set", brq, "down"])
    after = assert_fault(fault_lab, fault_checks, before, {f"{host} vconnector {brq}", *on_brq})
    assert "administratively down" in after[f"{host} vconnector {brq}"].line
    ns.run(["ip", "link", "set", brq, "up"])
    baseline.repaired(fault_lab, fault_checks, before)


def vm_port(description: dict, server: dict) -> dict:
    return next(p for p in description["ports"] if p["id"] == server["port_ids"][0])


def test_tunnel_bridge_down_fails_every_tunnel_to_the_host_and_its_vms(fault_lab,
                                                                      fault_description,
                                                                      fault_checks, baseline):
    """compute1's tunnel IP lives on br-phy: with br-phy down, no tunnel endpoint reaches it
    (and it reaches none), and its VMs drop off the overlay."""
    host = "compute1"
    tunnel_ip = next(h["tunnel_ip"] for h in fault_description["hosts"] if h["name"] == host)
    oteps = {k for k, c in fault_checks.items() if c.plugin == "otep"}
    ns = fault_lab.host(host)
    before = baseline.take(fault_lab, fault_checks)
    ns.run(["ip", "link", "set", "br-phy", "down"])
    after = assert_fault(fault_lab, fault_checks, before,
                         oteps | instances_on(fault_description, host))
    for key in oteps:
        line = after[key].line
        if key.startswith(host + " "):  # all of its remotes
            assert "0 of 3 remotes fine" in line, line
        else:  # only compute1
            assert f"{tunnel_ip} unreachable" in line and "2 of 3 remotes fine" in line, line
    ns.run(["ip", "link", "set", "br-phy", "up"])
    baseline.repaired(fault_lab, fault_checks, before)


def test_killed_dnsmasq_fails_its_vservice_only(fault_lab, fault_description, fault_checks,
                                                baseline):
    controller = "controller"
    network = next(n for n in fault_description["networks"] if n["name"] == "web")
    namespace = f"qdhcp-{network['id']}"
    pid_file = fault_lab.paths.host_dir(controller) / "dhcp" / network["id"] / "pid"
    pid = int(pid_file.read_text())
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    assert Path(cmdline[0]).name == "dnsmasq"
    ns = fault_lab.host(controller)
    before = baseline.take(fault_lab, fault_checks)
    os.kill(pid, signal.SIGKILL)
    after = assert_fault(fault_lab, fault_checks, before,
                         {f"{controller} vservice {namespace}"})
    assert "no dnsmasq process" in after[f"{controller} vservice {namespace}"].line
    ns.in_netns(namespace, cmdline)  # dnsmasq as the DHCP agent ran it; it daemonises
    baseline.repaired(fault_lab, fault_checks, before)


def test_killed_switch_daemon_fails_the_vedge_and_what_it_carries(fault_lab, fault_description,
                                                                  fault_checks, baseline):
    """Last (not repaired): compute2's ovs-vswitchd dies; its database still answers, so its
    ports are still configured, but no tunnel reaches compute2 and its VMs are cut off."""
    host = "compute2"
    pid_file = fault_lab.paths.host_dir(host) / "ovs" / "ovs-vswitchd.pid"
    pid = int(pid_file.read_text())
    oteps = {k for k, c in fault_checks.items() if c.plugin == "otep"}
    before = baseline.take(fault_lab, fault_checks)
    os.kill(pid, signal.SIGKILL)
    after = assert_fault(fault_lab, fault_checks, before,
                         {f"{host} vedge ovs"} | oteps | instances_on(fault_description, host))
    line = after[f"{host} vedge ovs"].line
    assert "switch daemon (ovs-vswitchd) does not answer" in line, line
    assert "database (ovsdb-server) does not answer" not in line, line
