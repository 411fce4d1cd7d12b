"""Sensu Go resources for the monitoring model, as `sensuctl create` reads them, and their
validation as Sensu Go itself validates them.

Every document is a wrapped `core/v2` resource: {"type", "api_version", "metadata", "spec"}.
Per monitored object: a CheckConfig (published to the subscription of the host that runs it,
reporting under the object's proxy entity) and that proxy Entity (carrying the calipso_* labels
the results handler reads). Per environment: the pipe Handler running `calipso-sensu-handler`, and
the EventFilter that passes it state changes only. Per host: the agent's agent.yml settings.

The rules in `validate_go_resource` follow Sensu Go's own (api/core/v2: the Validate methods of
CheckConfig, Entity, Handler and EventFilter, and the name patterns of validators.go) and the
field types of its resource reference; unknown fields are reported, because Sensu would keep a
misspelt one silently as a custom attribute.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from typing import Any, Final

from calipso_core.monitoring.checks import CheckSpec, MonitoringSettings, sensu_safe, subscription

Doc = dict[str, Any]

API_VERSION: Final = "core/v2"
STATE_FILTER: Final = "calipso-state-changes"
HANDLER_PROGRAM: Final = "calipso-sensu-handler"
# Sensu Go's NameRegex and SubscriptionNameRegex (Go's \w is ASCII).
NAME = re.compile(r"\A[\w.\-]+\Z", re.ASCII)
SUBSCRIPTION_NAME = re.compile(r"\A[\w.\-]+:?[\w.\-]+\Z", re.ASCII)
ENV_VAR = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*=")
OUTPUT_METRIC_FORMATS: Final = ("nagios_perfdata", "graphite_plaintext", "opentsdb_line",
                                "influxdb_line", "prometheus_text")
UINT32_MAX: Final = 2**32 - 1
METADATA_KEYS: Final = frozenset({"name", "namespace", "labels", "annotations", "created_by"})
SPEC_KEYS: Final = {
    "CheckConfig": frozenset({
        "command", "handlers", "high_flap_threshold", "interval", "low_flap_threshold",
        "publish", "runtime_assets", "subscriptions", "proxy_entity_name", "check_hooks",
        "stdin", "subdue", "cron", "ttl", "timeout", "proxy_requests", "round_robin",
        "output_metric_format", "output_metric_handlers", "output_metric_tags",
        "output_metric_thresholds", "env_vars", "max_output_size", "discard_output", "secrets",
        "pipelines", "scheduler"}),
    "Entity": frozenset({
        "entity_class", "subscriptions", "system", "last_seen", "deregister", "deregistration",
        "user", "redact", "sensu_agent_version"}),
    "Handler": frozenset({
        "type", "mutator", "command", "timeout", "socket", "handlers", "filters", "env_vars",
        "runtime_assets", "secrets"}),
    "EventFilter": frozenset({"action", "expressions", "runtime_assets"}),
}


def _resource(kind: str, name: str, settings: MonitoringSettings, spec: Doc,
              labels: Mapping[str, str] | None = None) -> Doc:
    return {"type": kind, "api_version": API_VERSION,
            "metadata": {"name": name, "namespace": settings.namespace,
                         "labels": dict(labels or {}), "annotations": {}},
            "spec": spec}


def check_config(spec: CheckSpec, settings: MonitoringSettings) -> Doc:
    # The agent runs the command through a shell: shlex.join keeps every argument one word,
    # whatever a host named its devices.
    return _resource("CheckConfig", spec.name, settings, {
        "command": shlex.join(spec.command_argv),
        "interval": spec.interval,
        "timeout": spec.timeout,
        "subscriptions": [spec.subscription],
        "publish": True,
        "round_robin": False,
        "proxy_entity_name": spec.proxy_entity,
        "handlers": [settings.handler],
        "output_metric_format": "nagios_perfdata",
        "output_metric_handlers": [],
        "stdin": False,
        "runtime_assets": [],
    }, spec.labels)


def proxy_entity(spec: CheckSpec, settings: MonitoringSettings) -> Doc:
    # Created up front, not left to the first check result, so that it carries the labels.
    return _resource("Entity", spec.proxy_entity, settings,
                     {"entity_class": "proxy", "subscriptions": []}, spec.labels)


def handler_command(environment: str, settings: MonitoringSettings) -> str:
    store = ["--store", settings.store] if settings.store else []
    return shlex.join([HANDLER_PROGRAM, *store, "--environment", environment])


def handler(environment: str, settings: MonitoringSettings) -> Doc:
    return _resource("Handler", settings.handler, settings, {
        "type": "pipe",
        "command": handler_command(environment, settings),
        "filters": [STATE_FILTER],
        "timeout": settings.handler_timeout,
        "env_vars": [],
        "runtime_assets": [],
    })


def state_filter(settings: MonitoringSettings) -> Doc:
    # occurrences counts consecutive results of the same status (OK included) and restarts at 1
    # on every change: the first result of an object, each change, and a periodic restatement.
    return _resource("EventFilter", STATE_FILTER, settings, {
        "action": "allow",
        "expressions": [f"event.check.occurrences == 1 || "
                        f"event.check.occurrences % {settings.restate_every} == 0"],
        "runtime_assets": [],
    })


def agent_config(host: str, labels: Mapping[str, str], settings: MonitoringSettings) -> Doc:
    """The Calipso part of a host's /etc/sensu/agent.yml; the deployment adds backend-url and
    credentials. The agent entity's labels name the host object, so that its keepalive events
    reach the handler as that object's status."""
    return {"name": sensu_safe(host), "namespace": settings.namespace,
            "subscriptions": [subscription(host)], "labels": dict(labels),
            "keepalive-handlers": [settings.handler]}


