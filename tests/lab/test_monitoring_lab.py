"""Calipso's monitoring end to end on a lab of this module's own: discovered, rendered for Sensu,
its checks run on their hosts, their results handed to `calipso-sensu-handler` as Sensu events.

Faults are injected one at a time (a hybrid VM's qvo port deleted, a Linux bridge down, an OVS
tunnel port removed, a Linux-bridge vxlan device removed, a host's tunnel bridge down, a dnsmasq
killed, a switch daemon killed). Each turns exactly the checks of the objects it breaks non-OK
(the faulty object and what depends on it: the VMs behind it, the tunnels through it), nothing
else. The events those results make, in the shapes Sensu Go and Sensu classic give their pipe
handlers, go through the real handler command as rendered: the objects get the plugin's status
and an active message, counted while the fault lasts; once repaired, the checks are OK again and
their events clear the messages, leaving the transition in the status history. Results for a VM
that is gone from the inventory are reported, not recorded.

Which events the handler gets follows each flavour: Sensu Go's rendered filter passes the first
result of a check and each change of state (the Sensu Go events here: every first result, each
fault); Sensu classic hands a pipe handler every result of a `metric` check (the Sensu classic
events here: the repeated results while a fault lasts, and the repairs).
"""

from __future__ import annotations

import itertools
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from calipso_core.lab import ovs
from calipso_core.lab.manager import Lab
from calipso_core.lab.spec import LabSpec, vm_port
from calipso_core.lab.system import HostNamespaces
from calipso_core.monitoring.checks import CheckSpec
from calipso_core.monitoring_results import messages, statuses
from calipso_core.store import EmbeddedStore
from tests.conftest import (
    ENVIRONMENT,
    NAGIOS_LINE,
    Command,
    LabMonitoring,
    Outcome,
    go_commands,
    lab_of_its_own,
    monitor,
    run_commands,
    settle,
)

FAULT_LAB = LabSpec(name="pchk", address_base="10.243")
Doc = dict[str, Any]
# Sensu Go and Sensu classic keep the last 21 results of a check.
HISTORY = 21
# The Sensu classic server version that proxy clients record (the last 1.x release).
CLASSIC_VERSION = "1.9.0"
# Fields of a CheckConfig that Sensu Go serialises in an event's check with their zero values when
# the configuration leaves them out (core/v2 CheckConfig's JSON).
GO_CHECK_ZEROS: Doc = {"check_hooks": None, "env_vars": None, "high_flap_threshold": 0,
                       "low_flap_threshold": 0, "secrets": None, "subdue": None, "ttl": 0,
                       "output_metric_tags": None}
# A proxy entity as the backend holds one made with sensuctl: what it fills in beside the spec.
GO_PROXY_ZEROS: Doc = {"deregister": False, "deregistration": {}, "last_seen": 0,
                       "system": {"network": {"interfaces": None}}, "sensu_agent_version": ""}
HANDLER_WORKERS = 4


# -- Sensu, as far as the handler can tell -------------------------------------------------------

@dataclass(frozen=True)
class Seen:
    """What a Sensu backend keeps of a check from its results: the last one, the status history,
    the occurrences of the last status, and when that status began."""

    outcome: Outcome
    previous: int | None  # the status before
    history: tuple[tuple[int, int], ...]  # (status, executed), oldest first
    occurrences: int
    watermark: int
    changed: int
    sequence: int  # of the last result, among the results of the agent that ran it
    incident: str  # the id of the Sensu classic event while the check fails (a fresh one on OK)


