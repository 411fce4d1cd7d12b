"""Calipso's check plugins (roles/sensu_agent/files/plugins) against recorded command outputs.

Each plugin's check runs against a fake host (`FakeSystem`: recorded outputs of the commands it
runs, recorded /sys and /proc files), through the plugin's own `main`, so that the exact output
line, exit status and perfdata are what a Sensu agent would get. The recordings come from the lab
(iproute2 6.1, OVS 3.1, iputils) unless marked otherwise. Each plugin also runs once for real as a
subprocess of the hosts' Python: --help, a missing argument, a missing tool.
"""

from __future__ import annotations

import ast
import errno
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import STATES

PLUGINS = Path(__file__).resolve().parents[2] / "roles" / "sensu_agent" / "files" / "plugins"
HOST_PYTHON = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
NAMES = ("vedge", "vconnector", "vnic", "host_pnic", "otep", "vservice", "instance")
LINE = re.compile(r"^(?P<name>[A-Z_]+) (?P<state>OK|WARNING|CRITICAL|UNKNOWN) - "
                  r"(?P<message>[^|\n]+?)(?: \| (?P<perf>[^\n]+))?$")
PERF_ITEM = re.compile(r"^('[^']+'|[^ '=]+)=(-?[\d.]+[a-zA-Z%]*|U)(;[^; ]*){0,4}$")


def load(name: str):
    path = PLUGINS / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


common = load("calipso_check_common")
sys.modules.setdefault("calipso_check_common", common)
plugins = {name: load(f"check_{name}") for name in NAMES}
# Every plugin must use the very module the tests patch and fake against.
assert all(p.common is sys.modules["calipso_check_common"] for p in plugins.values())
common = sys.modules["calipso_check_common"]


class FakeSystem(common.System):
    """A host made of recordings: argv tuple -> (returncode, stdout, stderr), "missing" (the tool
    is not installed) or "timeout"; path -> text or an OSError to raise."""

    def __init__(self, commands=None, files=None):
        super().__init__(env={})
        self.commands = {tuple(k): v for k, v in (commands or {}).items()}
        self.files = files or {}
        self.ran = []

    def run(self, argv, timeout=common.QUICK_TIMEOUT):
        argv = tuple(argv)
        self.ran.append((argv, timeout))
        if argv not in self.commands:
            raise AssertionError(f"unexpected command {argv}")
        outcome = self.commands[argv]
        if outcome == "missing":
            raise common.ToolMissing(argv[0])
        if outcome == "timeout":
            return common.Completed(argv, None, "", "", True)
        returncode, stdout, stderr = outcome
        return common.Completed(argv, returncode, stdout, stderr)

    def read(self, path):
        if path not in self.files:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        content = self.files[path]
        if isinstance(content, OSError):
            raise content
        return content


def run(name, argv, system, capsys):
    """Run a plugin's main against a fake host: (exit status, output line, parsed line)."""
    status = plugins[name].main(argv, system=system)
    out = capsys.readouterr().out
    assert out.endswith("\n") and out.count("\n") == 1, repr(out)
    line = out[:-1]
    match = LINE.match(line)
    assert match, line
    assert match["name"] == plugins[name].NAME
    assert match["state"] == STATES[status]
    for item in (match["perf"] or "").split():
        assert PERF_ITEM.match(item), item
    return status, line


def ok(stdout="", stderr=""):
    return (0, stdout, stderr)


def fail(stderr, returncode=1, stdout=""):
    return (returncode, stdout, stderr)


# -- recordings -----------------------------------------------------------------------------------

OVS_SHOW = """57a8859b-d2eb-49c1-a023-b195220fd2b2
    Bridge br-int
        fail_mode: secure
        datapath_type: netdev
        Port br-int
            Interface br-int
                type: internal
        Port qvo84b098d7-33
            tag: 1
            Interface qvo84b098d7-33
    Bridge br-tun
        fail_mode: secure
        datapath_type: netdev
        Port br-tun
            Interface br-tun
                type: internal
    Bridge br-phy
        datapath_type: netdev
        Port eth1
            Interface eth1
    ovs_version: "3.1.0"
"""
OVS_VERSION = "ovs-vswitchd (Open vSwitch) 3.1.0\n"
OVS_DB_DOWN = ("ovs-vsctl: unix:/var/run/openvswitch/db.sock: database connection failed "
               "(No such file or directory)\n")
OVS_SWITCH_DOWN = ('2026-11-21T03:24:29Z|00001|daemon_unix|WARN|/run/ovs/ovs-vswitchd.pid: '
                   'open: No such file or directory\novs-appctl: cannot read pidfile '
                   '"/run/ovs/ovs-vswitchd.pid" (No such file or directory)\n')
# vppctl of VPP 21.01 (recorded on a VPP host, not in the lab).
VPP_VERSION = "vpp v21.01-release built by root on 2a2c9a8e6bd6 at 2021-01-27T17:00:34\n"
VPP_DOWN = "clib_socket_init: connect (fd 3, '/run/vpp/cli.sock'): No such file or directory\n"

QBR = "qbr84b098d7-33"
TAP = "tap84b098d7-33"
QVB = "qvb84b098d7-33"
QVO = "qvo84b098d7-33"


def link(name, kind=None, flags=("BROADCAST", "MULTICAST", "UP", "LOWER_UP"), operstate="UP",
         master=None):
    entry = {"ifindex": 8, "ifname": name, "flags": list(flags), "mtu": 1450,
             "qdisc": "noqueue", "operstate": operstate, "linkmode": "DEFAULT",
             "group": "default", "txqlen": 1000, "link_type": "ether",
             "address": "c2:5d:60:5f:41:35", "broadcast": "ff:ff:ff:ff:ff:ff"}
    if master:
        entry["master"] = master
    if kind:
        entry["linkinfo"] = {"info_kind": kind, "info_data": {"forward_delay": 0,
                                                              "stp_state": 0}}
    return entry