def resources(environment: str, checks: list[CheckSpec], settings: MonitoringSettings) -> list[Doc]:
    """Every backend resource of an environment: the filter, the handler, the proxy entities,
    then the checks (in the order of `checks`)."""
    return [state_filter(settings), handler(environment, settings),
            *(proxy_entity(spec, settings) for spec in checks),
            *(check_config(spec, settings) for spec in checks)]


class _Problems:
    """Collects what is wrong with one document, each problem prefixed with where it is."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.found: list[str] = []

    def add(self, field: str, problem: str) -> None:
        self.found.append(f"{self.where}: {field} {problem}")

    def string(self, doc: Mapping[str, Any], key: str, *, required: bool = False,
               pattern: re.Pattern[str] | None = None, prefix: str = "") -> None:
        if key not in doc:
            if required:
                self.add(prefix + key, "is required")
            return
        value = doc[key]
        if not isinstance(value, str):
            self.add(prefix + key, f"must be a string, not {type(value).__name__}")
        elif required and not value:
            self.add(prefix + key, "must not be empty")
        elif pattern is not None and value and not pattern.match(value):
            self.add(prefix + key, f"{value!r} may hold only letters, digits, '_', '.' and '-'")

    def strings(self, doc: Mapping[str, Any], key: str, *, required: bool = False,
                item: Callable[[str], str | None] | None = None) -> None:
        if key not in doc:
            if required:
                self.add(key, "is required")
            return
        value = doc[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.add(key, "must be a list of strings")
            return
        if required and not value:
            self.add(key, "must not be empty")
        for entry in value:
            problem = item(entry) if item else None
            if problem:
                self.add(key, f"entry {entry!r} {problem}")

    def boolean(self, doc: Mapping[str, Any], key: str) -> None:
        if key in doc and not isinstance(doc[key], bool):
            self.add(key, "must be true or false")

    def uint32(self, doc: Mapping[str, Any], key: str, *, minimum: int = 0,
               required: bool = False) -> None:
        if key not in doc:
            if required:
                self.add(key, "is required")
            return
        value = doc[key]
        if not isinstance(value, int) or isinstance(value, bool) or \
                not minimum <= value <= UINT32_MAX:
            self.add(key, f"must be an integer from {minimum} to {UINT32_MAX}, not {value!r}")

    def string_map(self, doc: Mapping[str, Any], key: str, prefix: str = "") -> None:
        value = doc.get(key, {})
        if not isinstance(value, dict) or not all(
                isinstance(k, str) and k and isinstance(v, str) for k, v in value.items()):
            self.add(prefix + key, "must map non-empty strings to strings")

    def unknown(self, doc: Mapping[str, Any], known: frozenset[str], prefix: str) -> None:
        for key in sorted(set(doc) - known):
            self.add(prefix + key, "is not a field Sensu Go knows")


def _name_problem(value: str) -> str | None:
    return None if NAME.match(value) else "is not a Sensu name"


def _not_empty(value: str) -> str | None:
    return None if value else "must not be empty"


def _env_var_problem(value: str) -> str | None:
    return None if ENV_VAR.match(value) else "must read KEY=VALUE"


def validate_go_resource(doc: Any) -> list[str]:
    """What is wrong with a wrapped Sensu Go resource, as messages; empty when it is valid."""
    if not isinstance(doc, dict):
        return ["resource: must be a mapping"]
    kind = doc.get("type")
    metadata = doc.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    problems = _Problems(f"{kind} {name}" if isinstance(name, str) else str(kind))
    problems.unknown(doc, frozenset({"type", "api_version", "metadata", "spec"}), "")
    if kind not in SPEC_KEYS:
        problems.add("type", f"must be one of {', '.join(sorted(SPEC_KEYS))}, not {kind!r}")
    if doc.get("api_version") != API_VERSION:
        problems.add("api_version", f"must be {API_VERSION}")
    if not isinstance(metadata, dict):
        problems.add("metadata", "must be a mapping")
    else:
        problems.unknown(metadata, METADATA_KEYS, "metadata.")
        problems.string(metadata, "name", required=True, pattern=NAME, prefix="metadata.")
        problems.string(metadata, "namespace", required=True, pattern=NAME, prefix="metadata.")
        problems.string_map(metadata, "labels", "metadata.")
        problems.string_map(metadata, "annotations", "metadata.")
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        problems.add("spec", "must be a mapping")
    elif kind in SPEC_KEYS:
        problems.where += " spec"
        problems.unknown(spec, SPEC_KEYS[kind], "")
        {"CheckConfig": _check_spec, "Entity": _entity_spec, "Handler": _handler_spec,
         "EventFilter": _filter_spec}[kind](spec, problems)
    return problems.found


def _check_spec(spec: Doc, problems: _Problems) -> None:
    problems.string(spec, "command", required=True)
    problems.string(spec, "cron")
    if spec.get("cron"):
        if spec.get("interval"):
            problems.add("interval", "must not be set with a cron schedule")
    else:
        problems.uint32(spec, "interval", minimum=1, required=True)
    problems.uint32(spec, "timeout")
    for key in ("publish", "round_robin", "stdin", "discard_output"):
        problems.boolean(spec, key)
    # A published check goes to its subscribers: without any it never runs.
    problems.strings(spec, "subscriptions", required=spec.get("publish", False) is True,
                     item=_not_empty)
    for key in ("handlers", "output_metric_handlers", "runtime_assets"):
        problems.strings(spec, key, item=_name_problem)
    problems.strings(spec, "env_vars", item=_env_var_problem)
    problems.string(spec, "proxy_entity_name", pattern=NAME)
    problems.string(spec, "output_metric_format")
    if spec.get("output_metric_format") not in (None, "", *OUTPUT_METRIC_FORMATS):
        problems.add("output_metric_format", f"must be one of {', '.join(OUTPUT_METRIC_FORMATS)}")
    if "ttl" in spec:
        ttl, interval = spec["ttl"], spec.get("interval")
        if not isinstance(ttl, int) or isinstance(ttl, bool):
            problems.add("ttl", "must be an integer")
        elif ttl > 0 and isinstance(interval, int) and ttl <= interval:
            problems.add("ttl", "must be greater than the interval")
    problems.uint32(spec, "low_flap_threshold")
    problems.uint32(spec, "high_flap_threshold")
    low, high = spec.get("low_flap_threshold"), spec.get("high_flap_threshold")
    if isinstance(low, int) and isinstance(high, int) and low and high and low >= high:
        problems.add("low_flap_threshold", "must be below high_flap_threshold")


def _entity_spec(spec: Doc, problems: _Problems) -> None:
    problems.string(spec, "entity_class", required=True, pattern=NAME)
    problems.strings(spec, "subscriptions", item=_not_empty)
    problems.boolean(spec, "deregister")
    problems.strings(spec, "redact")


def _handler_spec(spec: Doc, problems: _Problems) -> None:
    problems.string(spec, "type", required=True)
    kind = spec.get("type")
    if kind == "pipe":
        problems.string(spec, "command", required=True)
    elif kind == "set":
        problems.strings(spec, "handlers", required=True, item=_name_problem)
    elif kind in ("tcp", "udp"):
        socket = spec.get("socket")
        if not isinstance(socket, dict):
            problems.add("socket", "is required for tcp and udp handlers")
        else:
            problems.string(socket, "host", required=True, prefix="socket.")
            port = socket.get("port")
            if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
                problems.add("socket.port", "must be a port number")
    elif kind != "grpc":
        problems.add("type", f"must be pipe, set, tcp, udp or grpc, not {kind!r}")
    problems.strings(spec, "filters", item=_name_problem)
    problems.strings(spec, "runtime_assets", item=_name_problem)
    problems.strings(spec, "env_vars", item=_env_var_problem)
    problems.uint32(spec, "timeout")
    problems.string(spec, "mutator", pattern=NAME)


def _filter_spec(spec: Doc, problems: _Problems) -> None:
    if spec.get("action") not in ("allow", "deny"):
        problems.add("action", f"must be allow or deny, not {spec.get('action')!r}")
    problems.strings(spec, "expressions", required=True, item=_not_empty)
    problems.strings(spec, "runtime_assets", item=_name_problem)


def validate_agent_config(config: Any) -> list[str]:
    """What is wrong with the Calipso part of an agent.yml, as messages."""
    if not isinstance(config, dict):
        return ["agent.yml: must be a mapping"]
    problems = _Problems(f"agent.yml of {config.get('name')}")
    problems.string(config, "name", required=True, pattern=NAME)
    problems.string(config, "namespace", required=True, pattern=NAME)
    problems.strings(config, "subscriptions", required=True,
                     item=lambda s: None if SUBSCRIPTION_NAME.match(s) else
                     "is not a Sensu subscription name")
    problems.strings(config, "keepalive-handlers", item=_name_problem)
    problems.string_map(config, "labels")
    return problems.found
