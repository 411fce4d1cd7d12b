"""Sensu classic (1.x) configuration for the monitoring model, as JSON files of conf.d, and
their validation as the Sensu 1.x settings loader (sensu-settings) validates them.

The server gets every check (conf.d/checks/<name>.json), the handler running
`calipso-sensu-handler`, the transport and the RabbitMQ connection. Each client gets its
client.json, the transport and connection, and its own checks: clients run in safe mode, executing
only checks defined locally, so a message on the transport cannot make a host run a command
Calipso did not give it.

Checks report under a proxy client (`source`) per object and carry the calipso_* attributes, which
Sensu passes on in events to the handler. They are of type `metric`: Sensu 1.x hands a standard
check's result to handlers only when it is not OK or resolves, so an object that never failed
would never get its OK status recorded.

The RabbitMQ password is never written here: the deployment writes it, from Ansible Vault, into
conf.d/rabbitmq-password.json ({"rabbitmq": {"password": ...}}, mode 0600), which the Sensu
loader merges with rabbitmq.json; or, without a rabbitmq.json, the whole connection comes from
$RABBITMQ_URL in the services' environment.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any, Final

from calipso_core.monitoring.checks import (
    CheckSpec,
    MonitoringSettings,
    RabbitMQSettings,
    sensu_safe,
    subscription,
)
from calipso_core.monitoring.sensu_go import handler_command

Doc = dict[str, Any]

# sensu-settings' pattern for check, client and source names.
NAME = re.compile(r"\A[\w.-]+\Z", re.ASCII)
CHECK_TYPES: Final = ("standard", "metric")
HANDLER_TYPES: Final = ("pipe", "tcp", "udp", "transport", "set")
SEVERITIES: Final = ("ok", "warning", "critical", "unknown")
TRANSPORTS: Final = ("rabbitmq", "redis")


def check_definition(spec: CheckSpec, settings: MonitoringSettings) -> Doc:
    # The client runs the command through a shell: shlex.join keeps every argument one word.
    return {"checks": {spec.name: {
        "command": shlex.join(spec.command_argv),
        "subscribers": [spec.subscription],
        "interval": spec.interval,
        "timeout": spec.timeout,
        "handlers": [settings.handler],
        "source": spec.proxy_entity,
        "standalone": False,
        "type": "metric",
        **spec.labels,
    }}}


def client_definition(host: str, labels: Mapping[str, str], settings: MonitoringSettings) -> Doc:
    """A host's client.json. Its keepalive carries the labels of the host object: Sensu merges the
    keepalive scope into the keepalive check, so the handler records keepalives as the host's
    status. `address` is informational to Sensu; the host's inventory name."""
    return {"client": {
        "name": sensu_safe(host),
        "address": host,
        "subscriptions": [subscription(host)],
        "safe_mode": True,
        "keepalive": {"handlers": [settings.handler], **labels},
    }}


def transport_definition() -> Doc:
    return {"transport": {"name": "rabbitmq", "reconnect_on_error": True}}


def rabbitmq_definition(rabbitmq: RabbitMQSettings) -> Doc:
    return {"rabbitmq": {"host": rabbitmq.host, "port": rabbitmq.port, "vhost": rabbitmq.vhost,
                         "user": rabbitmq.user}}


def handler_definition(environment: str, settings: MonitoringSettings) -> Doc:
    return {"handlers": {settings.handler: {
        "type": "pipe",
        "command": handler_command(environment, settings),
        "timeout": settings.handler_timeout,
    }}}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _check_problems(name: Any, check: Any) -> list[str]:
    where = f"check {name}"
    if not isinstance(check, dict):
        return [f"{where}: must be a hash"]
    problems = []
    if not isinstance(name, str) or not NAME.match(name):
        problems.append(f"{where}: name may hold only letters, digits, '_', '.' and '-'")
    if ("command" in check) == ("extension" in check):
        problems.append(f"{where}: either command or extension must be set")
    for key in ("command", "extension", "handler"):
        if key in check and not isinstance(check[key], str):
            problems.append(f"{where}: {key} must be a string")
    if "timeout" in check and not _is_number(check["timeout"]):
        problems.append(f"{where}: timeout must be numeric")
    if "source" in check and not (isinstance(check["source"], str)
                                  and NAME.match(check["source"])):
        problems.append(f"{where}: source must be a name (letters, digits, '_', '.', '-')")
    for key in ("publish", "standalone"):
        if key in check and not isinstance(check[key], bool):
            problems.append(f"{where}: {key} must be boolean")
    if check.get("publish") is not False and not (_is_int(check.get("interval"))
                                                  and check["interval"] > 0):
        problems.append(f"{where}: interval must be an integer greater than 0")
    if not check.get("standalone") and not _strings(check.get("subscribers")):
        problems.append(f"{where}: subscribers must be an array of strings")
    if "handlers" in check and not _strings(check["handlers"]):
        problems.append(f"{where}: handlers must be an array of strings")
    if "ttl" in check and not (_is_int(check["ttl"]) and check["ttl"] > 0):
        problems.append(f"{where}: ttl must be an integer greater than 0")
    if check.get("type", "standard") not in CHECK_TYPES:
        problems.append(f"{where}: type must be standard or metric")
    for key in ("low_flap_threshold", "high_flap_threshold"):
        if ("low_flap_threshold" in check or "high_flap_threshold" in check) \
                and not _is_int(check.get(key)):
            problems.append(f"{where}: {key} must be an integer (both thresholds or neither)")
    return problems