BRIDGE_DETAILS = json.dumps([link(QBR, "bridge")])
BRIDGE_MEMBERS = json.dumps([link(QVB, master=QBR), link(TAP, master=QBR)])
DEVICE_MISSING = f'Device "{QBR}" does not exist.\n'

PING_OK = """PING 10.242.1.13 (10.242.1.13) from 10.242.1.10 : 56(84) bytes of data.

--- 10.242.1.13 ping statistics ---
2 packets transmitted, 2 received, +1 duplicates, 0% packet loss, time 201ms
rtt min/avg/max/mdev = 0.130/0.208/0.283/0.062 ms
"""


def ping_output(remote, received, avg, count=2):
    loss = (count - received) * 100 // count
    text = (f"PING {remote} ({remote}) from 10.0.0.1 : 56(84) bytes of data.\n\n"
            f"--- {remote} ping statistics ---\n"
            f"{count} packets transmitted, {received} received, {loss}% packet loss, "
            "time 201ms\n")
    if received:
        text += f"rtt min/avg/max/mdev = 0.100/{avg}/9.000/0.050 ms\n"
    return text


# -- the common module ----------------------------------------------------------------------------

def test_perfdata_follows_the_nagios_format():
    perf = common.Perf
    assert perf("rtt_10.0.0.1", 0.208, "ms", "50", "200", 0).render() == \
        "rtt_10.0.0.1=0.208ms;50;200;0"
    assert perf("loss_10.0.0.1", 100.0, "%", minimum=0, maximum=100).render() == \
        "loss_10.0.0.1=100%;;;0;100"
    assert perf("members", 2, minimum=0).render() == "members=2;;;0"
    assert perf("speed", None, crit="1000:", minimum=0).render() == "speed=U;;1000:;0"
    assert perf("bridges", 3).render() == "bridges=3"
    assert perf("odd label", 1.5).render() == "'odd label'=1.5"
    assert common.format_number(0.1234567) == "0.123"
    assert common.format_number(12.0) == "12"


def test_output_is_one_line_with_perfdata_after_a_pipe():
    result = common.Result(common.WARNING, "two\nlines | and a pipe",
                           (common.Perf("a", 1), common.Perf("b", 2, "s")))
    assert common.render("X", result) == "X WARNING - two lines / and a pipe | a=1 b=2s"
    assert common.render("X", common.Result(common.OK, "fine")) == "X OK - fine"


def test_worst_state_ranks_critical_warning_unknown_ok():
    assert common.worst([common.OK, common.UNKNOWN, common.WARNING]) == common.WARNING
    assert common.worst([common.UNKNOWN, common.OK]) == common.UNKNOWN
    assert common.worst([common.WARNING, common.CRITICAL]) == common.CRITICAL
    assert common.worst([]) == common.OK


def test_ping_summaries_are_parsed():
    assert common.parse_ping(PING_OK) == common.PingStats(2, 2, 0.0, 0.208)
    lost = "2 packets transmitted, 0 received, +2 errors, 100% packet loss, time 1002ms\n"
    assert common.parse_ping(lost) == common.PingStats(2, 0, 100.0, None)
    busybox = ("2 packets transmitted, 1 packets received, 50% packet loss\n"
               "round-trip min/avg/max = 0.1/0.2/0.3 ms\n")
    assert common.parse_ping(busybox) == common.PingStats(2, 1, 50.0, 0.2)
    assert common.parse_ping("ping: bind: Cannot assign requested address") is None


def test_the_real_runner_uses_argv_the_c_locale_and_timeouts(tmp_path):
    system = common.System(env={"PATH": os.environ["PATH"], "LANG": "de_DE.UTF-8"})
    env = system.run(["env"])
    assert env.ok and "LC_ALL=C" in env.stdout.split() and "LANG=C" in env.stdout.split()
    # argv, not a shell: metacharacters arrive as they are.
    assert system.run(["echo", "$HOME; true"]).stdout == "$HOME; true\n"
    with pytest.raises(common.ToolMissing, match="no-such-tool not found"):
        system.run(["no-such-tool", "--version"])
    (tmp_path / "not-executable").write_text("#!/bin/sh\n")
    with pytest.raises(common.CheckError, match=r"cannot run .*not-executable: Permission denied"):
        system.run([str(tmp_path / "not-executable")])
    start = time.monotonic()
    slow = system.run(["sleep", "5"], timeout=0.2)
    assert slow.timed_out and not slow.ok and time.monotonic() - start < 2
    assert slow.error() == "no answer within the timeout"
    start = time.monotonic()
    results = system.run_all([["sleep", "0.4"]] * 3 + [["echo", "last"]])
    assert time.monotonic() - start < 1.1  # at once, not one after the other
    assert [r.ok for r in results] == [True] * 4 and results[-1].stdout == "last\n"
    (tmp_path / "f").write_text("1\n")
    assert system.read(str(tmp_path / "f")) == "1\n"


def test_an_unexpected_error_is_unknown_in_one_line(capsys):
    def broken(args, system):
        raise KeyError("surprise")

    status = common.main("X", common.Parser("X"), broken, [], FakeSystem())
    assert status == 3
    assert capsys.readouterr().out == "X UNKNOWN - internal error: KeyError: 'surprise'\n"


