"""The monitoring model: one check per monitored object, derived from the inventory.

Each check calls a Calipso plugin (installed on every host under `plugin_dir`) with arguments
read from the object and its links, runs on the agent of the host that can see the object
(subscription `calipso-host-<host>`), and reports under a proxy entity of its own, so that every
object has its own status in Sensu and the results handler (`calipso-sensu-handler`) knows which
object a result is about from the labels `calipso_object_id`, `calipso_object_type`,
`calipso_environment` and `calipso_host` (the object's host).

Monitored types and their plugins:
    vedge       check_vedge.py --switch ovs|vpp
    vconnector  check_vconnector.py --bridge NAME [--member DEV]...   (Linux bridges only)
    vnic        check_vnic.py --device TAP --bridge BRIDGE             (Linux-bridge agent)
                check_vnic.py --device TAP --bridge QBR --ovs-port QVO --ovs-bridge BR [--tag N]
                                                                       (OVS hybrid plug)
                check_vnic.py --device TAP --ovs-bridge BR [--tag N]   (OVS native)
                (instance side only: a vservice's vnics are covered by the vservice's check)
    host_pnic   check_host_pnic.py --device NAME
    otep        check_otep.py --local-ip IP --remote IP [--remote IP]... --warning-ms W
                --critical-ms C
    vservice    check_vservice.py --namespace NS [--process dnsmasq]
    instance    check_instance.py --namespace qdhcp-<net> --ip IP --mac MAC  (on the host that
                serves the network's DHCP: it reaches the VM from inside that namespace)
Repeated options (`--member`, `--remote`) are given once per value. An object of a monitored type
that cannot get a check is listed in `CheckPlan.skipped` with the reason, never dropped silently.
"""

from __future__ import annotations

import hashlib
import ipaddress
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from calipso_core.store import DEFAULT_STORE_PATH

Doc = dict[str, Any]

TARGETS: Final = ("sensu-go", "sensu-classic")
DEFAULT_PLUGIN_DIR: Final = "/usr/local/lib/calipso/plugins"
DEFAULT_PYTHON: Final = "/usr/bin/python3"
# 12 hex digits (48 bits): a collision among a million objects has odds of about 2e-3, and
# `build_checks` refuses one rather than merging two objects' statuses.
HASH_CHARS: Final = 12
DNS_LABEL_MAX: Final = 63
# What Sensu (Go and classic) accepts in names and subscriptions.
SENSU_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]")
# Sensu substitutes tokens in check commands ({{ }} in Go, ::: ::: in classic): a value read from
# a host holding one would be templated, so such an object is skipped instead.
TOKEN_MARKERS: Final = ("{{", "}}", ":::")
SERVICE_PROCESS: Final = {"dhcp": "dnsmasq"}
LABEL_KEYS: Final = ("calipso_object_id", "calipso_object_type", "calipso_environment",
                     "calipso_host")


class MonitoringError(ValueError):
    """Settings or an inventory the monitoring model cannot be built from."""


@dataclass(frozen=True)
class RabbitMQSettings:
    """Sensu classic's transport connection, without its password: that comes from a file the
    deployment writes from Ansible Vault (conf.d/rabbitmq-password.json, mode 0600), which the
    Sensu loader merges into this one."""

    host: str = "127.0.0.1"
    port: int = 5672
    vhost: str = "/sensu"
    user: str = "sensu"


