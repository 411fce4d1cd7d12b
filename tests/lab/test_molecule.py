"""The roles' Molecule scenarios (roles/<role>/molecule/default), run as a developer runs them:
`molecule test` in the role's directory. Each brings up a lab of its own (sensu_backend also the
fake Sensu Go backend), converges the role, converges it again and must change nothing, verifies
what the role left (calipso_service also runs the services it deployed), and takes everything
down. Secrets the scenarios use never reach the output, and nothing of the scenario is left
running."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from calipso_core.lab import hosts

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Measured about 30 s (sensu_backend), 70-130 s (sensu_agent, SSH to two hosts) and 70 s
# (calipso_service) on a busy machine; the rest is headroom before the scenario is stopped and
# destroyed.
SCENARIO_TIMEOUT = 480
STEPS = ("destroy", "syntax", "create", "prepare", "converge", "idempotence", "verify")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def molecule(role: str, action: str, env: dict[str, str],
             timeout: float) -> subprocess.CompletedProcess:
    """`molecule <action>` in the role's directory; on a timeout its whole process group
    (ansible-playbook and what it started) is stopped, and the scenario destroyed."""
    proc = subprocess.Popen([str(BIN / "molecule"), action], cwd=ROOT / "roles" / role, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        output, _ = proc.communicate()
        if action != "destroy":
            molecule(role, "destroy", env, 120)
        pytest.fail(f"molecule {action} ({role}) took over {timeout} s:\n{output[-6000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, ANSI.sub("", output))


def processes_of(ephemeral: Path) -> list[int]:
    """Pids of what a scenario started: processes that name its ephemeral directory on their
    command line (sensu_backend's fake backend, by its state directory) or work in it (the
    services calipso_service's verify.yml runs, in their unit's working directory)."""
    mine = str(ephemeral).encode()
    pids = []
    for proc_dir in Path("/proc").iterdir():
        try:
            cmdline = (proc_dir / "cmdline").read_bytes()
            cwd = os.readlink(proc_dir / "cwd").encode()
        except OSError:
            continue
        if mine in cmdline or cwd == mine or cwd.startswith(mine + b"/"):
            pids.append(int(proc_dir.name))
    return pids


# Each scenario with its lab and the environment variable it takes its secret from (None:
# sensu_backend reads its fake backend's password from a file, written below).
@pytest.mark.parametrize(("role", "lab", "secret_env"), [
    ("sensu_agent", "mol1", "CALIPSO_MOLECULE_RABBITMQ_PASSWORD"),
    ("sensu_backend", "mol2", None),
    ("calipso_service", "mol3", "CALIPSO_MOLECULE_LDAP_BIND_PASSWORD"),
])
def test_molecule_scenario_is_idempotent_verified_and_cleaned_up(role, lab, secret_env,
                                                                  tmp_path):
    if os.geteuid() != 0:
        pytest.fail("the molecule scenarios need root (their labs): run them through "
                    "./bootstrap test")
    ephemeral = tmp_path / "molecule"
    secret = secrets.token_urlsafe(18)
    # The scenario's secret, known to this test so that it can look for it in the output: from
    # the environment (sensu_agent's RabbitMQ password, calipso_service's LDAP service
    # password), or sensu_backend's password of the fake backend in the file its server would
    # otherwise make.
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "MOLECULE_EPHEMERAL_DIRECTORY": str(ephemeral),
           "NO_COLOR": "1", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
    if secret_env:
        env[secret_env] = secret
    else:
        api_dir = ephemeral / "sensu-go-api"
        api_dir.mkdir(parents=True, mode=0o700)
        password = api_dir / "password"
        password.touch(mode=0o600)
        password.write_text(secret + "\n")

    run = molecule(role, "test", env, SCENARIO_TIMEOUT)

    assert run.returncode == 0, run.stdout[-8000:]
    for step in STEPS:
        assert re.search(rf"^default\W+{step}: Executed: Successful$", run.stdout, re.MULTILINE), \
            f"{step} did not pass:\n{run.stdout[-8000:]}"
    assert secret not in run.stdout
    assert not hosts.namespaces_with_prefix(hosts.lab_netns_prefix(lab))
    assert not hosts.links_with_prefix(hosts.root_link_prefix(lab))
    assert not processes_of(ephemeral)