def test_malformed_json_is_unknown(capsys):
    system = FakeSystem({("ip", "-j", "-d", "link", "show", "dev", QBR): ok("[{not json")})
    status, line = run("vconnector", ["--bridge", QBR], system, capsys)
    assert status == 3
    assert line.startswith(f"VCONNECTOR UNKNOWN - malformed JSON from `ip -j -d link show dev "
                           f"{QBR}`")


# -- check_vedge ---------------------------------------------------------------------------------

OVS_DB = ("ovs-vsctl", "--timeout=2", "show")
OVS_SWITCH = ("ovs-appctl", "--timeout=2", "-t", "ovs-vswitchd", "version")


def test_vedge_ovs_ok_when_database_and_switch_answer(capsys):
    system = FakeSystem({OVS_DB: ok(OVS_SHOW), OVS_SWITCH: ok(OVS_VERSION)})
    status, line = run("vedge", ["--switch", "ovs"], system, capsys)
    assert (status, line) == (0, "VEDGE OK - ovs-vswitchd (Open vSwitch) 3.1.0: database and "
                                 "switch daemon answer, 3 bridges | bridges=3;;;0")
    # Both asked at once, each with a subprocess timeout under two seconds.
    assert {argv for argv, _ in system.ran} == {OVS_DB, OVS_SWITCH}
    assert all(timeout < 2 for _, timeout in system.ran)


DB_SAYS = "database (ovsdb-server) does not answer"
SWITCH_SAYS = "switch daemon (ovs-vswitchd) does not answer"


@pytest.mark.parametrize(("db", "switch", "text"), [
    (fail(OVS_DB_DOWN), ok(OVS_VERSION),
     f"{DB_SAYS}: ovs-vsctl: unix:/var/run/openvswitch/db.sock: database connection failed "
     "(No such file or directory)"),
    (ok(OVS_SHOW), fail(OVS_SWITCH_DOWN),
     f'{SWITCH_SAYS}: ovs-appctl: cannot read pidfile "/run/ovs/ovs-vswitchd.pid" (No such '
     "file or directory)"),
    (ok(OVS_SHOW), "timeout", f"{SWITCH_SAYS}: no answer within the timeout"),
    (fail(OVS_DB_DOWN), fail(OVS_SWITCH_DOWN),
     f"{DB_SAYS}: ovs-vsctl: unix:/var/run/openvswitch/db.sock: database connection failed "
     f'(No such file or directory); {SWITCH_SAYS}: ovs-appctl: cannot read pidfile '
     '"/run/ovs/ovs-vswitchd.pid" (No such file or directory)'),
])
def test_vedge_ovs_critical_names_the_part_that_is_down(capsys, db, switch, text):
    system = FakeSystem({OVS_DB: db, OVS_SWITCH: switch})
    assert run("vedge", ["--switch", "ovs"], system, capsys) == (2, "VEDGE CRITICAL - OVS " + text)


def test_vedge_ovs_unknown_without_ovs_tools(capsys):
    system = FakeSystem({OVS_DB: "missing", OVS_SWITCH: ok(OVS_VERSION)})
    assert run("vedge", ["--switch", "ovs"], system, capsys) == (
        3, "VEDGE UNKNOWN - ovs-vsctl not found: install it or fix PATH")


@pytest.mark.parametrize(("outcome", "status", "text"), [
    (ok(VPP_VERSION), 0, "VEDGE OK - VPP v21.01-release answers"),
    (fail(VPP_DOWN), 2, "VEDGE CRITICAL - VPP does not answer: clib_socket_init: connect "
                        "(fd 3, '/run/vpp/cli.sock'): No such file or directory"),
    # Older vppctl exit 0 after failing to connect: no version line, no answer.
    (ok(VPP_DOWN), 2, "VEDGE CRITICAL - VPP does not answer: no version in `vppctl show "
                      "version`"),
    ("timeout", 2, "VEDGE CRITICAL - VPP does not answer: no answer within the timeout"),
    (fail("clib_socket_init: connect (fd 3, '/run/vpp/cli.sock'): Permission denied\n"), 3,
     "VEDGE UNKNOWN - vppctl cannot reach VPP's CLI socket: permission denied"),
    ("missing", 3, "VEDGE UNKNOWN - vppctl not found: install it or fix PATH"),
])
def test_vedge_vpp(capsys, outcome, status, text):
    system = FakeSystem({("vppctl", "show", "version"): outcome})
    assert run("vedge", ["--switch", "vpp"], system, capsys) == (status, text)


# -- check_vconnector ----------------------------------------------------------------------------

def vconnector_system(details=BRIDGE_DETAILS, members=BRIDGE_MEMBERS):
    """details: the bridge's JSON (or a failure); members: the JSON of its members."""
    return FakeSystem({
        ("ip", "-j", "-d", "link", "show", "dev", QBR):
            details if isinstance(details, tuple) else ok(details),
        ("ip", "-j", "link", "show", "master", QBR): ok(members)})


def test_vconnector_ok_with_every_member(capsys):
    status, line = run("vconnector", ["--bridge", QBR, "--member", TAP, "--member", QVB],
                       vconnector_system(), capsys)
    assert (status, line) == (0, f"VCONNECTOR OK - bridge {QBR} is up with 2 members (all 2 "
                                 "expected present) | members=2;;;0")


def test_vconnector_ok_without_expected_members_and_empty_bridge(capsys):
    status, line = run("vconnector", ["--bridge", QBR], vconnector_system(members=""), capsys)
    assert (status, line) == (0, f"VCONNECTOR OK - bridge {QBR} is up with 0 members | "
                                 "members=0;;;0")