class Sensu:
    """Stands in for the Sensu Go backend and the Sensu classic server between the lab's checks
    and the handler: sees every result, as they do, and turns the last result of a check into
    the event they would pipe to the rendered handler command, which it runs."""

    def __init__(self) -> None:
        self.check_configs: dict[str, Doc] = {}
        self.entities: dict[str, Doc] = {}
        self.classic_checks: dict[str, Doc] = {}
        self.runs_on: dict[str, str] = {}  # check name: host
        self.go_agents: dict[str, str] = {}  # host: agent name
        self.classic_clients: dict[str, str] = {}  # host: client name
        self.handler_argv: list[str] = []
        self.seen: dict[str, Seen] = {}  # by check name
        self.sequences: dict[str, int] = {}  # agent: results it sent

    def load(self, monitoring: LabMonitoring, commands: Mapping[str, Command]) -> None:
        """Take in a rendering. The definitions of checks it no longer has stay known, as they do
        in Sensu until the new configuration reaches every agent."""
        go, classic = monitoring.go, monitoring.classic
        for doc in go.backend.values():
            kind = {"CheckConfig": self.check_configs, "Entity": self.entities}.get(doc["type"])
            if kind is not None:
                kind[doc["metadata"]["name"]] = doc
        self.classic_checks |= {name: check for doc in classic.backend.values()
                                for name, check in doc.get("checks", {}).items()}
        self.runs_on |= {name: command.host for name, command in commands.items()}
        self.go_agents |= {a.host: a.files["agent.yml"]["name"] for a in go.agents.values()}
        self.classic_clients |= {a.host: a.files["conf.d/client.json"]["client"]["name"]
                                 for a in classic.agents.values()}
        [go_handler] = [d["spec"]["command"] for d in go.backend.values()
                        if d["type"] == "Handler"]
        [classic_handler] = [h["command"] for d in classic.backend.values()
                             for h in d.get("handlers", {}).values()]
        assert go_handler == classic_handler
        argv = shlex.split(go_handler)
        # The backend finds the handler on its PATH; here, the venv's console script.
        self.handler_argv = [str(Path(sys.executable).parent / argv[0]), *argv[1:]]

    def observe(self, outcomes: Mapping[str, Outcome]) -> None:
        """Results reach the backends, which keep their history."""
        for name, outcome in outcomes.items():
            status, executed = outcome.returncode, int(outcome.executed)
            seen = self.seen.get(name)
            previous = seen.outcome.returncode if seen else None
            occurrences = seen.occurrences + 1 if seen and previous == status else 1
            # Sensu Go: the watermark restarts at the first failure after OK, else follows the
            # highest occurrences, so a resolution still tells how long the problem lasted.
            watermark = 1 if previous == 0 and status != 0 else \
                max(seen.watermark if seen else 0, occurrences)
            agent = self.go_agents[self.runs_on[name]]
            self.sequences[agent] = self.sequences.get(agent, 0) + 1
            # Sensu classic keeps one event, under one id, from a check's first failure to its
            # resolution.
            incident = seen.incident if seen and previous != 0 else str(uuid.uuid4())
            history = (*(seen.history if seen else ()), (status, executed))[-HISTORY:]
            changed = seen.changed if seen and previous == status else executed
            self.seen[name] = Seen(outcome, previous, history, occurrences, watermark, changed,
                                   self.sequences[agent], incident)

    def _last_ok(self, seen: Seen) -> int:
        return max((executed for status, executed in seen.history if status == 0), default=0)

    def go_event(self, name: str) -> Doc:
        """The event Sensu Go pipes to a handler for the check's last result: its `json` format
        (no type/api_version/spec wrapper), the check's configuration with the result, and the
        proxy entity the check reports under, as the backend holds it."""
        seen = self.seen[name]
        outcome, executed = seen.outcome, int(seen.outcome.executed)
        config, entity = self.check_configs[name], self.entities[name]
        check = {**GO_CHECK_ZEROS, **config["spec"], "metadata": config["metadata"],
                 "duration": round(outcome.duration, 9), "executed": executed,
                 "issued": executed,  # subscription checks run as soon as they are issued
                 "history": [{"status": s, "executed": e} for s, e in seen.history],
                 "output": outcome.line + "\n", "state": "passing" if outcome.returncode == 0
                 else "failing", "status": outcome.returncode,
                 # Sensu Go computes it over 21 results: 0 until it has them.
                 "total_state_change": 0, "last_ok": self._last_ok(seen),
                 "occurrences": seen.occurrences, "occurrences_watermark": seen.watermark,
                 "is_silenced": False, "scheduler": "memory",
                 "processed_by": self.go_agents[self.runs_on[name]]}
        event = {"check": check,
                 "entity": {**GO_PROXY_ZEROS, **entity["spec"], "metadata": entity["metadata"]},
                 "id": str(uuid.uuid4()),
                 "metadata": {"namespace": config["metadata"]["namespace"]},
                 "sequence": seen.sequence, "timestamp": int(time.time())}
        points = nagios_points(check["output"], executed, check["output_metric_tags"])
        if config["spec"].get("output_metric_format") == "nagios_perfdata" and points:
            event["metrics"] = {"handlers": config["spec"]["output_metric_handlers"],
                                "points": points}
        return event

    def classic_event(self, name: str) -> Doc:
        """The event the Sensu classic server pipes to a handler for the check's last result:
        the check definition merged with the result, under the proxy client its `source` names
        (which the server creates on that source's first result)."""
        seen = self.seen[name]
        outcome, executed = seen.outcome, int(seen.outcome.executed)
        definition = self.classic_checks[name]
        source = definition["source"]
        resolves = outcome.returncode == 0 and seen.previous not in (None, 0)
        return {
            "id": seen.incident,
            "client": {"name": source, "address": "unknown",
                       "subscriptions": [f"client:{source}"], "keepalives": False,
                       "version": CLASSIC_VERSION, "timestamp": seen.history[0][1]},
            "check": {**definition, "name": name, "issued": executed, "executed": executed,
                      "duration": round(outcome.duration, 3), "output": outcome.line + "\n",
                      "status": outcome.returncode,
                      "history": [str(status) for status, _ in seen.history],
                      # on a proxy client's events: the client that ran the check
                      "origin": self.classic_clients[self.runs_on[name]]},
            "occurrences": seen.occurrences, "occurrences_watermark": seen.watermark,
            "last_ok": self._last_ok(seen) or None,
            "action": "resolve" if resolves else "create",
            "timestamp": int(time.time()), "last_state_change": seen.changed,
            "silenced": False, "silenced_by": []}

    def handle(self, events: list[Doc]) -> list[str]:
        """Pipe each event into the handler command (one process per event, as Sensu runs a pipe
        handler), several at once; their reports, in order."""
        def run(event: Doc) -> str:
            done = subprocess.run(self.handler_argv, input=json.dumps(event), text=True,
                                  capture_output=True, timeout=60, check=False)
            assert done.returncode == 0, f"{self.handler_argv}: {done.stderr}"
            return done.stdout.strip()

        with ThreadPoolExecutor(HANDLER_WORKERS) as pool:
            return list(pool.map(run, events))