@dataclass(frozen=True)
class MonitoringSettings:
    """How one environment is monitored. Intervals and timeouts are seconds; `intervals` and
    `timeouts` override the defaults per object type."""

    target: str = "sensu-go"
    interval: int = 60
    timeout: int = 30
    intervals: Mapping[str, int] = field(default_factory=dict)
    timeouts: Mapping[str, int] = field(default_factory=dict)
    handler: str = "calipso"
    handler_timeout: int = 30
    # The store the handler records results in, passed as `--store`; None leaves it to the
    # handler's $CALIPSO_STORE on the backend. Never with a password: it would be written into
    # the handler's definition, in plain text, wherever Sensu keeps or shows it.
    store: str | None = DEFAULT_STORE_PATH
    namespace: str = "default"
    # The round-trip times to each remote endpoint that make an otep warning or critical.
    otep_warning_ms: int = 50
    otep_critical_ms: int = 200
    plugin_dir: str = DEFAULT_PLUGIN_DIR
    python: str = DEFAULT_PYTHON
    # Sensu Go filters events down to state changes; every `restate_every`-th unchanged result
    # is handled too, so a store rebuilt while Sensu kept its events converges.
    restate_every: int = 60
    # Sensu classic: None writes no rabbitmq.json, leaving the connection to $RABBITMQ_URL (a
    # rabbitmq.json would override it).
    rabbitmq: RabbitMQSettings | None = field(default_factory=RabbitMQSettings)

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise MonitoringError("invalid monitoring settings: " + "; ".join(problems))

    def problems(self) -> list[str]:
        problems = []
        if self.target not in TARGETS:
            problems.append(f"target must be one of {', '.join(TARGETS)}, not {self.target!r}")
        seconds = {"interval": self.interval, "timeout": self.timeout,
                   "handler_timeout": self.handler_timeout, "restate_every": self.restate_every,
                   **{f"intervals[{k}]": v for k, v in self.intervals.items()},
                   **{f"timeouts[{k}]": v for k, v in self.timeouts.items()}}
        problems += [f"{name} must be a positive integer, not {value!r}"
                     for name, value in seconds.items() if not _positive_int(value)]
        for obj_type in sorted({*self.intervals, *self.timeouts, *MONITORED_TYPES}):
            interval, timeout = self.interval_for(obj_type), self.timeout_for(obj_type)
            # A check still running when the next one is due piles executions up on the host.
            if _positive_int(interval) and _positive_int(timeout) and timeout > interval:
                problems.append(f"the timeout of {obj_type} checks ({timeout}s) exceeds their "
                                f"interval ({interval}s)")
        if not (_positive_int(self.otep_warning_ms) and _positive_int(self.otep_critical_ms)
                and self.otep_warning_ms < self.otep_critical_ms):
            problems.append("otep thresholds must be positive integers, warning below critical")
        if SENSU_NAME_CHARS.search(self.handler) or not self.handler:
            problems.append(f"handler name {self.handler!r} may hold only letters, digits, "
                            "'_', '.' and '-'")
        if not self.namespace or SENSU_NAME_CHARS.search(self.namespace):
            problems.append(f"namespace {self.namespace!r} is not a Sensu name")
        if self.store is not None and "://" in self.store and urlsplit(self.store).password:
            problems.append("the store URL holds a password: give the handler its credentials "
                            "through $CALIPSO_STORE on the backend instead")
        if not posixpath.isabs(self.plugin_dir) or not posixpath.isabs(self.python):
            problems.append("plugin_dir and python must be absolute paths")
        return problems

    def interval_for(self, obj_type: str) -> int:
        return self.intervals.get(obj_type, self.interval)

    def timeout_for(self, obj_type: str) -> int:
        return self.timeouts.get(obj_type, self.timeout)


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


@dataclass
class CheckSpec:
    """One object's check, independent of the Sensu flavour it is rendered for. `host` is the
    host whose agent runs it (for an instance, the host serving its network's DHCP); the label
    calipso_host is the object's own host."""

    name: str
    object_id: str
    object_type: str
    host: str
    command_argv: list[str]
    interval: int
    timeout: int
    subscription: str
    proxy_entity: str
    labels: dict[str, str]


@dataclass(frozen=True)
class Skipped:
    """An object of a monitored type that gets no check, and why."""

    object_id: str
    object_type: str
    reason: str


@dataclass
class CheckPlan:
    checks: list[CheckSpec]
    skipped: list[Skipped]


def sensu_safe(name: str) -> str:
    """A name as Sensu accepts it (letters, digits, '_', '.', '-'), other characters as '-'."""
    return SENSU_NAME_CHARS.sub("-", name) or "-"


def check_name(obj_type: str, object_id: str) -> str:
    """The stable name of an object's check and of its proxy entity: `calipso-<type>-<hash>`,
    a DNS label (lowercase letters, digits, '-'; at most 63 characters)."""
    digest = hashlib.sha256(object_id.encode()).hexdigest()[:HASH_CHARS]
    kind = re.sub(r"[^a-z0-9]+", "-", obj_type.lower()).strip("-") or "object"
    room = DNS_LABEL_MAX - len("calipso--") - HASH_CHARS
    return f"calipso-{kind[:room].rstrip('-')}-{digest}"


def subscription(host: str) -> str:
    """The subscription of a host's agent: every check the host runs is published to it."""
    return f"calipso-host-{sensu_safe(host)}"