@pytest.mark.parametrize(("details", "members", "args", "text"), [
    (BRIDGE_DETAILS, json.dumps([link(QVB, master=QBR)]), ["--member", TAP, "--member", QVB],
     f"bridge {QBR} lacks member {TAP} (has {QVB}) | members=1;;;0"),
    (BRIDGE_DETAILS, "[]", ["--member", TAP, "--member", QVB],
     f"bridge {QBR} lacks members {TAP}, {QVB} (has none) | members=0;;;0"),
    (fail(DEVICE_MISSING), None, [], f"bridge {QBR} does not exist"),
    (json.dumps([link(QBR, "tun")]), None, [], f"{QBR} is a tun device, not a Linux bridge"),
    (json.dumps([link(QBR)]), None, [], f"{QBR} is a device of no particular kind, not a "
                                        "Linux bridge"),
    (json.dumps([link(QBR, "bridge", flags=("BROADCAST", "MULTICAST"), operstate="DOWN")]),
     BRIDGE_MEMBERS, [], f"bridge {QBR} is administratively down | members=2;;;0"),
    (json.dumps([link(QBR, "bridge", flags=("NO-CARRIER", "BROADCAST", "MULTICAST", "UP"),
                      operstate="DOWN")]), "", [],
     f"bridge {QBR} is without carrier (operstate DOWN) | members=0;;;0"),
])
def test_vconnector_critical(capsys, details, members, args, text):
    system = vconnector_system(details, members)
    status, line = run("vconnector", ["--bridge", QBR, *args], system, capsys)
    assert (status, line) == (2, "VCONNECTOR CRITICAL - " + text)


def test_vconnector_warning_when_a_member_is_down(capsys):
    members = json.dumps([link(QVB, master=QBR),
                          link(TAP, master=QBR, flags=("BROADCAST", "MULTICAST"),
                               operstate="DOWN")])
    status, line = run("vconnector", ["--bridge", QBR, "--member", TAP, "--member", QVB],
                       vconnector_system(members=members), capsys)
    assert (status, line) == (1, f"VCONNECTOR WARNING - bridge {QBR} is up but {TAP} is "
                                 "administratively down | members=2;;;0")


def test_vconnector_unknown_without_ip(capsys):
    system = FakeSystem({("ip", "-j", "-d", "link", "show", "dev", QBR): "missing"})
    assert run("vconnector", ["--bridge", QBR], system, capsys) == (
        3, "VCONNECTOR UNKNOWN - ip not found: install it or fix PATH")


# -- check_vnic ----------------------------------------------------------------------------------

def vnic_system(device, shown, port_to_br=None, tag=None):
    commands = {("ip", "-j", "link", "show", "dev", device): shown}
    if port_to_br is not None:
        commands[("ovs-vsctl", "--timeout=2", "port-to-br", device)] = port_to_br
    if tag is not None:
        commands[("ovs-vsctl", "--timeout=2", "get", "Port", device, "tag")] = tag
    return FakeSystem(commands)


def test_vnic_ok_on_its_linux_bridge(capsys):
    system = vnic_system(TAP, ok(json.dumps([link(TAP, master=QBR)])))
    assert run("vnic", ["--device", TAP, "--bridge", QBR], system, capsys) == (
        0, f"VNIC OK - {TAP} is up on bridge {QBR}")


def test_vnic_ok_on_its_ovs_bridge_with_its_tag(capsys):
    system = vnic_system(QVO, ok(json.dumps([link(QVO)])), ok("br-int\n"), ok("1\n"))
    assert run("vnic", ["--device", QVO, "--ovs-bridge", "br-int", "--tag", "1"], system,
               capsys) == (0, f"VNIC OK - {QVO} is up on OVS bridge br-int with tag 1")
    assert all(timeout < 2 for _, timeout in system.ran)


def hybrid_system(tap_shown, qvo_shown, port_to_br=None, tag=None):
    """A hybrid plug: the tap on its qbr, and the qvo (its traffic's way into OVS) on br-int."""
    system = vnic_system(QVO, qvo_shown, port_to_br, tag)
    system.commands[("ip", "-j", "link", "show", "dev", TAP)] = tap_shown
    return system


HYBRID_ARGS = ["--device", TAP, "--bridge", QBR, "--ovs-port", QVO, "--ovs-bridge", "br-int",
               "--tag", "1"]


def test_vnic_ok_through_a_hybrid_plug(capsys):
    system = hybrid_system(ok(json.dumps([link(TAP, master=QBR)])), ok(json.dumps([link(QVO)])),
                           ok("br-int\n"), ok("1\n"))
    assert run("vnic", HYBRID_ARGS, system, capsys) == (
        0, f"VNIC OK - {TAP} is up on bridge {QBR} through {QVO}, up, on OVS bridge br-int "
           "with tag 1")


@pytest.mark.parametrize(("qvo_shown", "port_to_br", "tag", "text"), [
    (fail(f'Device "{QVO}" does not exist.\n'), None, None, f"device {QVO} does not exist"),
    (ok(json.dumps([link(QVO, flags=("BROADCAST", "MULTICAST"), operstate="DOWN")])), None,
     None, f"device {QVO} is administratively down"),
    (ok(json.dumps([link(QVO)])), fail(f"ovs-vsctl: no port named {QVO}\n"), None,
     f"device {QVO} is not a port of any OVS bridge, expected on br-int"),
    (ok(json.dumps([link(QVO)])), ok("br-int\n"), ok("4\n"),
     f"OVS port {QVO} on br-int has VLAN tag 4, expected 1"),
])
def test_vnic_critical_when_a_hybrid_plugs_qvo_fails(capsys, qvo_shown, port_to_br, tag, text):
    system = hybrid_system(ok(json.dumps([link(TAP, master=QBR)])), qvo_shown, port_to_br, tag)
    assert run("vnic", HYBRID_ARGS, system, capsys) == (2, "VNIC CRITICAL - " + text)