def nagios_points(output: str, executed: int, tags: Any) -> list[Doc]:
    """The metric points a Sensu Go agent extracts from Nagios perfdata (its nagios_perfdata
    transformer): label=value pairs after the one '|', values stripped of their unit, those
    that are not numbers (U) left out."""
    text_and_perfdata = output.split("|")
    if len(text_and_perfdata) != len(("text", "perfdata")):
        return []
    points = []
    for metric in text_and_perfdata[1].strip().split(" "):
        label_value = metric.strip().split(";")[0].split("=")
        if len(label_value) != len(("label", "value")):
            continue
        value = "".join(c for c in label_value[1] if c.isdigit() or c in "-.")
        try:
            points.append({"name": label_value[0].replace(" ", "_"), "value": float(value),
                           "timestamp": executed, "tags": tags})
        except ValueError:
            continue
    return points


# -- the fault lab under watch -------------------------------------------------------------------

def not_ok(outcomes: Mapping[str, Outcome]) -> set[str]:
    return {name for name, outcome in outcomes.items() if outcome.returncode != 0}


class Watch:
    """The fault lab under Calipso's monitoring: its rendered checks, run on the hosts, their
    results through Sensu into the store. Keeps the outcomes of the last full run that ended with
    everything repaired: the next fault's "before" (a run of every check costs two seconds)."""

    def __init__(self, lab: Lab, monitoring: LabMonitoring) -> None:
        self.lab = lab
        self.sensu = Sensu()
        self.last: dict[str, Outcome] | None = None
        self.faulted: dict[str, Outcome] = {}
        self.load(monitoring)

    def load(self, monitoring: LabMonitoring) -> None:
        """Watch the lab as discovered and rendered in `monitoring` (and described now)."""
        self.monitoring = monitoring
        self.description = self.lab.description()
        self.commands = go_commands(monitoring.go)
        self.specs: dict[str, CheckSpec] = {spec.name: spec for spec in monitoring.go.checks}
        self.sensu.load(monitoring, self.commands)

    def run(self, names: set[str] | None = None) -> dict[str, Outcome]:
        """Run the checks (all, or these), as the agents do: every result reaches Sensu."""
        outcomes = run_commands(self.lab, {name: command for name, command in
                                           self.commands.items() if names is None or name in names})
        self.sensu.observe(outcomes)
        return outcomes

    def report(self, outcomes: Mapping[str, Outcome], names: set[str] | None = None) -> str:
        return "\n".join(f"{self.specs[n].object_type} {self.specs[n].object_id}: {o.state}: "
                         f"{o.line} {o.stderr.strip()}" for n, o in sorted(outcomes.items())
                         if names is None or n in names)

    def checks_of(self, object_ids: set[str]) -> dict[str, str]:
        """The checks of these objects, by object id (each has exactly one)."""
        by_object = {spec.object_id: name for name, spec in self.specs.items()}
        assert object_ids <= set(by_object), sorted(object_ids - set(by_object))
        return {object_id: by_object[object_id] for object_id in object_ids}

    def before(self) -> dict[str, Outcome]:
        before, self.last = self.last, None  # a failing test leaves no baseline
        return before if before is not None else self.run()

    def broken(self, before: Mapping[str, Outcome], expected: set[str]) -> dict[str, Outcome]:
        """After a fault: exactly the checks of the expected objects turned non-OK, and nothing
        else changed; their results reach the store, first as a Sensu Go change, then repeated
        through Sensu classic, which counts them on the one message."""
        after = settle(self.run, self.run(),
                       not_ok(before) | set(self.checks_of(expected).values()))
        turned, healed = not_ok(after) - not_ok(before), not_ok(before) - not_ok(after)
        assert ({self.specs[n].object_id for n in turned}, healed) == (expected, set()), (
            f"expected non-OK: {sorted(expected)}\n{self.report(after, not_ok(after))}")
        for name in turned:
            match = NAGIOS_LINE.match(after[name].line)
            assert match and match["kind"] == self.specs[name].object_type.upper(), \
                self.report(after, {name})
            assert match["state"] == "CRITICAL", self.report(after, {name})
        self.faulted = {name: after[name] for name in turned}
        self.feed(self.sensu.go_event, self.faulted, changed=True)
        self.assert_store(self.faulted, count=1)
        again = settle(self.run, self.run(turned), turned)
        assert not_ok(again) == turned, self.report(again)
        self.feed(self.sensu.classic_event, again, changed=False)
        self.assert_store(again, count=2)
        return after

    def repaired(self, before: Mapping[str, Outcome]) -> None:
        """After a repair: the same checks are non-OK as before the fault, and the results of
        the repaired ones (Sensu classic resolutions) clear their messages."""
        after = settle(self.run, self.run(), not_ok(before))
        assert not_ok(after) == not_ok(before), self.report(after, not_ok(after))
        faulted, self.faulted = self.faulted, {}
        self.feed(self.sensu.classic_event, {name: after[name] for name in faulted},
                  changed=True)
        self.assert_store({}, count=0)
        recorded = {s["check"]: s for s in statuses(self.monitoring.store, ENVIRONMENT)}
        for name, outcome in faulted.items():
            severity = severity_of(outcome)
            trail = [h["status"] for h in recorded[name]["history"]]
            assert trail[-4:] == ["ok", severity, severity, "ok"], (name, trail)
            assert recorded[name]["since"] == recorded[name]["updated"]  # OK since the repair
            cleared = [m for m in messages(self.monitoring.store, ENVIRONMENT, check=name)
                       if m["severity"] == severity]
            assert cleared and all(m["state"] == "cleared" for m in cleared), cleared
            assert max(m["cleared_at"] for m in cleared) == recorded[name]["updated"]
        self.last = after

    def feed(self, event: Callable[[str], Doc], outcomes: Mapping[str, Outcome],
             changed: bool) -> None:
        """Hand the events of these checks' last results (outcomes) to the handler: each is
        recorded with the plugin's severity, as a change of the object's status or not."""
        reports = self.sensu.handle([event(name) for name in outcomes])
        for (name, outcome), report in zip(outcomes.items(), reports, strict=True):
            severity = severity_of(outcome)
            assert report == (f"recorded: {self.specs[name].object_id} {severity}"
                              f"{' (changed)' if changed else ''}, "
                              f"{0 if severity == 'ok' else 1} active message(s) for {name}")

    def assert_store(self, faulted: Mapping[str, Outcome], count: int) -> None:
        """The faulted checks' objects have the plugin's severity and one active message seen
        `count` times; every other object of the inventory that has a check is OK."""
        store = self.monitoring.store
        recorded = {s["check"]: s for s in statuses(store, ENVIRONMENT)}
        active = {}
        for message in messages(store, ENVIRONMENT, state="active"):
            assert message["check"] not in active, f"two active messages: {message}"
            active[message["check"]] = message
        assert set(active) == set(faulted), sorted(active)
        for name, spec in self.specs.items():
            status = recorded[name]
            assert (status["object_id"], status["object_type"]) == (spec.object_id,
                                                                   spec.object_type)
            if name not in faulted:
                assert status["status"] == "ok", status
                continue
            outcome = faulted[name]
            assert (status["status"], status["status_code"], status["output"]) == \
                (severity_of(outcome), outcome.returncode, outcome.line)
            message = active[name]
            assert (message["object_id"], message["severity"], message["count"],
                    message["message"]) == (spec.object_id, status["status"], count, outcome.line)
            assert message["first_seen"] <= message["last_seen"] == status["updated"]


