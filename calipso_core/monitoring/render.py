"""Render an environment's monitoring for its Sensu flavour, and write it out as files.

    rendered = render("lab", objects, links, MonitoringSettings(target="sensu-go"))
    write_files(rendered, "/var/lib/calipso/monitoring/lab")

The backend part holds every resource (Sensu Go: one JSON document per file, for
`sensuctl create -r -f <dir>/backend`; Sensu classic: the server's conf.d); the agent part, per
host, what that host's agent needs (Sensu Go: its agent.yml settings; Sensu classic: its conf.d,
with its own checks, since classic clients run in safe mode). Every document is validated before
it is returned, and the same inputs give the same files, byte for byte.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Final

import yaml

from calipso_core.monitoring import sensu_classic, sensu_go
from calipso_core.monitoring.checks import (
    CheckSpec,
    MonitoringError,
    MonitoringSettings,
    Skipped,
    build_checks,
    sensu_safe,
    subscription,
)

Doc = dict[str, Any]
# Written into every output directory: write_files replaces only a directory that holds it.
MARKER: Final = ".calipso-monitoring"
BACKEND: Final = "backend"
AGENTS: Final = "agents"


@dataclass
class AgentContent:
    """What one host's agent needs: its subscriptions, the checks it runs, and its files (paths
    relative to the host's directory)."""

    host: str
    subscriptions: list[str]
    checks: list[CheckSpec]
    files: dict[str, Doc]


@dataclass
class RenderedMonitoring:
    environment: str
    target: str
    checks: list[CheckSpec]
    skipped: list[Skipped]
    backend: dict[str, Doc]
    agents: dict[str, AgentContent]


def _agent_labels(environment: str, host: str, host_ids: set[str]) -> dict[str, str]:
    labels = {"calipso_environment": environment, "calipso_host": host}
    if host in host_ids:
        labels |= {"calipso_object_id": host, "calipso_object_type": "host"}
    return labels


def _go_files(environment: str, checks: list[CheckSpec], settings: MonitoringSettings
              ) -> dict[str, Doc]:
    folders = {"CheckConfig": "checks", "Entity": "entities", "Handler": "handlers",
               "EventFilter": "filters"}
    return {f"{folders[doc['type']]}/{doc['metadata']['name']}.json": doc
            for doc in sensu_go.resources(environment, checks, settings)}


def _classic_connection(settings: MonitoringSettings) -> dict[str, Doc]:
    files = {"conf.d/transport.json": sensu_classic.transport_definition()}
    if settings.rabbitmq is not None:
        files["conf.d/rabbitmq.json"] = sensu_classic.rabbitmq_definition(settings.rabbitmq)
    return files


def _classic_checks(checks: Iterable[CheckSpec], settings: MonitoringSettings) -> dict[str, Doc]:
    return {f"conf.d/checks/{spec.name}.json": sensu_classic.check_definition(spec, settings)
            for spec in checks}


def _problems(rendered: RenderedMonitoring) -> list[str]:
    documents = [*rendered.backend.items(),
                 *((f"{AGENTS}/{host}/{path}", doc) for host, agent in rendered.agents.items()
                   for path, doc in agent.files.items())]
    problems = []
    for path, doc in documents:
        if rendered.target == "sensu-classic":
            found = sensu_classic.validate_classic_document(doc)
        elif path.endswith("agent.yml"):
            found = sensu_go.validate_agent_config(doc)
        else:
            found = sensu_go.validate_go_resource(doc)
        problems += [f"{path}: {problem}" for problem in found]
    return problems


def render(environment: str, objects: list[Doc], links: list[Doc],
           settings: MonitoringSettings) -> RenderedMonitoring:
    """An environment's monitoring for settings.target; MonitoringError if anything it would
    produce is not valid for Sensu."""
    plan = build_checks(environment, objects, links, settings)
    host_ids = {o["id"] for o in objects if o["type"] == "host"}
    hosts = sorted(host_ids | {spec.host for spec in plan.checks})
    by_dir: dict[str, str] = {}
    for host in hosts:
        other = by_dir.setdefault(sensu_safe(host), host)
        if other != host:
            raise MonitoringError(f"hosts {other!r} and {host!r} have the same Sensu name")
    if settings.target == "sensu-go":
        backend = _go_files(environment, plan.checks, settings)
    else:
        backend = {**_classic_checks(plan.checks, settings),
                   f"conf.d/handlers/{settings.handler}.json":
                       sensu_classic.handler_definition(environment, settings),
                   **_classic_connection(settings)}
    checks_of: dict[str, list[CheckSpec]] = {host: [] for host in hosts}
    for spec in plan.checks:
        checks_of[spec.host].append(spec)
    agents = {}
    for host in hosts:
        checks = checks_of[host]
        labels = _agent_labels(environment, host, host_ids)
        if settings.target == "sensu-go":
            files = {"agent.yml": sensu_go.agent_config(host, labels, settings)}
        else:
            files = {"conf.d/client.json": sensu_classic.client_definition(host, labels, settings),
                     **_classic_connection(settings), **_classic_checks(checks, settings)}
        agents[sensu_safe(host)] = AgentContent(host, [subscription(host)], checks, files)
    rendered = RenderedMonitoring(environment, settings.target, plan.checks, plan.skipped,
                                  dict(sorted(backend.items())), agents)
    problems = _problems(rendered)
    if problems:
        raise MonitoringError("rendered monitoring is not valid: " + "; ".join(problems))
    return rendered


def _serialise(path: str, doc: Doc) -> str:
    if path.endswith((".yml", ".yaml")):
        return yaml.safe_dump(doc, sort_keys=True, default_flow_style=False)
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def files_of(rendered: RenderedMonitoring) -> dict[str, str]:
    """Every file's path (relative to the output directory) and text, sorted by path."""
    files = {f"{BACKEND}/{path}": doc for path, doc in rendered.backend.items()}
    files |= {f"{AGENTS}/{host}/{path}": doc for host, agent in rendered.agents.items()
              for path, doc in agent.files.items()}
    for path in files:
        parts = PurePosixPath(path).parts
        # Names come from the inventory: none may climb out of the output directory.
        if PurePosixPath(path).is_absolute() or any(p in (".", "..") for p in parts):
            raise MonitoringError(f"refusing to write {path!r} outside the output directory")
    return {path: _serialise(path, files[path]) for path in sorted(files)}


def marker_text(rendered: RenderedMonitoring) -> str:
    """What the marker file of an output directory says: the flavour and environment in it."""
    return f"{rendered.target} {rendered.environment}\n"


def write_files(rendered: RenderedMonitoring, out_dir: str | os.PathLike[str],
                files: Mapping[str, str] | None = None) -> list[str]:
    """Write every file under out_dir, replacing what an earlier write_files left there (so no
    resource of a vanished object lingers to be applied again). A directory holding anything
    else is refused. `files` is files_of(rendered), when the caller has it already. Returns the
    relative paths written."""
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise MonitoringError(f"{out} holds files Calipso did not write: choose an empty or new "
                              "directory")
    files = files_of(rendered) if files is None else files
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for path, text in files.items():
            target = staging / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        (staging / MARKER).write_text(marker_text(rendered))
        # Swap the whole directory, so a reader never sees half of one render and half of another.
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            out.rename(old / "previous")
        staging.rename(out)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return list(files)