def test_vnic_ok_device_only_and_unknown_operstate(capsys):
    system = vnic_system("vxlan-1003", ok(json.dumps([link("vxlan-1003",
                                                           operstate="UNKNOWN")])))
    assert run("vnic", ["--device", "vxlan-1003"], system, capsys) == (
        0, "VNIC OK - vxlan-1003 is up")


@pytest.mark.parametrize(("shown", "port_to_br", "tag", "args", "text"), [
    (fail(f'Device "{QVO}" does not exist.\n'), None, None, [], f"device {QVO} does not exist"),
    (ok(json.dumps([link(QVO, flags=("BROADCAST", "MULTICAST"), operstate="DOWN")])), None,
     None, [], f"device {QVO} is administratively down"),
    (ok(json.dumps([link(QVO, flags=("NO-CARRIER", "BROADCAST", "UP"),
                         operstate="LOWERLAYERDOWN")])), None, None, [],
     f"device {QVO} has no carrier (operstate LOWERLAYERDOWN)"),
    (ok(json.dumps([link(TAP, master="qbrother")])), None, None, ["--bridge", QBR],
     f"device {TAP} is on bridge qbrother, expected on bridge {QBR}"),
    (ok(json.dumps([link(TAP)])), None, None, ["--bridge", QBR],
     f"device {TAP} is on no bridge, expected on bridge {QBR}"),
    (ok(json.dumps([link(QVO)])), fail(f"ovs-vsctl: no port named {QVO}\n"), None,
     ["--ovs-bridge", "br-int"], f"device {QVO} is not a port of any OVS bridge, expected on "
                                 "br-int"),
    (ok(json.dumps([link(QVO)])), ok("br-tun\n"), None, ["--ovs-bridge", "br-int"],
     f"device {QVO} is a port of OVS bridge br-tun, expected br-int"),
    (ok(json.dumps([link(QVO)])), ok("br-int\n"), ok("2\n"),
     ["--ovs-bridge", "br-int", "--tag", "1"],
     f"OVS port {QVO} on br-int has VLAN tag 2, expected 1"),
    (ok(json.dumps([link(QVO)])), ok("br-int\n"), ok("[]\n"),
     ["--ovs-bridge", "br-int", "--tag", "1"],
     f"OVS port {QVO} on br-int has no VLAN tag, expected 1"),
])
def test_vnic_critical(capsys, shown, port_to_br, tag, args, text):
    device = TAP if "--bridge" in args else QVO
    system = vnic_system(device, shown, port_to_br, tag)
    status, line = run("vnic", ["--device", device, *args], system, capsys)
    assert (status, line) == (2, "VNIC CRITICAL - " + text)


@pytest.mark.parametrize(("shown", "port_to_br", "args", "text"), [
    (ok(json.dumps([link(QVO)])), fail(OVS_DB_DOWN), ["--ovs-bridge", "br-int"],
     f"`ovs-vsctl --timeout=2 port-to-br {QVO}` failed (OVS database): ovs-vsctl: "
     "unix:/var/run/openvswitch/db.sock: database connection failed (No such file or "
     "directory)"),
    (ok(json.dumps([link(QVO)])), "missing", ["--ovs-bridge", "br-int"],
     "ovs-vsctl not found: install it or fix PATH"),
    (ok("{]"), None, [], f"malformed JSON from `ip -j link show dev {QVO}`: "),
    (None, None, ["--tag", "1"], "usage: --tag needs --ovs-bridge"),
    (None, None, ["--ovs-port", QVO], "usage: --ovs-port needs --ovs-bridge"),
])
def test_vnic_unknown(capsys, shown, port_to_br, args, text):
    system = vnic_system(QVO, shown, port_to_br)
    status, line = run("vnic", ["--device", QVO, *args], system, capsys)
    assert status == 3 and line.startswith("VNIC UNKNOWN - " + text), line


# -- check_host_pnic -----------------------------------------------------------------------------

def nic_files(device="eth0", carrier="1\n", operstate="up\n", speed="10000\n", duplex="full\n"):
    base = f"/sys/class/net/{device}/"
    return {base + "carrier": carrier, base + "operstate": operstate, base + "speed": speed,
            base + "duplex": duplex}


EINVAL = OSError(errno.EINVAL, "Invalid argument")


@pytest.mark.parametrize(("files", "args", "status", "text"), [
    (nic_files(), [], 0, "NIC eth0 is up (carrier, operstate up), 10000 Mb/s full duplex | "
                         "speed=10000;;;0"),
    (nic_files(), ["--min-speed", "1000"], 0,
     "NIC eth0 is up (carrier, operstate up), 10000 Mb/s full duplex | speed=10000;;1000:;0"),
    # Virtual NICs report speed -1 (or refuse to): fine unless a minimum is asked for.
    (nic_files(speed="-1\n", duplex="unknown\n"), [], 0,
     "NIC eth0 is up (carrier, operstate up), unknown speed | speed=U;;;0"),
    (nic_files(speed=EINVAL, operstate="unknown\n"), [], 0,
     "NIC eth0 is up (carrier, operstate unknown), unknown speed full duplex | speed=U;;;0"),
    (nic_files(speed="-1\n"), ["--min-speed", "1000"], 1,
     "NIC eth0 is up, speed unknown (expected at least 1000 Mb/s) | speed=U;;1000:;0"),
    (nic_files(operstate="dormant\n"), [], 1,
     "NIC eth0 has carrier but operstate dormant, 10000 Mb/s full duplex | speed=10000;;;0"),
    (nic_files(speed="1000\n"), ["--min-speed", "10000"], 2,
     "NIC eth0 is up at 1000 Mb/s, below 10000 Mb/s | speed=1000;;10000:;0"),
    (nic_files(carrier="0\n", operstate="down\n", speed="-1\n"), [], 2,
     "NIC eth0 has no carrier (operstate down) | speed=U;;;0"),
    # The kernel refuses to read the carrier of an administratively down NIC.
    (nic_files(carrier=EINVAL, operstate="down\n", speed=EINVAL), [], 2,
     "NIC eth0 is down (no carrier, operstate down) | speed=U;;;0"),
    ({}, [], 2, "NIC eth0 does not exist"),
    (nic_files(carrier=PermissionError(errno.EACCES, "Permission denied")), [], 3,
     "cannot read carrier of eth0: Permission denied"),
])
def test_host_pnic(capsys, files, args, status, text):
    system = FakeSystem(files=files)
    got_status, line = run("host_pnic", ["--device", "eth0", *args], system, capsys)
    assert (got_status, line) == (status, f"HOST_PNIC {STATES[status]} - {text}")
    assert system.ran == []  # files only


