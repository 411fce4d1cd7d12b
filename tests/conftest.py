"""Shared fixtures: the session's lab (a real simulated cloud on this machine, needs root); and
the helpers of the monitoring lab tests: a lab discovered and its monitoring rendered, and the
rendered checks run on the lab's hosts."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from calipso_core.discovery.runner import discover
from calipso_core.lab.manager import Lab
from calipso_core.lab.spec import LabSpec
from calipso_core.lab.ssh import REMOTE_PYTHON
from calipso_core.monitoring.checks import MonitoringSettings
from calipso_core.monitoring.render import RenderedMonitoring, render
from calipso_core.store import EmbeddedStore

# The test lab has its own name and addresses, so it never touches a demo lab on the machine.
# CALIPSO_TEST_LAB=name:address_base gives a second test session on the same machine its own.
_name, _, _base = os.environ.get("CALIPSO_TEST_LAB", "ptest:10.251").partition(":")
TEST_LAB = LabSpec(name=_name, address_base=_base)


@contextmanager
def lab_of_its_own(spec: LabSpec, base: Path) -> Iterator[Lab]:
    """A lab kept under base, up for the block and down after it (needs root)."""
    if os.geteuid() != 0:
        pytest.fail("the lab tests need root: run them through ./bootstrap test")
    lab = Lab(spec, base / "state", base / "inventory" / "hosts.yml")
    lab.up()
    try:
        yield lab
    finally:
        lab.down()


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with lab_of_its_own(TEST_LAB, tmp_path_factory.mktemp("lab")) as session_lab:
        yield session_lab


@pytest.fixture(scope="session")
def description(lab: Lab) -> dict:
    return lab.description()


def ssh(lab: Lab, host: str, argv: list[str], check: bool = True) -> str:
    """Run argv on a lab host over SSH, exactly as an operator would (strict host keys)."""
    config = lab.paths.ssh_dir / "config"
    proc = subprocess.run(["ssh", "-F", str(config), "-o", "BatchMode=yes", host, "--",
                           shlex.join(argv)], capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"ssh {host} {argv} exited {proc.returncode}: {proc.stderr}")
    return proc.stdout


def in_vm(server: dict, argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", server["netns"], *argv],
                          capture_output=True, text=True, timeout=60)


TESTS_DIR = Path(__file__).parent


# -- Calipso's monitoring on a lab: the checks it renders, run on the hosts ----------------------

ENVIRONMENT = "lab"
# Lab hosts share the root filesystem (but for /usr/local/lib/calipso, where a deployment would put
# the plugins): the checks call the repository's plugins with the hosts' own Python (REMOTE_PYTHON,
# never the venv's), as the hosts' Sensu agents would.
PLUGIN_DIR = TESTS_DIR.parent / "roles" / "sensu_agent" / "files" / "plugins"
# One Nagios line: what the plugin checks, its state, a message, perfdata.
NAGIOS_LINE = re.compile(r"^(?P<kind>[A-Z_]+) (?P<state>OK|WARNING|CRITICAL|UNKNOWN) - [^|\n]+"
                         r"( \| [^\n]+)?$")
STATES = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}


@dataclass(frozen=True)
class Command:
    """A rendered check's command, as the agent of `host` runs it (the agent hands the command
    string to a shell; split with shlex it is the argv the shell would run)."""

    host: str
    argv: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    """What a command did on its host: exit code, output (a plugin prints one line), when it
    started and how long it took."""

    returncode: int
    line: str
    stderr: str
    executed: float  # epoch seconds, on the host
    duration: float  # seconds

    @property
    def state(self) -> str:
        return STATES.get(self.returncode, f"exit {self.returncode}")


# Runs on a lab host: the argv lists, all at once (most of a check's time is spent waiting for
# pings), as the host's monitoring agent would.
RUNNER = """
import json, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
def run(argv):
    start = time.time()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    return [proc.returncode, proc.stdout, proc.stderr, start, time.time() - start]
