"""Where scans write and what they reach: the store and each environment's Ansible inventory, from
one YAML file (the scheduler's `--config`; the API can read the same keys from its own):

    store: /var/lib/calipso/inventory.db     # or mongodb://...; default $CALIPSO_STORE, then
                                             # /var/lib/calipso/inventory.db
    environments:
      lab:
        inventory: ../inventories/lab/hosts.yml   # relative to this file's folder
        extravars:                                # optional: for the discovery playbook only,
          calipso_cloud: calipso-lab-demo         # never recorded

A misspelt key is an error, not a silently ignored setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from calipso_core.scans.requests import EnvironmentTarget
from calipso_core.store import store_url


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or wrong; the message says where."""


@dataclass(frozen=True)
class ScanConfig:
    store: str
    """The store's URL or file, as `open_store` and the discovery playbook take it."""
    environments: dict[str, EnvironmentTarget]


def _mapping(value: Any, where: str, allowed: set[str] | None = None) -> Mapping[str, Any]:
    """value, if it is a mapping with no other keys than allowed (any, if None)."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping")
    unknown = sorted(set(value) - allowed) if allowed is not None else []
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}"
                          f" (expected {', '.join(sorted(allowed))})")
    return value


def environments_from(value: Any, base: Path, where: str = "environments"
                      ) -> dict[str, EnvironmentTarget]:
    """The `environments` mapping: name -> inventory (relative to base) and extravars."""
    environments = {}
    for name, entry in _mapping(value, where).items():
        fields = _mapping(entry, f"{where}.{name}", {"inventory", "extravars"})
        if not isinstance(fields.get("inventory"), str):
            raise ConfigError(f"{where}.{name}.inventory: expected the inventory's path")
        extravars = _mapping(fields.get("extravars") or {}, f"{where}.{name}.extravars")
        environments[str(name)] = EnvironmentTarget(base / fields["inventory"], extravars)
    return environments


def load_config(path: Path) -> ScanConfig:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    top = _mapping(data, str(path), {"store", "environments"})
    store = store_url(top.get("store"))
    if not isinstance(store, str):
        raise ConfigError(f"{path}: store: expected a URL or a file path")
    environments = environments_from(top.get("environments") or {}, path.parent,
                                     f"{path}: environments")
    if not environments:
        raise ConfigError(f"{path}: no environments to scan")
    return ScanConfig(store, environments)