# -- check_otep ----------------------------------------------------------------------------------

LOCAL = "10.242.1.10"
REMOTES = ("10.242.1.11", "10.242.1.12")


def ping_argv(remote, count=2):
    return ("ping", "-n", "-q", "-c", str(count), "-i", "0.2", "-W", "1", "-I", LOCAL, remote)


def otep_args(*extra):
    return ["--local-ip", LOCAL, *[a for r in REMOTES for a in ("--remote", r)], *extra]


def test_otep_ok_with_perfdata_per_remote(capsys):
    system = FakeSystem({ping_argv(REMOTES[0]): ok(ping_output(REMOTES[0], 2, "0.208")),
                         ping_argv(REMOTES[1]): ok(ping_output(REMOTES[1], 2, "1.5"))})
    status, line = run("otep", otep_args(), system, capsys)
    assert (status, line) == (0, (
        f"OTEP OK - 2 remotes reachable from {LOCAL}, rtt avg max 1.5 ms | "
        "rtt_10.242.1.11=0.208ms;50;200;0 loss_10.242.1.11=0%;;;0;100 "
        "rtt_10.242.1.12=1.5ms;50;200;0 loss_10.242.1.12=0%;;;0;100"))
    # One ping per remote, with a subprocess timeout that lets -W 1 expire but stays < 2 s.
    assert sorted(argv for argv, _ in system.ran) == [ping_argv(r) for r in REMOTES]
    assert all(1.2 < timeout < 2 for _, timeout in system.ran)


def test_otep_pings_remotes_at_once():
    class SlowPings(FakeSystem):
        def run(self, argv, timeout=1.0):
            time.sleep(0.3)
            return super().run(argv, timeout)

    remotes = [f"10.0.0.{i}" for i in range(2, 8)]
    system = SlowPings({("ping", "-n", "-q", "-c", "2", "-i", "0.2", "-W", "1", "-I",
                         "10.0.0.1", r): ok(ping_output(r, 2, "0.3")) for r in remotes})
    args = plugins["otep"].parser().parse_args(
        ["--local-ip", "10.0.0.1", *[a for r in remotes for a in ("--remote", r)]])
    start = time.monotonic()
    result = plugins["otep"].check(args, system)
    assert result.state == common.OK and time.monotonic() - start < 1.0


@pytest.mark.parametrize(("outcomes", "extra", "status", "message", "perf"), [
    ((ok(ping_output(REMOTES[0], 1, "0.5")), ok(ping_output(REMOTES[1], 2, "0.4"))), [], 1,
     "10.242.1.11 loses 50% (rtt 0.5 ms); 1 of 2 remotes fine (from 10.242.1.10)",
     "rtt_10.242.1.11=0.5ms;50;200;0 loss_10.242.1.11=50%;;;0;100"),
    ((ok(ping_output(REMOTES[0], 2, "75.25")), ok(ping_output(REMOTES[1], 2, "0.4"))), [], 1,
     "10.242.1.11 rtt 75.25 ms > 50 ms; 1 of 2 remotes fine (from 10.242.1.10)",
     "rtt_10.242.1.11=75.25ms;50;200;0"),
    ((ok(ping_output(REMOTES[0], 2, "3")), ok(ping_output(REMOTES[1], 2, "0.4"))),
     ["--warning-ms", "1", "--critical-ms", "2.5"], 2,
     "10.242.1.11 rtt 3 ms > 2.5 ms; 1 of 2 remotes fine (from 10.242.1.10)",
     "rtt_10.242.1.11=3ms;1;2.5;0"),
    (((1, ping_output(REMOTES[0], 0, None), ""), ok(ping_output(REMOTES[1], 1, "0.4"))), [], 2,
     "10.242.1.11 unreachable (100% loss); 10.242.1.12 loses 50% (rtt 0.4 ms); "
     "0 of 2 remotes fine (from 10.242.1.10)",
     "rtt_10.242.1.11=U;50;200;0 loss_10.242.1.11=100%;;;0;100"),
    ((fail("ping: connect: Network is unreachable\n", 2), ok(ping_output(REMOTES[1], 2, "1"))),
     [], 2, "10.242.1.11 unreachable (ping: connect: Network is unreachable); 1 of 2 remotes "
     "fine (from 10.242.1.10)", "rtt_10.242.1.11=U;50;200;0 loss_10.242.1.11=100%;;;0;100"),
    (("timeout", ok(ping_output(REMOTES[1], 2, "1"))), [], 2,
     "10.242.1.11 unreachable (no answer within the timeout); 1 of 2 remotes fine", ""),
])
def test_otep_warning_and_critical(capsys, outcomes, extra, status, message, perf):
    system = FakeSystem({ping_argv(r): o for r, o in zip(REMOTES, outcomes, strict=True)})
    got_status, line = run("otep", otep_args(*extra), system, capsys)
    assert got_status == status, line
    assert line.startswith(f"OTEP {STATES[status]} - {message}"), line
    assert perf in line


