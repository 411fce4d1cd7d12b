"""calipso-api: the REST API served by gunicorn, configured by one YAML file.

    store: /var/lib/calipso/inventory.db   # or mongodb://host/calipso; absent: $CALIPSO_STORE,
                                           # else the embedded default (a password stays out of
                                           # this file: put such a URL in $CALIPSO_STORE)
    bind: 127.0.0.1:8757                   # host:port; default 127.0.0.1:8757
    workers: 2                             # processes; default 2
    threads: 4                             # threads per process; default 4
    token_ttl_seconds: 28800               # lifetime of a login's token; default 8 h
    max_body_bytes: 65536                  # largest request body; default 64 KiB
    types_dir: /etc/calipso/types          # the model's override directory; default
                                           # $CALIPSO_TYPES_DIR, as for discovery
    access_log: true                       # one line per request on stdout; default true
    ldap: {...}                            # calipso_api.auth.ldap.LdapSettings.from_mapping
    environments:                          # what POST .../scans may scan, as the scheduler's
      lab:                                 # configuration (calipso_core.scans.config) says:
        inventory: inventories/lab/hosts.yml   # relative to this file's folder
        extravars: {calipso_cloud: lab}        # for the playbook only, never answered
                                           # absent: the scan routes answer 503
                                           # scans_unavailable; schedules are run by
                                           # calipso-scheduler, from its own configuration

A misspelt key is an error. The configuration is checked (the LDAP settings parsed, the store
opened once) before gunicorn starts, so that a mistake stops the command with a message instead
of every worker dying; each worker then opens its own store and directory client after the fork
(a MongoDB client must not cross a fork), and its own scan service: a scan runs in a thread of
the worker that started it, and the store's slot keeps one scan per environment across them.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final

import falcon
import yaml
from gunicorn.app.base import BaseApplication

from calipso_api.app import ApiSettings, create_app
from calipso_api.security import Authenticator
from calipso_core.model.types import load_registry
from calipso_core.scans import ConfigError as ScanConfigError
from calipso_core.scans import (
    EnvironmentTarget,
    EnvironmentUnavailable,
    ScanService,
    Schedules,
)
from calipso_core.scans.config import environments_from
from calipso_core.scans.requests import inventory_hosts
from calipso_core.store import STORE_ENV, StoreError, open_store

DEFAULT_BIND: Final = "127.0.0.1:8757"


class ConfigError(ValueError):
    """A configuration that cannot be served; the message names the key."""


@dataclass(frozen=True)
class ServerConfig:
    ldap: dict[str, Any]
    store: str | None = None
    bind: str = DEFAULT_BIND
    workers: int = 2
    threads: int = 4
    token_ttl_seconds: float = 8 * 3600
    max_body_bytes: int = 64 * 1024
    types_dir: str | None = None
    access_log: bool = True
    environments: dict[str, EnvironmentTarget] = field(default_factory=dict)
    """The environments scans reach, read by calipso_core.scans.config's own reader."""

    @property
    def api(self) -> ApiSettings:
        return ApiSettings(self.max_body_bytes, self.types_dir)


# What each key must hold: (accepted types, further check, what the message says it must be).
_CHECKS: Final = {
    "ldap": ((dict,), lambda v: True, "a mapping (calipso_api.auth.ldap settings)"),
    "store": ((str, type(None)), lambda v: v != "", "a store URL or path"),
    "bind": ((str,), lambda v: v.rpartition(":")[2].isdigit(), "host:port"),
    "workers": ((int,), lambda v: 1 <= v <= 64, "an integer from 1 to 64"),
    "threads": ((int,), lambda v: 1 <= v <= 256, "an integer from 1 to 256"),
    "token_ttl_seconds": ((int, float), lambda v: v > 0, "a positive number of seconds"),
    "max_body_bytes": ((int,), lambda v: 1024 <= v <= 16 * 2**20,
                       "an integer from 1024 to 16777216"),
    "types_dir": ((str, type(None)), lambda v: v is None or Path(v).is_dir(), "a directory"),
    "access_log": ((bool,), lambda v: True, "true or false"),
    "environments": ((dict,), lambda v: True, "a mapping of environment names to their"
                     " Ansible inventory"),
}