def _client_problems(client: Any) -> list[str]:
    if not isinstance(client, dict):
        return ["client: must be a hash"]
    problems = []
    if not isinstance(client.get("name"), str) or not NAME.match(client["name"]):
        problems.append("client: name must be a name (letters, digits, '_', '.', '-')")
    if not isinstance(client.get("address"), str):
        problems.append("client: address must be a string")
    if not _strings(client.get("subscriptions")):
        problems.append("client: subscriptions must be an array of strings")
    for key in ("safe_mode", "keepalives"):
        if key in client and not isinstance(client[key], bool):
            problems.append(f"client: {key} must be boolean")
    if "redact" in client and not _strings(client["redact"]):
        problems.append("client: redact must be an array of strings")
    keepalive = client.get("keepalive", {})
    if not isinstance(keepalive, dict):
        return [*problems, "client: keepalive must be a hash"]
    if "handler" in keepalive and not isinstance(keepalive["handler"], str):
        problems.append("client: keepalive handler must be a string")
    if "handlers" in keepalive and not _strings(keepalive["handlers"]):
        problems.append("client: keepalive handlers must be an array of strings")
    thresholds = keepalive.get("thresholds", {})
    if not isinstance(thresholds, dict) or not all(
            _is_int(thresholds[k]) for k in ("warning", "critical") if k in thresholds):
        problems.append("client: keepalive thresholds must be a hash of integers")
    return problems


def _handler_problems(name: Any, handler: Any) -> list[str]:
    where = f"handler {name}"
    if not isinstance(handler, dict):
        return [f"{where}: must be a hash"]
    problems = []
    if not isinstance(name, str) or not NAME.match(name):
        problems.append(f"{where}: name may hold only letters, digits, '_', '.' and '-'")
    kind = handler.get("type")
    if kind not in HANDLER_TYPES:
        problems.append(f"{where}: type must be one of {', '.join(HANDLER_TYPES)}")
    if kind == "pipe" and not isinstance(handler.get("command"), str):
        problems.append(f"{where}: command must be a string")
    if kind == "set" and not _strings(handler.get("handlers")):
        problems.append(f"{where}: handlers must be an array of strings")
    if kind in ("tcp", "udp"):
        socket = handler.get("socket")
        if not (isinstance(socket, dict) and isinstance(socket.get("host"), str)
                and _is_int(socket.get("port"))):
            problems.append(f"{where}: socket must be a hash with a host and an integer port")
    if "filters" in handler and not _strings(handler["filters"]):
        problems.append(f"{where}: filters must be an array of strings")
    for key in ("filter", "mutator"):
        if key in handler and not isinstance(handler[key], str):
            problems.append(f"{where}: {key} must be a string")
    if "severities" in handler and not (_strings(handler["severities"]) and
                                        set(handler["severities"]) <= set(SEVERITIES)):
        problems.append(f"{where}: severities must be among {', '.join(SEVERITIES)}")
    if "timeout" in handler and not _is_number(handler["timeout"]):
        problems.append(f"{where}: timeout must be numeric")
    if "handle_flapping" in handler and not isinstance(handler["handle_flapping"], bool):
        problems.append(f"{where}: handle_flapping must be boolean")
    return problems


def _transport_problems(transport: Any) -> list[str]:
    if not isinstance(transport, dict):
        return ["transport: must be a hash"]
    problems = []
    if transport.get("name", "rabbitmq") not in TRANSPORTS:
        problems.append(f"transport: name must be one of {', '.join(TRANSPORTS)}")
    if "reconnect_on_error" in transport and not isinstance(transport["reconnect_on_error"],
                                                            bool):
        problems.append("transport: reconnect_on_error must be boolean")
    return problems


def _rabbitmq_problems(rabbitmq: Any) -> list[str]:
    if not isinstance(rabbitmq, dict):
        return ["rabbitmq: must be a hash"]
    problems = [f"rabbitmq: {key} must be a string" for key in ("host", "vhost", "user")
                if key in rabbitmq and not isinstance(rabbitmq[key], str)]
    port = rabbitmq.get("port", 5672)
    if not _is_int(port) or not 0 < port < 65536:
        problems.append("rabbitmq: port must be a port number")
    problems += [f"rabbitmq: {key} must be an integer" for key in ("heartbeat", "prefetch")
                 if key in rabbitmq and not _is_int(rabbitmq[key])]
    # Calipso's rule, not Sensu's: the password lives in a root-only file or the environment.
    if "password" in rabbitmq:
        problems.append("rabbitmq: password must not be written in the configuration Calipso "
                        "renders (see rabbitmq-password.json / $RABBITMQ_URL)")
    return problems


def validate_classic_document(doc: Any) -> list[str]:
    """What is wrong with one Sensu classic JSON file's content, as messages; empty when valid."""
    if not isinstance(doc, dict) or not doc:
        return ["document: must be a non-empty hash"]
    problems: list[str] = []
    for key, value in sorted(doc.items()):
        if key == "checks":
            if not isinstance(value, dict):
                problems.append("checks: must be a hash of check definitions")
                continue
            for name, check in sorted(value.items()):
                problems += _check_problems(name, check)
        elif key == "handlers":
            if not isinstance(value, dict):
                problems.append("handlers: must be a hash of handler definitions")
                continue
            for name, handler in sorted(value.items()):
                problems += _handler_problems(name, handler)
        elif key == "client":
            problems += _client_problems(value)
        elif key == "transport":
            problems += _transport_problems(value)
        elif key == "rabbitmq":
            problems += _rabbitmq_problems(value)
        else:
            problems.append(f"{key}: not a settings category Calipso renders")
    return problems