@pytest.mark.parametrize(("outcome", "extra", "text"), [
    ("missing", [], "ping not found: install it or fix PATH"),
    (ok("garbage\n"), [], "no summary in ping's output for 10.242.1.11: garbage"),
    (None, ["--warning-ms", "300"], "usage: --warning-ms 300 is above --critical-ms 200"),
])
def test_otep_unknown(capsys, outcome, extra, text):
    system = FakeSystem({ping_argv(r): outcome or ok(PING_OK) for r in REMOTES})
    assert run("otep", otep_args(*extra), system, capsys) == (3, "OTEP UNKNOWN - " + text)


def test_otep_count_and_duplicate_remotes(capsys):
    system = FakeSystem({ping_argv(REMOTES[0], 5): ok(ping_output(REMOTES[0], 5, "0.2", 5))})
    status, line = run("otep", ["--local-ip", LOCAL, "--remote", REMOTES[0], "--remote",
                                REMOTES[0], "--count", "5"], system, capsys)
    assert status == 0 and line.count("rtt_") == 1
    assert system.ran[0][1] > 1.8  # a longer run gets a longer timeout


# -- check_vservice ------------------------------------------------------------------------------

QDHCP = "qdhcp-e61b8bb4-ffda-5227-95d6-a1358d9e86d8"
NETNS_LIST = (f"qdhcp-5460c98e-43be-53b0-8109-d1c0b610169a (id: 3)\n"
              f"qrouter-e617ace9-b2b5-5574-8ddb-61bd2793883a (id: 5)\n{QDHCP} (id: 1)\n")


def vservice_system(listing=NETNS_LIST, pids="15938\n", comms=None):
    return FakeSystem({("ip", "netns", "list"): listing if listing == "missing" else ok(listing),
                       ("ip", "netns", "pids", QDHCP): ok(pids)},
                      comms if comms is not None else {"/proc/15938/comm": "dnsmasq\n"})


@pytest.mark.parametrize(("system", "args", "status", "text"), [
    (vservice_system(), [], 0, f"namespace {QDHCP} exists"),
    (vservice_system(listing=f"{QDHCP}\n"), [], 0, f"namespace {QDHCP} exists"),
    (vservice_system(), ["--process", "dnsmasq"], 0,
     f"namespace {QDHCP} exists, dnsmasq runs in it (pid 15938) | processes=1;;;0"),
    # A process that ended between the listing and the read is skipped.
    (vservice_system(pids="15938\n15999\n"), ["--process", "dnsmasq"], 0,
     f"namespace {QDHCP} exists, dnsmasq runs in it (pid 15938) | processes=1;;;0"),
    (vservice_system(listing="qrouter-x (id: 5)\n"), ["--process", "dnsmasq"], 2,
     f"namespace {QDHCP} does not exist"),
    (vservice_system(pids=""), ["--process", "dnsmasq"], 2,
     f"no dnsmasq process runs in namespace {QDHCP} (0 other processes) | processes=0;;;0"),
    (vservice_system(comms={"/proc/15938/comm": "sleep\n"}), ["--process", "dnsmasq"], 2,
     f"no dnsmasq process runs in namespace {QDHCP} (1 other process) | processes=0;;;0"),
    (vservice_system(listing="missing"), [], 3, "ip not found: install it or fix PATH"),
    (vservice_system(pids="not a pid\n"), ["--process", "dnsmasq"], 3,
     f"unexpected output of `ip netns pids {QDHCP}`"),
])
def test_vservice(capsys, system, args, status, text):
    assert run("vservice", ["--namespace", QDHCP, *args], system, capsys) == (
        status, f"VSERVICE {STATES[status]} - {text}")


def test_vservice_compares_the_kernels_15_character_process_name(capsys):
    system = vservice_system(comms={"/proc/15938/comm": "neutron-keepali\n"})
    status, _ = run("vservice", ["--namespace", QDHCP, "--process", "neutron-keepalived-state"],
                    system, capsys)
    assert status == 0


# -- check_instance ------------------------------------------------------------------------------

IP = "10.10.1.11"
MAC = "fa:16:3e:51:48:c4"
INSTANCE_PING = ("ip", "netns", "exec", QDHCP, "ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", IP)
NEIGH = ("ip", "netns", "exec", QDHCP, "ip", "-j", "neigh", "show", IP)
PING_VM = """PING 10.10.1.11 (10.10.1.11) 56(84) bytes of data.
64 bytes from 10.10.1.11: icmp_seq=1 ttl=64 time=1.25 ms
64 bytes from 10.10.1.11: icmp_seq=2 ttl=64 time=0.555 ms

--- 10.10.1.11 ping statistics ---
2 packets transmitted, 2 received, 0% packet loss, time 201ms
rtt min/avg/max/mdev = 0.555/0.903/1.251/0.348 ms
"""


def neigh(mac=MAC, state="REACHABLE"):
    entry = {"dst": IP, "dev": "tap626246b2-d7", "state": [state]}
    if mac:
        entry["lladdr"] = mac
    return ok(json.dumps([entry]))