@dataclass
class _Inventory:
    """The objects and links a check's arguments are read from, indexed."""

    objects: dict[str, Doc]
    links_from: dict[tuple[str, str], list[Doc]]
    dhcp_of_network: dict[str, Doc]

    @classmethod
    def index(cls, objects: Iterable[Doc], links: Iterable[Doc]) -> _Inventory:
        by_id = {o["id"]: o for o in objects}
        links_from: dict[tuple[str, str], list[Doc]] = {}
        for link in sorted(links, key=lambda link: link["id"]):
            links_from.setdefault((link["link_type"], link["source_id"]), []).append(link)
        dhcp: dict[str, Doc] = {}
        # Sorted, so that with DHCP agents on several hosts the choice is the same every time.
        for obj in sorted(by_id.values(), key=lambda o: (o.get("host") or "", o["id"])):
            attributes = obj.get("attributes", {})
            if obj["type"] == "vservice" and attributes.get("service_type") == "dhcp" \
                    and attributes.get("object_id") and obj.get("host"):
                dhcp.setdefault(attributes["object_id"], obj)
        return cls(by_id, links_from, dhcp)

    def targets(self, link_type: str, source_id: str) -> list[tuple[Doc, Doc]]:
        """(link, target object) of the links of a type from an object, by link id."""
        return [(link, self.objects[link["target_id"]])
                for link in self.links_from.get((link_type, source_id), [])
                if link["target_id"] in self.objects]


@dataclass(frozen=True)
class _Call:
    """A plugin call: which plugin, its options (each with its value), the host that runs it."""

    plugin: str
    options: list[tuple[str, str]]
    host: str

    @property
    def args(self) -> list[str]:
        return [arg for option in self.options for arg in option]


_Builder = Callable[[Doc, _Inventory, MonitoringSettings], _Call | str]


def _vedge(obj: Doc, inv: _Inventory, settings: MonitoringSettings) -> _Call | str:
    switch = obj["attributes"].get("switch")
    if switch not in ("ovs", "vpp"):
        return f"unknown switch {switch!r}"
    return _Call("check_vedge.py", [("--switch", switch)], obj["host"])


def _vconnector(obj: Doc, inv: _Inventory, settings: MonitoringSettings) -> _Call | str:
    if obj["attributes"].get("kind") != "linux_bridge":
        return "a VPP bridge domain: no plugin checks one (its vedge's check covers VPP)"
    members = [("--member", member) for member in obj["attributes"].get("members", [])]
    return _Call("check_vconnector.py", [("--bridge", obj["name"]), *members], obj["host"])


def _vnic(obj: Doc, inv: _Inventory, settings: MonitoringSettings) -> _Call | str:
    if obj["attributes"].get("side") != "instance":
        return "a vservice's vnic: covered by the vservice's check"
    # On a Linux bridge: the Linux-bridge agent's brq, or the hybrid plug's qbr, whose qvb/qvo
    # pair into OVS the vconnector's own link describes: the qvo is checked with the tap, since
    # losing it cuts the VM off as surely as losing the tap.
    for _link, bridge in inv.targets("vnic-vconnector", obj["id"]):
        if bridge["attributes"].get("kind") != "linux_bridge":
            return "on a VPP bridge domain: no plugin checks vhost-user interfaces"
        options = [("--device", obj["name"]), ("--bridge", bridge["name"])]
        for link, _vedge_obj in inv.targets("vconnector-vedge", bridge["id"])[:1]:
            port = _ovs_port_options(link["attributes"])
            if isinstance(port, str):
                return f"its bridge's {port}"
            options += [("--ovs-port", link["attributes"]["ovs_port"]), *port]
        return _Call("check_vnic.py", options, obj["host"])
    for link, _vedge_obj in inv.targets("vnic-vedge", obj["id"]):
        port = _ovs_port_options(link["attributes"])
        if isinstance(port, str):
            return f"its {port}"
        return _Call("check_vnic.py", [("--device", obj["name"]), *port], obj["host"])
    return "on no bridge the inventory knows"


def _ovs_port_options(attributes: Doc) -> list[tuple[str, str]] | str:
    """--ovs-bridge and --tag from a link to an OVS port, or why there are none."""
    if not attributes.get("bridge") or not attributes.get("ovs_port"):
        return "OVS port names no bridge or port"
    tag = attributes.get("tag")
    # An untagged port (no local VLAN) is checked for its bridge alone.
    return [("--ovs-bridge", attributes["bridge"]),
            *([("--tag", str(tag))] if tag is not None else [])]


def _host_pnic(obj: Doc, inv: _Inventory, settings: MonitoringSettings) -> _Call | str:
    return _Call("check_host_pnic.py", [("--device", obj["name"])], obj["host"])


