"""Bringing a lab up and down, idempotently, and telling what is up.

`up` builds everything a lab description names and records it under the lab's state directory;
a failed `up` tears down what it made. `down` finds what belongs to the lab by its names and
namespaces (not only by the record, which a crash may have left incomplete) and removes every
namespace, interface, process and file.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from calipso_core.lab import hosts, ovs, plumbing, ssh
from calipso_core.lab.cloud_api import clouds_yaml
from calipso_core.lab.spec import LabSpec, describe, vm_port
from calipso_core.lab.system import HostNamespaces, run

DEFAULT_STATE_ROOT = Path(os.environ.get("CALIPSO_LAB_DIR", "/var/lib/calipso/lab"))
REQUIRED_TOOLS = ("ip", "bridge", "nsenter", "unshare", "ethtool", "ovs-vsctl", "ovs-ofctl",
                  ovs.OVS_CTL, ssh.SSHD, "ssh-keygen", "dnsmasq", ssh.REMOTE_PYTHON)
API_READY_TIMEOUT = 20.0


class LabError(RuntimeError):
    """The lab cannot be brought up or down; the message says why and what to do."""


@dataclass(frozen=True)
class LabPaths:
    """Where a lab keeps its files."""

    state_dir: Path
    inventory: Path

    @property
    def description(self) -> Path:
        return self.state_dir / "lab.json"

    @property
    def record(self) -> Path:
        return self.state_dir / "state.json"

    @property
    def ssh_dir(self) -> Path:
        return self.state_dir / "ssh"

    @property
    def clouds_yaml(self) -> Path:
        return self.state_dir / "clouds.yaml"

    @property
    def monitoring_dir(self) -> Path:
        """Where playbooks/monitoring.yml renders the lab's Sensu configuration."""
        return self.state_dir / "monitoring"

    def host_dir(self, host: str) -> Path:
        return self.state_dir / "hosts" / host


def default_inventory(lab: str, state_dir: Path) -> Path:
    """The default lab's inventory goes to inventories/lab/hosts.yml in a checkout (where
    ansible.cfg points); any other lab's, and any lab outside a checkout, to its state dir."""
    checkout = Path(__file__).resolve().parents[2]
    lab_inventories = checkout / "inventories" / "lab"
    if lab == LabSpec.name and (checkout / "ansible.cfg").is_file() and lab_inventories.is_dir():
        return lab_inventories / "hosts.yml"
    return state_dir / "inventory" / "hosts.yml"