argvs = json.loads(sys.argv[1])
with ThreadPoolExecutor(max(len(argvs), 1)) as pool:
    print(json.dumps(list(pool.map(run, argvs))))
"""


def run_on_host(lab: Lab, host: str, argvs: Sequence[Sequence[str]]) -> list[Outcome]:
    """argv lists run on one host over one SSH session to it (an SSH handshake costs more than a
    check does)."""
    output = ssh(lab, host, [REMOTE_PYTHON, "-c", RUNNER, json.dumps([list(a) for a in argvs])])
    return [Outcome(rc, out.rstrip("\n"), err, start, duration)
            for rc, out, err, start, duration in json.loads(output)]


def run_commands(lab: Lab, commands: Mapping[str, Command]) -> dict[str, Outcome]:
    """Every command on its host, all hosts at once; outcomes under the commands' keys."""
    by_host: dict[str, list[str]] = {}
    for key, command in commands.items():
        by_host.setdefault(command.host, []).append(key)
    with ThreadPoolExecutor(max_workers=max(len(by_host), 1)) as pool:
        futures = {host: pool.submit(run_on_host, lab, host, [commands[k].argv for k in keys])
                   for host, keys in by_host.items()}
        return {key: outcome for host, keys in by_host.items()
                for key, outcome in zip(keys, futures[host].result(), strict=True)}


def settle(run: Callable[[set[str]], Mapping[str, Outcome]], outcomes: Mapping[str, Outcome],
           failing: set[str], runs: int = 2) -> dict[str, Outcome]:
    """The outcomes, with the checks not yet in the expected state (non-OK exactly for
    `failing`) run again with `run`, a second apart, up to `runs` times: on a loaded machine a
    ping answers late now and then, and a repaired path takes a moment to carry traffic. A state
    that lasts is what counts, as it is for Sensu at the next interval."""
    settled = dict(outcomes)
    for _ in range(runs):
        unsettled = {k for k, o in settled.items() if (o.returncode != 0) != (k in failing)}
        if not unsettled:
            break
        time.sleep(1)
        settled |= run(unsettled)
    return settled


@dataclass(frozen=True)
class LabMonitoring:
    """A lab discovered into a store of its own, and its monitoring rendered for both Sensu
    flavours (with the handler writing into that store)."""

    store_path: Path
    store: EmbeddedStore
    objects: dict[str, dict[str, Any]]
    go: RenderedMonitoring
    classic: RenderedMonitoring


def monitor(lab: Lab, store_path: Path) -> LabMonitoring:
    """Discover the lab into store_path (again, if it was before), then render its monitoring."""
    discover(Path(lab.status()["inventory"]), ENVIRONMENT, str(store_path))
    store = EmbeddedStore(store_path)
    objects = store.find("objects", ENVIRONMENT)
    links = store.find("links", ENVIRONMENT)

    def rendered(target: str) -> RenderedMonitoring:
        return render(ENVIRONMENT, objects, links, MonitoringSettings(
            target=target, plugin_dir=str(PLUGIN_DIR), python=REMOTE_PYTHON,
            store=str(store_path)))

    return LabMonitoring(store_path, store, {o["id"]: o for o in objects},
                         rendered("sensu-go"), rendered("sensu-classic"))


def go_commands(rendered: RenderedMonitoring) -> dict[str, Command]:
    """Each Sensu Go CheckConfig's command, by check name, on the host whose agent subscribes to
    the check's subscription (from the agents' agent.yml)."""
    subscriber = {subscription: agent.host for agent in rendered.agents.values()
                  for subscription in agent.files["agent.yml"]["subscriptions"]}
    commands = {}
    for doc in rendered.backend.values():
        if doc["type"] == "CheckConfig":
            [subscription] = doc["spec"]["subscriptions"]
            commands[doc["metadata"]["name"]] = Command(subscriber[subscription],
                                                        tuple(shlex.split(doc["spec"]["command"])))
    return commands
