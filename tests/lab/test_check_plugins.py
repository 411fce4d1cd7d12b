"""The checks Calipso generates for the session's lab, run over SSH the way the hosts' Sensu
agents would run them.

The lab is discovered into a store of this module's own and its monitoring rendered for Sensu Go
and for Sensu classic. Both flavours give each host the same commands; every monitored object of
the inventory has one (only a vservice's own vnics are left to the vservice's check); the lab's
description says which objects must be checked, on which host and how; and each command, run on
the host whose subscription its check is published to, is OK. Faults, and what the results
handler makes of their results, are in test_monitoring_lab.py.
"""

from __future__ import annotations

import shlex

import pytest

from calipso_core.lab.spec import vm_port
from calipso_core.monitoring.checks import MONITORED_TYPES, MonitoringSettings
from calipso_core.monitoring.render import RenderedMonitoring
from tests.conftest import (
    NAGIOS_LINE,
    PLUGIN_DIR,
    REMOTE_PYTHON,
    Command,
    LabMonitoring,
    go_commands,
    monitor,
    run_commands,
    run_on_host,
    settle,
)

Options = list[tuple[str, str]]


@pytest.fixture(scope="module")
def monitoring(lab, tmp_path_factory: pytest.TempPathFactory) -> LabMonitoring:
    return monitor(lab, tmp_path_factory.mktemp("monitoring") / "inventory.db")


def classic_commands(rendered: RenderedMonitoring) -> dict[str, Command]:
    """Each Sensu classic client's checks, by check name: clients run in safe mode, so only the
    checks defined in their own conf.d, and only those published to a subscription they have."""
    commands: dict[str, Command] = {}
    for agent in rendered.agents.values():
        subscriptions = set(agent.files["conf.d/client.json"]["client"]["subscriptions"])
        for doc in agent.files.values():
            for name, check in doc.get("checks", {}).items():
                if subscriptions & set(check["subscribers"]):
                    assert name not in commands, f"check {name} runs on two clients"
                    commands[name] = Command(agent.host, tuple(shlex.split(check["command"])))
    return commands


def expected_checks(description: dict) -> dict[str, tuple[str, str, Options]]:
    """What the lab's description says must be checked: object id -> (the host that runs its
    check, the plugin, its options)."""
    expected: dict[str, tuple[str, str, Options]] = {}

    def expect(object_id: str, host: str, plugin: str, *options: tuple[str, str]) -> None:
        assert object_id not in expected, object_id
        expected[object_id] = (host, plugin, list(options))

    hosts = {h["name"]: h for h in description["hosts"]}
    networks = {n["id"]: n for n in description["networks"]}
    dhcp = {p["network_id"]: p for p in description["ports"]
            if p["device_owner"] == "network:dhcp"}
    settings = MonitoringSettings()  # monitor() renders with the default otep thresholds
    for name, host in hosts.items():
        if host["system_id"]:  # an OVS host: its switch
            expect(host["system_id"], name, "vedge", ("--switch", "ovs"))
        for nic in host["nics"]:
            expect(f"{name}-{nic['name']}", name, "host_pnic", ("--device", nic["name"]))
        expect(f"{name}-otep-{host['tunnel_ip']}", name, "otep",
               ("--local-ip", host["tunnel_ip"]),
               *(("--remote", h["tunnel_ip"]) for h in description["hosts"] if h is not host),
               ("--warning-ms", str(settings.otep_warning_ms)),
               ("--critical-ms", str(settings.otep_critical_ms)))
    brq_members: dict[tuple[str, str, str], list[str]] = {}  # host, brq, network: taps
    for server in description["servers"]:
        port, host = vm_port(description, server), hosts[server["host"]]
        name, devices = host["name"], port["devices"]
        tap, tag = devices["tap"], ("--tag", str(host["local_vlans"].get(port["network_id"])))
        if server["layout"] == "ovs-hybrid":
            expect(f"{name}-{devices['qbr']}", name, "vconnector", ("--bridge", devices["qbr"]),
                   ("--member", tap), ("--member", devices["qvb"]))
            expect(f"{name}-{tap}", name, "vnic", ("--device", tap), ("--bridge", devices["qbr"]),
                   ("--ovs-port", devices["qvo"]), ("--ovs-bridge", "br-int"), tag)
        elif server["layout"] == "ovs-native":
            expect(f"{name}-{tap}", name, "vnic", ("--device", tap), ("--ovs-bridge", "br-int"),
                   tag)
        else:
            expect(f"{name}-{tap}", name, "vnic", ("--device", tap),
                   ("--bridge", devices["bridge"]))
            brq_members.setdefault((name, devices["bridge"], port["network_id"]), []).append(tap)
        # A VM is reached from its network's DHCP namespace, on the host that serves it.
        served_by = dhcp[port["network_id"]]
        expect(server["id"], served_by["binding:host_id"], "instance",
               ("--namespace", served_by["devices"]["namespace"]),
               ("--ip", port["fixed_ips"][0]["ip_address"]), ("--mac", port["mac_address"]))
    for (name, brq, network_id), taps in brq_members.items():
        vxlan = f"vxlan-{networks[network_id]['provider:segmentation_id']}"
        expect(f"{name}-{brq}", name, "vconnector", ("--bridge", brq),
               *(("--member", member) for member in [*taps, vxlan]))
    for port in dhcp.values():
        name, namespace = port["binding:host_id"], port["devices"]["namespace"]
        expect(f"{name}-{namespace}", name, "vservice", ("--namespace", namespace),
               ("--process", "dnsmasq"))
    for router in description["routers"]:
        namespace = f"qrouter-{router['id']}"
        expect(f"{router['host']}-{namespace}", router["host"], "vservice",
               ("--namespace", namespace))
    return expected


