"""An environment's monitoring from the stored inventory to files ready to deploy.

`playbooks/monitoring.yml` (through the `calipso.topology.monitoring_render` module) and
`calipso monitoring render` both come here: the settings as an operator writes them (inventory
vars, YAML) are checked, the committed inventory is read from the store, rendered, and the output
directory is rewritten only when a file would change, so that deploying twice changes nothing.

    settings = settings_from_mapping({"target": "sensu-classic", "intervals": {"otep": 30}})
    result = render_to_directory(store, "lab", settings, "/var/lib/calipso/monitoring/lab")
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from calipso_core.monitoring.checks import MonitoringError, MonitoringSettings, RabbitMQSettings
from calipso_core.monitoring.render import (
    MARKER,
    RenderedMonitoring,
    files_of,
    marker_text,
    render,
    write_files,
)
from calipso_core.store import MongoStore

SETTING_NAMES = frozenset(f.name for f in dataclasses.fields(MonitoringSettings))
RABBITMQ_NAMES = frozenset(f.name for f in dataclasses.fields(RabbitMQSettings))


def settings_from_mapping(values: Mapping[str, Any] | None) -> MonitoringSettings:
    """MonitoringSettings from an operator's mapping (absent keys keep their defaults). A
    misspelt key is an error, not silently ignored; `rabbitmq: null` writes no rabbitmq.json."""
    values = dict(values or {})
    unknown = sorted(set(values) - SETTING_NAMES)
    if unknown:
        raise MonitoringError(f"unknown monitoring settings: {', '.join(unknown)} (known: "
                              f"{', '.join(sorted(SETTING_NAMES))})")
    for name in ("intervals", "timeouts"):
        if not isinstance(values.get(name, {}), Mapping):
            raise MonitoringError(f"{name} must be a mapping of object type to seconds")
    if values.get("rabbitmq") is not None:
        values["rabbitmq"] = _rabbitmq(values["rabbitmq"])
    return MonitoringSettings(**values)


def _rabbitmq(values: Any) -> RabbitMQSettings:
    if not isinstance(values, Mapping):
        raise MonitoringError("rabbitmq must be a mapping of host, port, vhost, user")
    if "password" in values:
        raise MonitoringError("rabbitmq.password does not belong in the settings: the agent "
                              "role writes it from sensu_agent_rabbitmq_password (Vault)")
    unknown = sorted(set(values) - RABBITMQ_NAMES)
    if unknown:
        raise MonitoringError(f"unknown rabbitmq settings: {', '.join(unknown)}")
    port = values.get("port", RabbitMQSettings.port)
    if not (isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536):
        raise MonitoringError(f"rabbitmq.port must be a TCP port, not {port!r}")
    texts = {k: v for k, v in values.items() if k != "port"}
    wrong = sorted(k for k, v in texts.items() if not isinstance(v, str) or not v)
    if wrong:
        raise MonitoringError(f"rabbitmq {', '.join(wrong)} must be non-empty strings")
    return RabbitMQSettings(**values)


@dataclass
class RenderResult:
    """What a render did to the output directory: files by relative path."""

    rendered: RenderedMonitoring
    added: list[str]
    changed: list[str]
    removed: list[str]
    written: bool

    @property
    def differs(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def _existing_files(out: Path) -> dict[str, str]:
    if not out.is_dir():
        return {}
    return {str(path.relative_to(out)): path.read_text() for path in sorted(out.rglob("*"))
            if path.is_file() and path.name != MARKER}


def render_inventory(store: MongoStore, environment: str,
                     settings: MonitoringSettings) -> RenderedMonitoring:
    """The environment's committed inventory, rendered; an environment never discovered is an
    error, since rendering nothing would take every check away."""
    objects = store.find("objects", environment)
    if not objects:
        raise MonitoringError(f"the inventory holds nothing for environment {environment!r}: "
                              "discover it first")
    return render(environment, objects, store.find("links", environment), settings)


def render_to_directory(store: MongoStore, environment: str, settings: MonitoringSettings,
                        out_dir: str | Path, dry_run: bool = False) -> RenderResult:
    """Render the environment into out_dir, rewriting it only when a file differs (never in a
    dry run); the result says which files were added, changed or removed."""
    rendered = render_inventory(store, environment, settings)
    out = Path(out_dir)
    new = files_of(rendered)
    old = _existing_files(out)
    result = RenderResult(
        rendered,
        added=sorted(set(new) - set(old)),
        changed=sorted(p for p in set(new) & set(old) if new[p] != old[p]),
        removed=sorted(set(old) - set(new)),
        written=False)
    marker = out / MARKER
    stale_marker = not marker.is_file() or marker.read_text() != marker_text(rendered)
    if not dry_run and (result.differs or stale_marker):
        write_files(rendered, out, new)
        result.written = True
    return result