@pytest.mark.parametrize(("ping", "neighbour", "mac", "status", "text"), [
    (ok(PING_VM), neigh(), MAC.upper(), 0,
     f"{IP} answers from MAC {MAC} in {QDHCP}, rtt 0.903 ms | rtt=0.903ms;;;0 loss=0%;;;0;100"),
    (ok(ping_output(IP, 1, "0.7")), neigh(), MAC, 1,
     f"{IP} answers from MAC {MAC} in {QDHCP} but loses 50% loss, rtt 0.7 ms | "
     "rtt=0.7ms;;;0 loss=50%;;;0;100"),
    (ok(PING_VM), neigh("fa:16:3e:00:00:01"), MAC, 2,
     f"{IP} answers from MAC fa:16:3e:00:00:01, expected {MAC} (another port has the IP?) | "
     "rtt=0.903ms;;;0 loss=0%;;;0;100"),
    ((1, ping_output(IP, 0, None), ""), neigh(None, "INCOMPLETE"), MAC, 2,
     f"{IP} (MAC {MAC}) does not answer from {QDHCP} (100% loss) | rtt=U;;;0 "
     "loss=100%;;;0;100"),
    # A stale entry of the right MAC does not make an instance that does not answer OK.
    ((1, ping_output(IP, 0, None), ""), neigh(MAC, "STALE"), MAC, 2,
     f"{IP} (MAC {MAC}) does not answer from {QDHCP} (100% loss)"),
    (ok(PING_VM), ok("[]"), MAC, 3,
     f"{IP} answers but {QDHCP} has no neighbour entry for it to compare with {MAC}"),
    (ok(PING_VM), ok("[{"), MAC, 3, f"malformed JSON from `{' '.join(NEIGH)}`"),
    (fail(f'Cannot open network namespace "{QDHCP}": No such file or directory\n', 255), None,
     MAC, 3, f"namespace {QDHCP} does not exist on this host"),
    ("missing", None, MAC, 3, "ip not found: install it or fix PATH"),
])
def test_instance(capsys, ping, neighbour, mac, status, text):
    system = FakeSystem({INSTANCE_PING: ping, NEIGH: neighbour})
    got_status, line = run("instance", ["--namespace", QDHCP, "--ip", IP, "--mac", mac], system,
                           capsys)
    assert got_status == status, line
    assert line.startswith(f"INSTANCE {STATES[status]} - {text}"), line


# -- the plugins as programs ---------------------------------------------------------------------

def run_program(name, *args, env=None, cwd=None):
    return subprocess.run([HOST_PYTHON, str(PLUGINS / f"check_{name}.py"), *args],
                          capture_output=True, text=True, timeout=30, env=env, cwd=cwd,
                          check=False)


REQUIRED = {"vedge": "--switch", "vconnector": "--bridge", "vnic": "--device",
            "host_pnic": "--device", "otep": "--local-ip", "vservice": "--namespace",
            "instance": "--namespace"}


@pytest.mark.parametrize("name", NAMES)
def test_plugin_help_and_missing_argument_exit_unknown(name, tmp_path):
    helped = run_program(name, "--help", cwd=tmp_path)  # from anywhere: finds its own helper
    assert helped.returncode == 3, helped.stderr
    assert helped.stdout.startswith(f"usage: check_{name}.py")
    assert REQUIRED[name] in helped.stdout
    missing = run_program(name, cwd=tmp_path)
    assert missing.returncode == 3
    assert re.fullmatch(rf"{plugins[name].NAME} UNKNOWN - usage: the following arguments are "
                        rf"required: .*{REQUIRED[name]}.*\n", missing.stdout), missing.stdout
    assert "usage:" in missing.stderr


@pytest.mark.parametrize(("name", "args", "complaint"), [
    ("vedge", ["--switch", "linuxbridge"], "argument --switch: invalid choice"),
    ("otep", ["--local-ip", "10.0.0.1", "--remote", "10.0.0.300"], "not an IP address"),
    ("otep", ["--local-ip", "10.0.0.1", "--remote", "10.0.0.2", "--count", "0"],
     "must be 1 or more"),
    ("instance", ["--namespace", "qdhcp-x", "--ip", "10.0.0.1", "--mac", "fa:16:3e"],
     "not a MAC address"),
    ("vnic", ["--device", "../../etc"], "not a valid name"),
    ("host_pnic", ["--device", "eth0", "--min-speed", "fast"], "not an integer"),
])
def test_bad_arguments_exit_unknown(name, args, complaint):
    proc = run_program(name, *args)
    assert proc.returncode == 3
    assert proc.stdout.startswith(f"{plugins[name].NAME} UNKNOWN - usage: ")
    assert complaint in proc.stdout


def test_a_missing_tool_is_unknown_for_real():
    proc = run_program("vedge", "--switch", "vpp", env={"PATH": "/nonexistent"})
    assert (proc.returncode, proc.stdout) == (
        3, "VEDGE UNKNOWN - vppctl not found: install it or fix PATH\n")


def test_a_real_check_runs_fast_on_this_machine():
    start = time.monotonic()
    proc = run_program("host_pnic", "--device", "lo")
    assert time.monotonic() - start < 2
    assert proc.returncode == 0 and proc.stdout.startswith("HOST_PNIC OK - NIC lo is up"), \
        proc.stdout


@pytest.mark.parametrize("path", sorted(PLUGINS.glob("*.py")), ids=lambda p: p.name)
def test_plugins_are_python38_stdlib_only_and_not_shell(path):
    source = path.read_text()
    tree = ast.parse(source, feature_version=(3, 8))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
        elif isinstance(node, ast.keyword):
            assert node.arg != "shell", f"{path.name}: shell= in a subprocess call"
    assert imported - {"calipso_check_common"} <= sys.stdlib_module_names, imported
    assert "os.system" not in source and "os.popen" not in source
    if path.name.startswith("check_"):
        assert "from __future__ import annotations" in source