def vservice_vnics(description: dict) -> set[str]:
    """The vnics inside the DHCP and router namespaces, as discovery names them."""
    return {f"{p['binding:host_id']}-{p['devices']['namespace']}-"
            f"{p['devices'].get('tap') or p['devices'].get('qr') or p['devices']['qg']}"
            for p in description["ports"] if "namespace" in p["devices"]}


def test_both_flavours_give_every_monitored_object_its_command_on_its_host(monitoring,
                                                                            description):
    go, classic = go_commands(monitoring.go), classic_commands(monitoring.classic)
    assert go == classic
    # The classic server publishes the very checks its clients define.
    published = {name: check["command"] for doc in monitoring.classic.backend.values()
                 for name, check in doc.get("checks", {}).items()}
    assert published == {name: shlex.join(command.argv) for name, command in classic.items()}
    plan = {spec.name: spec for spec in monitoring.go.checks}
    assert len(go) == len(plan) == len(monitoring.go.checks)
    assert go == {name: Command(spec.host, tuple(spec.command_argv))
                  for name, spec in plan.items()}
    checked = {spec.object_id for spec in plan.values()}
    assert len(checked) == len(plan)  # one check per object
    skipped = {s.object_id for s in monitoring.go.skipped}
    monitored = {i for i, o in monitoring.objects.items() if o["type"] in MONITORED_TYPES}
    assert (checked | skipped, checked & skipped) == (monitored, set())
    assert skipped == vservice_vnics(description), monitoring.go.skipped


def test_every_generated_check_is_ok_on_its_host(lab, description, monitoring):
    commands = go_commands(monitoring.go)
    specs = {spec.name: spec for spec in monitoring.go.checks}
    outcomes = settle(lambda names: run_commands(lab, {n: commands[n] for n in names}),
                      run_commands(lab, commands), failing=set())
    report = "\n".join(f"{specs[n].object_type} {specs[n].object_id} on {commands[n].host}: "
                       f"{o.state}: {o.line} {o.stderr.strip()}"
                       for n, o in sorted(outcomes.items()) if o.returncode)
    assert not report, report
    for name, outcome in outcomes.items():
        match = NAGIOS_LINE.match(outcome.line)
        assert match, f"{specs[name].object_id}: {outcome.line!r}"
        assert (match["kind"], match["state"]) == (specs[name].object_type.upper(), "OK")
    # What must be checked, where and how, as the lab's description has it.
    expected = expected_checks(description)
    found = {spec.object_id: commands[name] for name, spec in specs.items()}
    assert set(found) == set(expected)
    for object_id, (host, plugin, options) in expected.items():
        command = found[object_id]
        assert (command.host, command.argv[:2]) == \
            (host, (REMOTE_PYTHON, str(PLUGIN_DIR / f"check_{plugin}.py"))), object_id
        args = command.argv[2:]
        assert sorted(zip(args[::2], args[1::2], strict=True)) == sorted(options), command
    otep = next(n for n, spec in specs.items() if spec.object_type == "otep")
    assert "rtt_" in outcomes[otep].line  # perfdata for each remote


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
    outcomes = run_on_host(lab, host, [[REMOTE_PYTHON, str(PLUGIN_DIR / f"check_{plugin}.py"),
                                        *args] for plugin, args in wrong.items()])
    for plugin, outcome in zip(wrong, outcomes, strict=True):
        match = NAGIOS_LINE.match(outcome.line)
        assert outcome.returncode == 2, outcome
        assert match and (match["kind"], match["state"]) == (plugin.upper(), "CRITICAL"), outcome
