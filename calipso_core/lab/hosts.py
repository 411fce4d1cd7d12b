"""Lab hosts as network namespaces, each with its own hostname and its own /run/netns.

A host is a named network namespace plus an anchor process that also holds a private UTS namespace
(the host's own hostname) and a private mount namespace in which /run/netns is the host's own
directory. Everything that runs "on" the host (sshd, OVS, dnsmasq, SSH sessions) is started inside
the anchor's namespaces, so `ip netns` on a host lists only that host's qdhcp/qrouter namespaces,
as on a real network node, and `down` can find every process of the lab by its namespaces.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from calipso_core.lab.system import HostNamespaces, run

NETNS_DIR = Path("/run/netns")
PROC = Path("/proc")
# Directories each host has of its own (bound over the shared root filesystem in the host's mount
# namespace), so that what a role installs on one host is not seen on another: the Sensu agent's
# configuration and state, Calipso's check plugins, and Calipso's own configuration and systemd
# units (where the calipso_service role deploys the API and the scheduler; the machine's own
# units stay out of the hosts' sight, and the hosts' out of the machine's).
PRIVATE_DIRS = (Path("/etc/sensu"), Path("/var/lib/sensu"), Path("/usr/local/lib/calipso"),
                Path("/etc/calipso"), Path("/etc/systemd/system"))


class LabHostError(RuntimeError):
    """A lab host could not be created or entered."""


def host_netns(lab: str, host: str) -> str:
    return f"calipso-{lab}-{host}"


def lab_netns_prefix(lab: str) -> str:
    return f"calipso-{lab}-"


def root_link_prefix(lab: str) -> str:
    """Prefix of every interface the lab makes in the root namespace."""
    return f"cl{lab}-"


def ovs_env(ovs_dir: Path) -> dict[str, str]:
    """The environment that points OVS daemons and clients at one host's private OVS."""
    return {"OVS_RUNDIR": str(ovs_dir), "OVS_DBDIR": str(ovs_dir),
            "OVS_LOGDIR": str(ovs_dir), "OVS_SYSCONFDIR": str(ovs_dir)}


def _wait_for_exec(pid: int, program: str, timeout: float = 5.0) -> None:
    """Wait until pid has exec'd program, i.e. its namespaces are all in place."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.path.basename(os.readlink(PROC / str(pid) / "exe")) == program:
                return
        except OSError:
            pass
        time.sleep(0.005)
    raise LabHostError(f"anchor process {pid} did not start {program} within {timeout} s")


def create_host(lab: str, name: str, host_dir: Path, with_ovs: bool) -> HostNamespaces:
    """Create a host's network namespace and anchor; return how to run commands in it."""
    netns = host_netns(lab, name)
    run(["ip", "netns", "add", netns])
    own_netns_dir = host_dir / "netns"
    own_netns_dir.mkdir(parents=True, exist_ok=True)
    # sleep is the anchor: ip netns exec and unshare both exec, so the Popen pid is the sleep
    # that holds the namespaces; a new session keeps it alive after this process exits.
    anchor = subprocess.Popen(
        ["ip", "netns", "exec", netns, "unshare", "--uts", "--mount", "--propagation",
         "private", "--", "sleep", "infinity"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    _wait_for_exec(anchor.pid, "sleep")
    (host_dir / "anchor.pid").write_text(f"{anchor.pid}\n")
    run(["nsenter", "-t", str(anchor.pid), "--uts", "--", "hostname", name])
    run(["nsenter", "-t", str(anchor.pid), "--mount", "--", "mount", "--bind",
         str(own_netns_dir), str(NETNS_DIR)])
    for shared in PRIVATE_DIRS:
        own = host_dir / "root" / shared.relative_to("/")
        own.mkdir(parents=True, exist_ok=True)
        # The mount point must exist in the shared tree; it stays empty there (and stays after
        # the lab is gone: removing it would detach the binds of any other lab that is up).
        shared.mkdir(parents=True, exist_ok=True)
        run(["nsenter", "-t", str(anchor.pid), "--mount", "--", "mount", "--bind", str(own),
             str(shared)])
    env = ovs_env(host_dir / "ovs") if with_ovs else {}
    host = HostNamespaces(anchor.pid, env)
    host.run(["ip", "link", "set", "lo", "up"])
    return host


def namespaces_with_prefix(prefix: str) -> list[str]:
    if not NETNS_DIR.is_dir():
        return []
    return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(prefix))


def links_with_prefix(prefix: str) -> list[str]:
    return sorted(n for n in os.listdir("/sys/class/net") if n.startswith(prefix))


def _ns_id(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def processes_in(namespaces: Iterable[str]) -> list[int]:
    """Pids running in any of these named network namespaces, or sharing a hostname namespace
    with one that does (a host's dnsmasq lives in its qdhcp netns but in the host's UTS)."""
    net_ids = {i for n in namespaces if (i := _ns_id(NETNS_DIR / n)) is not None}
    own_uts = _ns_id(PROC / "self" / "ns" / "uts")
    procs: dict[int, tuple[tuple[int, int] | None, tuple[int, int] | None]] = {}
    for entry in os.listdir(PROC):
        if entry.isdigit() and int(entry) != os.getpid():
            procs[int(entry)] = (_ns_id(PROC / entry / "ns" / "net"),
                                 _ns_id(PROC / entry / "ns" / "uts"))
    in_net = {pid for pid, (net, _) in procs.items() if net in net_ids}
    uts_ids = {procs[pid][1] for pid in in_net} - {own_uts, None}
    return sorted(pid for pid, (net, uts) in procs.items() if pid in in_net or uts in uts_ids)


def kill_processes(pids: Iterable[int], grace: float = 3.0) -> None:
    """SIGTERM, then SIGKILL what is still there after the grace period."""
    pending = set(pids)
    for pid in pending:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while pending and time.monotonic() < deadline:
        pending = {pid for pid in pending if process_alive(pid)}
        time.sleep(0.02)
    for pid in pending:
        _signal(pid, signal.SIGKILL)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def process_alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        state = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
