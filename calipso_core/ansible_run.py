"""Running Ansible from Calipso through ansible-runner: one code path for the CLI, the API's
scans and the tests, with per-host outcomes (ok, failed, unreachable) rather than a bare rc."""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner

CHECKOUT = Path(__file__).resolve().parents[1]


@dataclass
class HostOutcome:
    """What one host answered: its status and the module's result."""

    status: str  # ok, failed or unreachable
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """Why it failed: for a loop, the first failed item's message, not the loop's summary."""
        for item in self.result.get("results") or []:
            if isinstance(item, dict) and item.get("failed"):
                return str(item.get("msg", ""))
        return str(self.result.get("msg", ""))


def ansible_env() -> dict[str, str]:
    """Environment for ansible-runner: this interpreter's bin dir first on PATH (ansible-runner
    starts the `ansible` commands by name), the checkout's ansible.cfg when there is one, and
    host key checking on (ansible-runner turns it off unless told otherwise)."""
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "ANSIBLE_HOST_KEY_CHECKING": "True"}
    config = CHECKOUT / "ansible.cfg"
    if config.is_file():
        env["ANSIBLE_CONFIG"] = str(config)
    return env


def run_module(inventory: Path, module: str, module_args: str = "",
               pattern: str = "all") -> dict[str, HostOutcome]:
    """Run one module on the hosts of an inventory; return each host's outcome."""
    with tempfile.TemporaryDirectory(prefix="calipso-runner-") as private_dir:
        runner = ansible_runner.run(
            private_data_dir=private_dir, inventory=str(Path(inventory).resolve()),
            host_pattern=pattern,
            module=module, module_args=module_args, quiet=True, envvars=ansible_env())
        return _outcomes(runner.events)


@dataclass
class PlaybookRun:
    """A playbook's end: ansible-runner's status (successful, failed ...), each host's last
    outcome, and how many tasks changed something on each host (its recap's `changed`)."""

    status: str
    outcomes: dict[str, HostOutcome]
    changed: dict[str, int]

    def failures(self) -> dict[str, str]:
        """Each host that did not end ok, with why."""
        return {host: outcome.message or outcome.status
                for host, outcome in self.outcomes.items() if outcome.status != "ok"}


def run_playbook(inventory: Path, playbook: Path, extravars: dict[str, Any] | None = None,
                 envvars: dict[str, str] | None = None, limit: str | None = None,
                 cmdline: str | None = None) -> PlaybookRun:
    """Run a playbook (on the hosts `limit` names, if given; `cmdline` adds ansible-playbook
    options such as --check or --diff)."""
    with tempfile.TemporaryDirectory(prefix="calipso-runner-") as private_dir:
        runner = ansible_runner.run(
            # ansible-runner reads a relative path as a host list, not a file.
            private_data_dir=private_dir, inventory=str(Path(inventory).resolve()),
            playbook=str(playbook), cmdline=cmdline,
            extravars=extravars or {}, quiet=True, limit=limit,
            envvars={**ansible_env(), **(envvars or {})})
        stats = runner.stats or {}
        return PlaybookRun(runner.status, _outcomes(runner.events),
                           dict(stats.get("changed") or {}))


_EVENT_STATUS = {"runner_on_ok": "ok", "runner_on_failed": "failed",
                 "runner_on_unreachable": "unreachable"}


def _outcomes(events: Any) -> dict[str, HostOutcome]:
    outcomes: dict[str, HostOutcome] = {}
    for event in events:
        status = _EVENT_STATUS.get(event.get("event", ""))
        if status is None:
            continue
        data = event["event_data"]
        outcomes[data["host"]] = HostOutcome(status, data.get("res", {}))
    return outcomes
