"""The roles' Molecule scenarios (roles/<role>/molecule/default), run as a developer runs them:
`molecule test` in the role's directory. Each brings up a lab of its own (sensu_backend also the
fake Sensu Go backend), converges the role, converges it again and must change nothing, verifies
what the role left, and takes everything down. Secrets the scenarios use never reach the output,
and nothing of the scenario is left running."""

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
# Measured about 30 s (sensu_backend) and 70-130 s (sensu_agent, SSH to two hosts) on a busy
# machine; the rest is headroom before the scenario is stopped and destroyed.
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


def servers_of(state_dir: Path) -> list[int]:
    """Pids of fake Sensu Go backends serving from state_dir."""
    pids = []
    for proc_dir in Path("/proc").iterdir():
        try:
            cmdline = (proc_dir / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"tests.sensu_go_api_server" in cmdline and str(state_dir).encode() in cmdline:
            pids.append(int(proc_dir.name))
    return pids


@pytest.mark.parametrize(("role", "lab"), [("sensu_agent", "mol1"), ("sensu_backend", "mol2")])
def test_molecule_scenario_is_idempotent_verified_and_cleaned_up(role, lab, tmp_path):
    if os.geteuid() != 0:
        pytest.fail("the molecule scenarios need root (their labs): run them through "
                    "./bootstrap test")
    ephemeral = tmp_path / "molecule"
    secret = secrets.token_urlsafe(18)
    # The scenarios' secrets, known to this test so that it can look for them in the output:
    # sensu_agent's RabbitMQ password from the environment, and sensu_backend's password of the
    # fake backend in the file its server would otherwise make.
    api_dir = ephemeral / "sensu-go-api"
    if role == "sensu_backend":
        api_dir.mkdir(parents=True, mode=0o700)
        password = api_dir / "password"
        password.touch(mode=0o600)
        password.write_text(secret + "\n")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "MOLECULE_EPHEMERAL_DIRECTORY": str(ephemeral),
           "CALIPSO_MOLECULE_RABBITMQ_PASSWORD": secret,
           "NO_COLOR": "1", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}

    run = molecule(role, "test", env, SCENARIO_TIMEOUT)

    assert run.returncode == 0, run.stdout[-8000:]
    for step in STEPS:
        assert re.search(rf"^default\W+{step}: Executed: Successful$", run.stdout, re.MULTILINE), \
            f"{step} did not pass:\n{run.stdout[-8000:]}"
    assert secret not in run.stdout
    assert not hosts.namespaces_with_prefix(hosts.lab_netns_prefix(lab))
    assert not hosts.links_with_prefix(hosts.root_link_prefix(lab))
    assert not servers_of(api_dir)