def severity_of(outcome: Outcome) -> str:
    """The severity a plugin's Nagios line states, as the store names it."""
    match = NAGIOS_LINE.match(outcome.line)
    assert match, outcome.line
    return match["state"].lower()


@pytest.fixture(scope="module")
def fault_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with lab_of_its_own(FAULT_LAB, tmp_path_factory.mktemp("pchk")) as lab:
        yield lab


@pytest.fixture(scope="module")
def watch(fault_lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Watch:
    return Watch(fault_lab, monitor(fault_lab, tmp_path_factory.mktemp("store") / "inventory.db"))


def vm(description: dict, layout: str) -> tuple[dict, dict]:
    server = next(s for s in description["servers"] if s["layout"] == layout)
    return server, vm_port(description, server)


def host_of(description: dict, name: str) -> dict:
    return next(h for h in description["hosts"] if h["name"] == name)


def instances_on(description: dict, host: str,
                 where: Callable[[dict], bool] = lambda port: True) -> set[str]:
    """The instance objects of a host's VMs (those whose port matches `where`)."""
    return {s["id"] for s in description["servers"]
            if s["host"] == host and where(vm_port(description, s))}


def oteps(description: dict) -> set[str]:
    return {f"{h['name']}-otep-{h['tunnel_ip']}" for h in description["hosts"]}


# -- the tests, in order: each repairs its fault, but the last ----------------------------------

def test_fault_lab_starts_all_ok_and_every_first_result_is_recorded(watch):
    outcomes = watch.before()
    assert not not_ok(outcomes), watch.report(outcomes, not_ok(outcomes))
    # Sensu Go hands the handler the first result of every check.
    watch.feed(watch.sensu.go_event, outcomes, changed=True)
    watch.assert_store({}, count=0)
    assert messages(watch.monitoring.store, ENVIRONMENT) == []
    watch.last = outcomes


def test_deleted_qvo_port_fails_its_vnic_and_its_instance(fault_lab, watch):
    """The hybrid tap's check follows its qvo into br-int: without the qvo the VM is cut off,
    though its tap and qbr are fine."""
    description = watch.description
    server, port = vm(description, "ovs-hybrid")
    host, tap, qvo = server["host"], port["devices"]["tap"], port["devices"]["qvo"]
    vnic = f"{host}-{tap}"
    vnic_check = watch.checks_of({vnic})[vnic]
    argv = watch.commands[vnic_check].argv
    assert ("--ovs-port", qvo) in itertools.pairwise(argv), argv
    ns = fault_lab.host(host)
    before = watch.before()
    # Keep what it takes to plug the port back as the OVS agent had it.
    vlan = ovs_get(ns, "Port", qvo, "tag")
    external_ids = ovs_get(ns, "Interface", qvo, "external_ids")
    ns.run(["ovs-vsctl", "--timeout=5", "del-port", "br-int", qvo])
    try:
        after = watch.broken(before, {vnic, server["id"]})
        assert f"device {qvo} is not a port of any OVS bridge" in after[vnic_check].line
    finally:
        ns.run(["ovs-vsctl", "--timeout=5", "add-port", "br-int", qvo, f"tag={vlan}", "--",
                "set", "Interface", qvo, f"external_ids={external_ids}"])
    watch.repaired(before)


def ovs_get(ns: HostNamespaces, table: str, record: str, column: str) -> str:
    return ns.run(["ovs-vsctl", "--timeout=5", "get", table, record, column]).strip()


def test_linux_bridge_down_fails_its_vconnector_and_its_instances(fault_lab, watch):
    description = watch.description
    server, port = vm(description, "linuxbridge")
    host, brq = server["host"], port["devices"]["bridge"]
    vconnector = f"{host}-{brq}"
    ns = fault_lab.host(host)
    before = watch.before()
    ns.run(["ip", "link", "set", brq, "down"])
    try:
        after = watch.broken(before, {vconnector, *instances_on(
            description, host, lambda p: p["devices"]["bridge"] == brq)})
        assert "administratively down" in after[watch.checks_of({vconnector})[vconnector]].line
    finally:
        ns.run(["ip", "link", "set", brq, "up"])
    watch.repaired(before)


def test_removed_ovs_tunnel_port_cuts_the_host_vms_off_from_the_network_node(fault_lab, watch):
    """compute1 loses its br-tun port towards the controller: what the controller's DHCP
    namespaces send to compute1's VMs arrives on no port. The tunnel endpoints' checks ping
    over the underlay, which is fine: only the VMs' checks see it."""
    description = watch.description
    host = next(h for h in description["hosts"] if h["layout"] == "ovs-hybrid")
    controller = host_of(description, "controller")
    port = ovs.tunnel_port_name(controller["tunnel_ip"])
    ns = fault_lab.host(host["name"])
    before = watch.before()
    options = ovs_get(ns, "Interface", port, "options")
    ofport = ovs_get(ns, "Interface", port, "ofport")
    assert f'remote_ip="{controller["tunnel_ip"]}"' in options
    ns.run(["ovs-vsctl", "--timeout=5", "del-port", "br-tun", port])
    try:
        watch.broken(before, instances_on(description, host["name"]))
    finally:
        # br-tun's flows name the port by its OpenFlow number, which they keep after it goes:
        # it comes back under the same number.
        ns.run(["ovs-vsctl", "--timeout=5", "add-port", "br-tun", port, "--", "set",
                "Interface", port, "type=vxlan", f"options={options}",
                f"ofport_request={ofport}"])
    watch.repaired(before)


def test_removed_vxlan_device_fails_its_brq_and_the_network_vms_on_the_host(fault_lab, watch):
    """The Linux-bridge agent's vxlan-<vni> device of one network goes: its brq lacks it, and
    that network's VMs on the host are cut off; the host's other networks are fine."""
    description = watch.description
    server, port = vm(description, "linuxbridge")
    host, brq = server["host"], port["devices"]["bridge"]
    network = next(n for n in description["networks"] if n["id"] == port["network_id"])
    device = f"vxlan-{network['provider:segmentation_id']}"
    vconnector = f"{host}-{brq}"
    ns = fault_lab.host(host)
    before = watch.before()
    [link] = json.loads(ns.run(["ip", "-j", "-d", "link", "show", "dev", device]))
    flood = json.loads(ns.run(["bridge", "-j", "fdb", "show", "dev", device]))
    assert link["master"] == brq
    ns.run(["ip", "link", "delete", device])
    try:
        after = watch.broken(before, {vconnector, *instances_on(
            description, host, lambda p: p["network_id"] == network["id"])})
        assert f"lacks member {device}" in after[watch.checks_of({vconnector})[vconnector]].line
    finally:
        recreate_vxlan(ns, link, flood)
    watch.repaired(before)


def recreate_vxlan(ns: HostNamespaces, link: Doc, fdb: list[Doc]) -> None:
    """A vxlan device back as `ip -j -d link` showed it (its MAC too, which its bridge had
    taken), with its flood entries, in its bridge."""
    name, data = link["ifname"], link["linkinfo"]["info_data"]
    ns.run(["ip", "link", "add", name, "address", link["address"], "mtu", str(link["mtu"]),
            "type", "vxlan", "id", str(data["id"]), "dev", data["link"], "local", data["local"],
            "dstport", str(data["port"]), *([] if data["learning"] else ["nolearning"])])
    for entry in fdb:
        if "dst" in entry and "self" in entry["flags"]:
            ns.run(["bridge", "fdb", "append", entry["mac"], "dev", name, "dst", entry["dst"]])
    ns.run(["ip", "link", "set", name, "master", link["master"], "up"])


def test_tunnel_bridge_down_fails_every_tunnel_to_the_host_and_its_vms(fault_lab, watch):
    """compute1's tunnel IP lives on br-phy: with br-phy down, no tunnel endpoint reaches it
    (and it reaches none), and its VMs drop off the overlay."""
    description = watch.description
    host = host_of(description, "compute1")
    remotes = len(description["hosts"]) - 1
    ns = fault_lab.host(host["name"])
    before = watch.before()
    ns.run(["ip", "link", "set", "br-phy", "down"])
    try:
        after = watch.broken(before, oteps(description)
                             | instances_on(description, host["name"]))
    finally:
        ns.run(["ip", "link", "set", "br-phy", "up"])
    for object_id, name in watch.checks_of(oteps(description)).items():
        line = after[name].line
        if object_id.startswith(f"{host['name']}-"):  # all of its remotes
            assert f"0 of {remotes} remotes fine" in line, line
        else:  # only compute1
            assert f"{host['tunnel_ip']} unreachable" in line, line
            assert f"{remotes - 1} of {remotes} remotes fine" in line, line
    watch.repaired(before)


def test_killed_dnsmasq_fails_its_vservice_only(fault_lab, watch):
    """Its VMs still answer from the namespace: only the DHCP service's check sees it."""
    description = watch.description
    controller = "controller"
    network = next(n for n in description["networks"] if n["name"] == "web")
    vservice = f"{controller}-qdhcp-{network['id']}"
    pid_file = fault_lab.paths.host_dir(controller) / "dhcp" / network["id"] / "pid"
    pid = int(pid_file.read_text())
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    assert Path(cmdline[0]).name == "dnsmasq"
    ns = fault_lab.host(controller)
    before = watch.before()
    os.kill(pid, signal.SIGKILL)
    try:
        after = watch.broken(before, {vservice})
        assert "no dnsmasq process" in after[watch.checks_of({vservice})[vservice]].line
    finally:
        # dnsmasq as the DHCP agent ran it, in its namespace; it daemonises
        ns.in_netns(f"qdhcp-{network['id']}", cmdline)
    watch.repaired(before)


def test_results_for_a_removed_vm_are_reported_not_recorded(fault_lab, watch):
    """A VM deleted, the lab discovered and rendered again: its checks are gone and its bridge's
    check expects its tap no more. Until the agents get the new configuration they still run
    the old checks: the handler reports their results for objects no longer in the inventory
    and records nothing."""
    description = watch.description
    server, port = vm(description, "linuxbridge")
    host, tap, brq = server["host"], port["devices"]["tap"], port["devices"]["bridge"]
    gone_objects = {server["id"], f"{host}-{tap}"}
    old_commands, old_specs = watch.commands, watch.specs
    gone = set(watch.checks_of(gone_objects).values())
    before = watch.before()
    fault_lab.remove_vm(server["name"])
    watch.load(monitor(fault_lab, watch.monitoring.store_path))
    assert gone_objects.isdisjoint(watch.monitoring.objects)
    assert set(watch.commands) == set(old_commands) - gone
    changed = {name for name, command in watch.commands.items()
               if command != old_commands[name]}
    assert {watch.specs[name].object_id for name in changed} == {f"{host}-{brq}"}
    [bridge_check] = changed
    old_argv = old_commands[bridge_check].argv
    member = old_argv.index(tap)
    assert old_argv[member - 1] == "--member"
    assert watch.commands[bridge_check].argv == old_argv[:member - 1] + old_argv[member + 1:]

    stale = run_commands(fault_lab, {name: old_commands[name] for name in gone})
    assert not_ok(stale) == gone, stale
    watch.sensu.observe(stale)
    recorded = results_of(watch.monitoring.store)
    reports = watch.sensu.handle([watch.sensu.go_event(name) for name in gone])
    assert sorted(reports) == sorted(
        f"ignored: {old_specs[name].object_id} is not in the inventory of {ENVIRONMENT} "
        f"(check {name}, {severity_of(stale[name])})" for name in gone)
    assert results_of(watch.monitoring.store) == recorded
    after = watch.run()
    assert not not_ok(after), watch.report(after, not_ok(after))
    assert set(after) == set(before) - gone
    watch.last = after


def results_of(store: EmbeddedStore) -> tuple[list[Doc], list[Doc]]:
    """Every status and message recorded for the environment, in a stable order."""
    def key(doc: Doc) -> str:
        return json.dumps(doc, sort_keys=True)

    return (sorted(statuses(store, ENVIRONMENT), key=key),
            sorted(messages(store, ENVIRONMENT), key=key))


def test_killed_switch_daemon_fails_the_vedge_and_what_it_carries(fault_lab, watch):
    """Last (not repaired): compute2's ovs-vswitchd dies; its database still answers, so its
    ports are still configured, but no tunnel reaches compute2 and its VMs are cut off."""
    description = watch.description
    host = next(h for h in description["hosts"] if h["layout"] == "ovs-native")
    pid = int((fault_lab.paths.host_dir(host["name"]) / "ovs" / "ovs-vswitchd.pid").read_text())
    before = watch.before()
    os.kill(pid, signal.SIGKILL)
    after = watch.broken(before, {host["system_id"], *oteps(description),
                                  *instances_on(description, host["name"])})
    line = after[watch.checks_of({host["system_id"]})[host["system_id"]]].line
    assert "switch daemon (ovs-vswitchd) does not answer" in line, line
    assert "database (ovsdb-server) does not answer" not in line, line