def cloud_name(lab: str) -> str:
    return f"calipso-lab-{lab}"


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 now (the kernel's choice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Lab:
    """One lab, by name: `up`, `down`, `status`."""

    def __init__(self, spec: LabSpec, state_dir: Path | None = None,
                 inventory: Path | None = None) -> None:
        spec.validate()
        self.spec = spec
        state = state_dir or DEFAULT_STATE_ROOT / spec.name
        self.paths = LabPaths(state, inventory or default_inventory(spec.name, state))

    # -- public -------------------------------------------------------------------------------

    def up(self) -> bool:
        """Bring the lab up unless it already is, exactly as specified; True if it built."""
        _require_root_and_tools()
        if self.is_up():
            return False
        self.down()
        self._check_addresses_free()
        try:
            self._build()
        except BaseException:
            self.down()
            raise
        return True

    def down(self) -> bool:
        """Remove every namespace, interface, process and file of this lab; True if there was
        anything to remove."""
        _require_root()
        record = self._record()
        namespaces = hosts.namespaces_with_prefix(hosts.lab_netns_prefix(self.spec.name))
        links = hosts.links_with_prefix(hosts.root_link_prefix(self.spec.name))
        inventory = Path(record.get("inventory", self.paths.inventory))
        files = [p for p in (inventory, self.paths.inventory, self.paths.state_dir) if p.exists()]
        if not (namespaces or links or files):
            return False
        if api_pid := record.get("api", {}).get("pid"):
            _kill_api(api_pid)
        hosts.kill_processes(hosts.processes_in(namespaces))
        for netns in namespaces:
            run(["ip", "netns", "delete", netns], check=False)
        for link in links:
            run(["ip", "link", "delete", link], check=False)
        for path in (inventory, self.paths.inventory):
            path.unlink(missing_ok=True)
        if self.paths.state_dir.exists():
            shutil.rmtree(self.paths.state_dir)
        return True

    def is_up(self) -> bool:
        """Up as specified: the record matches the spec and every host's anchor and sshd and the
        cloud API are alive."""
        record = self._record()
        if record.get("spec") != asdict(self.spec) or record.get("status") != "up":
            return False
        pids = [record["api"]["pid"], *record["anchors"].values(), *record["sshd"].values()]
        return all(hosts.process_alive(pid) for pid in pids)

    def description(self) -> dict[str, Any]:
        try:
            return json.loads(self.paths.description.read_text())
        except FileNotFoundError as exc:
            raise LabError(f"lab {self.spec.name} is not up (no {exc.filename})") from exc

    def host(self, name: str) -> HostNamespaces:
        """Enter a host of the running lab: its anchor's namespaces and, where it runs OVS, its
        OVS environment (for changing the lab, as remove_vm and fault tests do)."""
        desc_host = next((h for h in self.description()["hosts"] if h["name"] == name), None)
        anchor = self._record().get("anchors", {}).get(name)
        if desc_host is None or anchor is None:
            raise LabError(f"lab {self.spec.name} has no host {name!r} up")
        env = hosts.ovs_env(self.paths.host_dir(name) / "ovs") if desc_host["ovs_bridges"] \
            else {}
        return HostNamespaces(anchor, env)

    def remove_vm(self, name: str) -> None:
        """Delete a VM as Nova and Neutron would: unplug its devices from its host's bridges,
        remove its namespace, and drop its server and port from the description (which the
        lab's API follows)."""
        description = self.description()
        server = next((s for s in description["servers"] if s["name"] == name), None)
        if server is None:
            raise LabError(f"lab {self.spec.name} has no VM {name!r}")
        host = next(h for h in description["hosts"] if h["name"] == server["host"])
        port = vm_port(description, server)
        plumbing.unplug_vm(port, host, self.host(host["name"]))
        run(["ip", "netns", "delete", server["netns"]])
        description["servers"] = [s for s in description["servers"] if s is not server]
        description["ports"] = [p for p in description["ports"] if p is not port]
        staged = self.paths.description.with_suffix(".new")
        staged.write_text(json.dumps(description, indent=1))
        staged.replace(self.paths.description)

    def status(self) -> dict[str, Any]:
        record = self._record()
        return {"name": self.spec.name, "up": self.is_up(), "state_dir": str(self.paths.state_dir),
                "inventory": record.get("inventory"), "api": record.get("api", {}).get("url"),
                "clouds_yaml": str(self.paths.clouds_yaml), "cloud": cloud_name(self.spec.name)}

    # -- building -----------------------------------------------------------------------------

    def _record(self) -> dict[str, Any]:
        try:
            return json.loads(self.paths.record.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def _check_addresses_free(self) -> None:
        """Refuse to build over addresses something else on this machine already uses."""
        lab_range = ipaddress.IPv4Network(f"{self.spec.address_base}.0.0/16")
        prefix = hosts.root_link_prefix(self.spec.name)
        for link in json.loads(run(["ip", "-j", "addr", "show"])):
            for addr in link.get("addr_info", []):
                if (addr.get("family") == "inet" and not link["ifname"].startswith(prefix)
                        and ipaddress.IPv4Address(addr["local"]) in lab_range):
                    raise LabError(f"{lab_range} is in use on {link['ifname']}: choose another "
                                   "address base for lab " + self.spec.name)

    def _build(self) -> None:
        lab = self.spec.name
        description = describe(self.spec)
        description["created_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        paths = self.paths
        paths.state_dir.mkdir(parents=True, exist_ok=True)
        paths.state_dir.chmod(0o700)
        paths.description.write_text(json.dumps(description, indent=1))
        record: dict[str, Any] = {"spec": asdict(self.spec), "status": "building",
                                  "inventory": str(paths.inventory), "anchors": {}, "sshd": {}}
        paths.record.write_text(json.dumps(record))

        client_key = ssh.keygen(paths.ssh_dir / "id_ed25519", f"calipso-lab-{lab}")
        authorized_keys = paths.ssh_dir / "authorized_keys"
        authorized_keys.write_text(client_key + "\n")
        plumbing.create_root_bridges(lab, description)

        known_hosts = []
        namespaces: dict[str, HostNamespaces] = {}
        for index, host in enumerate(description["hosts"]):
            host_dir = paths.host_dir(host["name"])
            ns = hosts.create_host(lab, host["name"], host_dir, bool(host["ovs_bridges"]))
            namespaces[host["name"]] = ns
            record["anchors"][host["name"]] = ns.anchor_pid
            plumbing.plumb_nics(lab, index, host, ns)
            if host["ovs_bridges"]:
                ovs.start(ns, host_dir / "ovs", host["system_id"])
                peers = [h for h in description["hosts"] if h["name"] != host["name"]]
                ovs.build_bridges(ns, host, peers)
            else:
                plumbing.plumb_linuxbridge_networks(description, host, ns)
            host_key, record["sshd"][host["name"]] = ssh.start_sshd(
                ns, host["management_ip"], host_dir, authorized_keys)
            known_hosts.append(ssh.known_hosts_line([host["name"], host["management_ip"]],
                                                    host_key))

        ports = {p["id"]: p for p in description["ports"]}
        networks = {n["id"]: n for n in description["networks"]}
        by_name = {h["name"]: h for h in description["hosts"]}
        for server in description["servers"]:
            port = ports[server["port_ids"][0]]
            network = networks[port["network_id"]]
            plumbing.plumb_vm(lab, server, port, network, by_name[server["host"]],
                              namespaces[server["host"]],
                              plumbing.network_has_router(description, network["id"]))
        for host in description["hosts"]:
            ns = namespaces[host["name"]]
            if host["role"] == "controller":
                plumbing.plumb_dhcp(description, host, ns, paths.host_dir(host["name"]) / "dhcp")
                plumbing.plumb_routers(description, host, ns)
            if host["ovs_bridges"]:
                plumbing.program_tunnels(description, host, ns)

        (paths.ssh_dir / "known_hosts").write_text("\n".join(known_hosts) + "\n")
        (paths.ssh_dir / "config").write_text(ssh.ssh_config(description["hosts"], paths.ssh_dir))
        record["api"] = self._start_api(description)
        paths.inventory.parent.mkdir(parents=True, exist_ok=True)
        paths.inventory.write_text(ssh.ansible_inventory(description, paths.ssh_dir,
                                                         paths.clouds_yaml, cloud_name(lab),
                                                         paths.monitoring_dir))
        record["status"] = "up"
        paths.record.write_text(json.dumps(record, indent=1))

    def _start_api(self, description: dict[str, Any]) -> dict[str, Any]:
        """The lab's OpenStack API on loopback, with a fresh admin password kept only in the
        state directory (mode 0600) and in clouds.yaml there."""
        credentials = {"username": "admin", "password": secrets.token_urlsafe(24),
                       "project_name": "admin", "user_domain_name": "Default",
                       "project_domain_name": "Default"}
        creds_path = self.paths.state_dir / "api-credentials.json"
        creds_path.touch(mode=0o600)
        creds_path.write_text(json.dumps(credentials))
        port = free_loopback_port()
        log = (self.paths.state_dir / "cloud-api.log").open("w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "calipso_core.lab.cloud_api",
             "--description", str(self.paths.description), "--credentials", str(creds_path),
             "--listen", f"127.0.0.1:{port}"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + API_READY_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(f"{url}/identity/v3", timeout=1):  # noqa: S310
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise LabError("the lab's OpenStack API did not start; see "
                                   f"{self.paths.state_dir / 'cloud-api.log'}") from None
                time.sleep(0.05)
        clouds = clouds_yaml(cloud_name(self.spec.name), f"{url}/identity/v3", credentials,
                             description["region"])
        self.paths.clouds_yaml.touch(mode=0o600)
        self.paths.clouds_yaml.write_text(yaml.safe_dump(clouds, sort_keys=False))
        return {"pid": proc.pid, "url": url}


def _require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces, OVS, sshd)")


def _require_root_and_tools() -> None:
    _require_root()
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        raise LabError(f"missing tools: {', '.join(missing)}; run the README's install command")


def _kill_api(pid: int) -> None:
    """Stop the lab's API process, making sure the pid still is that process."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return
    if b"calipso_core.lab.cloud_api" in cmdline:
        hosts.kill_processes([pid])
