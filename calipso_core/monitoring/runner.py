"""Deploying an environment's monitoring the way every caller does (the CLI, the API, tests):
playbooks/monitoring.yml through ansible-runner, with what changed per host or a clear error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from calipso_core.ansible_run import PlaybookRun, run_playbook

MONITORING_PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "monitoring.yml"


class MonitoringDeployFailed(RuntimeError):
    """The playbook failed; the message names the hosts and why."""


def deploy_monitoring(inventory: Path, environment: str, store: str | None = None,
                      limit: str | None = None, extravars: dict[str, Any] | None = None,
                      check: bool = False) -> PlaybookRun:
    """Render the environment's checks from the store and configure its agents and backend
    (only preview the changes with `check`, showing them as a diff)."""
    run = run_playbook(inventory, MONITORING_PLAYBOOK,
                       {"calipso_environment": environment,
                        **({"calipso_store": store} if store else {}), **(extravars or {})},
                       limit=limit, cmdline="--check --diff" if check else None)
    if run.status != "successful":
        raise MonitoringDeployFailed(f"monitoring deployment {run.status}: {run.failures()}")
    return run