def load_config(path: Path) -> ServerConfig:
    """The configuration in a YAML file (see the module doc)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings")
    known = [f.name for f in fields(ServerConfig)]
    unknown = sorted(set(data) - set(known), key=str)
    if unknown:
        raise ConfigError(f"{path}: unknown keys {unknown}; known keys: {known}")
    if "ldap" not in data:
        raise ConfigError(f"{path}: ldap is required (how users log in)")
    for key, value in data.items():
        types, check, expected = _CHECKS[key]
        # bool is an int to Python, never a count of workers here.
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types) \
                or not check(value):
            raise ConfigError(f"{path}: {key} must be {expected}, got {value!r}")
    if "environments" in data:
        try:
            data["environments"] = environments_from(data["environments"], path.parent,
                                                     f"{path}: environments")
        except ScanConfigError as exc:
            raise ConfigError(str(exc)) from None
    return ServerConfig(**data)


def build_authenticator(config: ServerConfig) -> Authenticator:
    """The LDAP authenticator; imported here so that a deployment's errors in the LDAP settings
    come out as ConfigError, and the API module does not need ldap3 to be imported."""
    from calipso_api.auth.ldap import LdapAuthenticator, LdapSettings, LdapSettingsError

    try:
        return LdapAuthenticator(LdapSettings.from_mapping(config.ldap))
    except LdapSettingsError as exc:
        raise ConfigError(str(exc)) from None


def build_app(config: ServerConfig) -> falcon.App:
    """The application with the real store, LDAP and stored tokens (one per worker process)."""
    from calipso_api.auth.tokens import StoreTokenService

    store = open_store(config.store)
    tokens = StoreTokenService(store, ttl_seconds=config.token_ttl_seconds)
    scans = schedules = None
    if config.environments:
        # The playbook opens the store itself: by the URL this server was given (None: the
        # embedded store's file, which ScanService takes from the store).
        scans = ScanService(store, config.environments,
                            store_url=config.store or os.environ.get(STORE_ENV))
        schedules = Schedules(store, scans)
    return create_app(store, build_authenticator(config), tokens, config.api, scans, schedules)


class Server(BaseApplication):
    """gunicorn's arbiter and workers around the application; the app is built in each worker
    (gunicorn calls `load` after the fork unless preloading, which stays off)."""

    def __init__(self, config: ServerConfig) -> None:
        self._config = config
        super().__init__(prog="calipso-api")

    def load_config(self) -> None:
        settings = {"bind": [self._config.bind], "workers": self._config.workers,
                    "threads": self._config.threads, "worker_class": "gthread",
                    "proc_name": "calipso-api",
                    # A control socket would sit at one path per user ($HOME/.gunicorn): two
                    # servers (a test and a service) would fight over it.
                    "control_socket_disable": True}
        if self._config.access_log:
            settings["accesslog"] = "-"
        for name, value in settings.items():
            self.cfg.set(name, value)

    def load(self) -> falcon.App:
        return build_app(self._config)


def check(config: ServerConfig) -> None:
    """Fail before serving: bad LDAP settings, a store that does not open, a broken model, an
    environment's Ansible inventory that defines no host."""
    build_authenticator(config)
    try:
        open_store(config.store).close()
        load_registry(config.types_dir or None)
        for target in config.environments.values():
            inventory_hosts(target.inventory)
    # TypeDataError is a ValueError; EnvironmentUnavailable names the inventory.
    except (StoreError, ValueError, EnvironmentUnavailable) as exc:
        raise ConfigError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="calipso-api", description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("/etc/calipso/api.yaml"),
                        help="the YAML configuration (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        check(config)
    except ConfigError as exc:
        print(f"calipso-api: {exc}", file=sys.stderr)
        return 2
    Server(config).run()
    return 0