def _otep(obj: Doc, inv: _Inventory, settings: MonitoringSettings) -> _Call | str:
    attributes = obj["attributes"]
    if not attributes.get("local_ip"):
        return "no local tunnel address"
    if not attributes.get("remote_ips"):
        return "no remote endpoint to reach"
    remotes = [("--remote", ip) for ip in attributes.get("remote_ips", [])]
    return _Call("check_otep.py", [("--local-ip", attributes["local_ip"]), *remotes,
                                   ("--warning-ms", str(settings.otep_warning_ms)),
                                   ("--critical-ms", str(settings.otep_critical_ms))],
                 obj["host"])


def _vservice(obj: Doc, inv: _Inventory, settings: MonitoringSettings) -> _Call | str:
    attributes = obj["attributes"]
    namespace = attributes.get("namespace") or obj["name"]
    process = SERVICE_PROCESS.get(attributes.get("service_type", ""))
    return _Call("check_vservice.py", [("--namespace", namespace),
                                       *([("--process", process)] if process else [])],
                 obj["host"])


def _instance(obj: Doc, inv: _Inventory, settings: MonitoringSettings) -> _Call | str:
    reason = "no vnic joined with its port (network, address and MAC need the cloud's view)"
    for _link, vnic in inv.targets("instance-vnic", obj["id"]):
        attributes = vnic["attributes"]
        address = _first_address(attributes.get("fixed_ips") or [])
        if not (attributes.get("network_id") and address and attributes.get("guest_mac")):
            continue
        dhcp = inv.dhcp_of_network.get(attributes["network_id"])
        if dhcp is None:
            reason = f"no DHCP service for network {attributes['network_id']} in the inventory"
            continue
        namespace = dhcp["attributes"].get("namespace") or dhcp["name"]
        return _Call("check_instance.py", [("--namespace", namespace), ("--ip", address),
                                           ("--mac", attributes["guest_mac"])], dhcp["host"])
    return reason


def _first_address(addresses: list[str]) -> str | None:
    """The first IPv4 address (DHCP and ARP reach it from the namespace), else the first."""
    for address in addresses:
        try:
            if ipaddress.ip_address(address).version == 4:
                return address
        except ValueError:
            continue
    return addresses[0] if addresses else None


BUILDERS: Final[dict[str, _Builder]] = {
    "vedge": _vedge, "vconnector": _vconnector, "vnic": _vnic, "host_pnic": _host_pnic,
    "otep": _otep, "vservice": _vservice, "instance": _instance}
MONITORED_TYPES: Final = tuple(sorted(BUILDERS))


def _unsafe(value: str) -> str | None:
    """Why a value read from a host cannot go into a command, if it cannot."""
    if value.startswith("-"):
        return f"{value!r} would be read as an option by the plugin"
    if any(marker in value for marker in TOKEN_MARKERS):
        return f"{value!r} would be read as a Sensu token"
    return None


def build_checks(environment: str, objects: Iterable[Doc], links: Iterable[Doc],
                 settings: MonitoringSettings) -> CheckPlan:
    """Every monitored object's check, ordered by name; the objects without one, and why."""
    inv = _Inventory.index(objects, links)
    checks: dict[str, CheckSpec] = {}
    skipped = []
    for obj in sorted(inv.objects.values(), key=lambda o: (o["type"], o["id"])):
        builder = BUILDERS.get(obj["type"])
        if builder is None:
            continue
        call = builder(obj, inv, settings) if obj.get("host") else "not on any host"
        if isinstance(call, _Call):
            call = next((reason for _, value in call.options if (reason := _unsafe(value))),
                        call)
        if isinstance(call, str):
            skipped.append(Skipped(obj["id"], obj["type"], call))
            continue
        name = check_name(obj["type"], obj["id"])
        if name in checks:
            raise MonitoringError(f"objects {checks[name].object_id!r} and {obj['id']!r} hash "
                                  f"to the same check name {name}")
        checks[name] = CheckSpec(
            name=name, object_id=obj["id"], object_type=obj["type"], host=call.host,
            command_argv=[settings.python, posixpath.join(settings.plugin_dir, call.plugin),
                          *call.args],
            interval=settings.interval_for(obj["type"]),
            timeout=settings.timeout_for(obj["type"]), subscription=subscription(call.host),
            proxy_entity=name,
            labels=dict(zip(LABEL_KEYS, (obj["id"], obj["type"], environment, obj["host"]),
                            strict=True)))
    return CheckPlan([checks[name] for name in sorted(checks)], skipped)
