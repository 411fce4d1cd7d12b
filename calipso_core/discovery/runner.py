"""Running discovery the way every caller does (the CLI, the API's scans, tests): the
playbook through ansible-runner, with the scan's report or a clear error out."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from calipso_core.ansible_run import HostOutcome, PlaybookRun, run_playbook

DISCOVER_PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "discover.yml"


class DiscoveryFailed(RuntimeError):
    """The playbook failed; the message names the hosts and why. Nothing was committed."""


def scan_report(outcomes: dict[str, HostOutcome]) -> dict[str, Any]:
    """The report the playbook's last task prints (on whichever host ran it once)."""
    for outcome in outcomes.values():
        message = outcome.result.get("msg")
        if isinstance(message, dict) and "generation" in message:
            return message
    raise DiscoveryFailed("the discovery playbook printed no scan report")


def run_discovery(inventory: Path, environment: str, store: str | None = None,
                  limit: str | None = None,
                  extravars: Mapping[str, Any] | None = None) -> PlaybookRun:
    """Run playbooks/discover.yml on an inventory (limited to some hosts if asked) and return
    the run itself, every host's outcome included, whether it succeeded or not."""
    envvars = {"CALIPSO_STORE": store} if store else {}
    return run_playbook(inventory, DISCOVER_PLAYBOOK,
                        {"calipso_environment": environment, **(extravars or {})},
                        envvars, limit=limit)


def discover(inventory: Path, environment: str, store: str | None = None,
             limit: str | None = None, extravars: dict[str, Any] | None = None) -> dict:
    """Run the discovery; its scan report, or DiscoveryFailed naming the hosts and why."""
    run = run_discovery(inventory, environment, store, limit, extravars)
    if run.status != "successful":
        raise DiscoveryFailed(f"discovery {run.status}: {run.failures()}")
    return scan_report(run.outcomes)
