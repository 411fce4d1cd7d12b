"""SSH into the lab the way a real site is reached: one sshd per host, keys, checked host keys.

The lab generates every host's key itself, so it writes known_hosts directly (no trust on first
use), and the Ansible inventory and ssh_config it writes keep host key checking on.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml

from calipso_core.lab.system import HostNamespaces, run

SSHD = "/usr/sbin/sshd"
REMOTE_PYTHON = "/usr/bin/python3"


def keygen(path: Path, comment: str) -> str:
    """Create an ed25519 key pair (if missing) and return the public key line."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])
    return path.with_suffix(".pub").read_text().strip()


def sshd_config(listen_ip: str, host_dir: Path, authorized_keys: Path,
                env: dict[str, str]) -> str:
    lines = [
        f"ListenAddress {listen_ip}",
        f"HostKey {host_dir / 'ssh_host_ed25519_key'}",
        f"PidFile {host_dir / 'sshd.pid'}",
        f"AuthorizedKeysFile {authorized_keys}",
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        # No PAM and no strict modes: the lab's key files live in its state directory.
        "UsePAM no",
        "StrictModes no",
        "PrintMotd no",
        "Subsystem sftp internal-sftp",
    ]
    if env:
        # Sessions on an OVS host find that host's own OVS, as a plain ovs-vsctl would.
        lines.append("SetEnv " + " ".join(f"{k}={v}" for k, v in sorted(env.items())))
    return "\n".join(lines) + "\n"


def start_sshd(host: HostNamespaces, listen_ip: str, host_dir: Path,
               authorized_keys: Path) -> tuple[str, int]:
    """Start the host's sshd; return its public host key and its pid."""
    host_key = keygen(host_dir / "ssh_host_ed25519_key", f"root@{host_dir.name}")
    config = host_dir / "sshd_config"
    config.write_text(sshd_config(listen_ip, host_dir, authorized_keys, dict(host.ovs_env)))
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    host.run([SSHD, "-f", str(config)])
    # The daemon writes its pid file just after it forks away from the command we ran.
    pid_file = host_dir / "sshd.pid"
    deadline = time.monotonic() + 5
    while not pid_file.exists() or not pid_file.read_text().strip():
        if time.monotonic() > deadline:
            raise RuntimeError(f"sshd of {host_dir.name} wrote no pid file")
        time.sleep(0.01)
    return host_key, int(pid_file.read_text())


def known_hosts_line(names: list[str], host_key: str) -> str:
    key_type, key = host_key.split()[:2]
    return f"{','.join(names)} {key_type} {key}"


def ssh_options(ssh_dir: Path) -> list[str]:
    """Options every client of the lab uses: its key, its known_hosts, strict checking."""
    return ["-o", f"UserKnownHostsFile={ssh_dir / 'known_hosts'}",
            "-o", "StrictHostKeyChecking=yes",
            "-o", "IdentitiesOnly=yes",
            "-o", "BatchMode=yes"]


def ssh_config(hosts: list[dict[str, Any]], ssh_dir: Path) -> str:
    blocks = []
    for host in hosts:
        blocks.append("\n".join([
            f"Host {host['name']}",
            f"  HostName {host['management_ip']}",
            "  User root",
            f"  IdentityFile {ssh_dir / 'id_ed25519'}",
            f"  UserKnownHostsFile {ssh_dir / 'known_hosts'}",
            "  StrictHostKeyChecking yes",
            "  IdentitiesOnly yes",
            "  ControlMaster no",
        ]))
    return "\n\n".join(blocks) + "\n"


# No Sensu agent can run in the lab: the sensu_agent role's restart of it is recorded instead, a
# line per restart in the host's own /var/lib/sensu, which the role's tests count.
LAB_AGENT_RESTART = ["/usr/bin/python3", "-c",
                     "import time; open('/var/lib/sensu/restarts', 'a')"
                     ".write('%f\\n' % time.time())"]


def ansible_inventory(description: dict[str, Any], ssh_dir: Path, clouds_yaml: Path,
                      cloud_name: str, monitoring_dir: Path) -> str:
    """The lab's Ansible inventory: controllers and computes grouped, with each host's layout."""
    groups: dict[str, dict[str, Any]] = {"controllers": {"hosts": {}}, "computes": {"hosts": {}}}
    for host in description["hosts"]:
        group = "controllers" if host["role"] == "controller" else "computes"
        groups[group]["hosts"][host["name"]] = {
            "ansible_host": host["management_ip"],
            "calipso_layout": host["layout"],
            "calipso_tunnel_ip": host["tunnel_ip"],
        }
    inventory = {"all": {
        "vars": {
            "ansible_user": "root",
            "ansible_python_interpreter": REMOTE_PYTHON,
            "ansible_ssh_private_key_file": str(ssh_dir / "id_ed25519"),
            "ansible_ssh_common_args": " ".join(ssh_options(ssh_dir)),
            # Replaces Ansible's default ControlMaster=auto/ControlPersist: shared master
            # connections would outlive the lab's sshd, hold pipes open and skip the host key
            # check of every new connection.
            "ansible_ssh_args": "-o ControlMaster=no",
            "calipso_lab": description["name"],
            "calipso_cloud": cloud_name,
            "calipso_clouds_yaml": str(clouds_yaml),
            "calipso_monitoring_dir": str(monitoring_dir),
            "sensu_agent_restart_command": LAB_AGENT_RESTART,
            # No Sensu server either: its files go beside the render, on the controller, and
            # there is nothing to restart.
            "sensu_backend_files_dir": str(monitoring_dir / "sensu-backend"),
            "sensu_backend_restart_command": [],
        },
        "children": groups,
    }}
    header = f"# Written by `calipso lab up` for lab {description['name']}; removed by `down`.\n"
    return header + yaml.safe_dump(inventory, sort_keys=False)
