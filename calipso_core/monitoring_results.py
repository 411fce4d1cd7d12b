"""Check results coming back from Sensu: each object's status (with a short history) and its
messages, deduplicated while a problem lasts and cleared when the check returns to OK.

Events arrive in either shape: Sensu Go (the proxy entity's and the check's labels name the
object) or Sensu classic (the check definition carries the same `calipso_*` attributes). A result
for an object the inventory no longer holds is reported, not recorded and not an error.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from calipso_core.store import MongoStore, StoreError, open_store
from calipso_core.store.mongo import iso

Doc = dict[str, Any]
STATUS = "status"
MESSAGES = "messages"
HISTORY_LENGTH = 20
SEVERITIES = {0: "ok", 1: "warning", 2: "critical"}
LABELS = ("calipso_object_id", "calipso_object_type", "calipso_environment")


class BadEvent(ValueError):
    """The input is not a Sensu event Calipso can attribute to an object."""


@dataclass(frozen=True)
class CheckResult:
    environment: str
    object_id: str
    object_type: str | None
    check: str
    status_code: int
    output: str
    executed: str  # ISO 8601, UTC

    @property
    def severity(self) -> str:
        return SEVERITIES.get(self.status_code, "unknown")


@dataclass(frozen=True)
class RecordOutcome:
    known_object: bool
    status: str
    status_changed: bool
    active_messages: int


def _iso(epoch: Any) -> str:
    moment = datetime.fromtimestamp(epoch, UTC) if isinstance(epoch, int | float) and epoch > 0 \
        else datetime.now(UTC)
    return iso(moment)


def _labels(*sources: Mapping[str, Any] | None) -> dict[str, str]:
    found: dict[str, str] = {}
    for source in sources:
        for key in LABELS:
            value = (source or {}).get(key)
            if isinstance(value, str) and value and key not in found:
                found[key] = value
    return found


def parse_event(event: Any, default_environment: str | None = None) -> CheckResult:
    """A check result from a Sensu Go or Sensu classic event."""
    if not isinstance(event, dict) or not isinstance(event.get("check"), dict):
        raise BadEvent("not a Sensu event: no check")
    check = event["check"]
    if isinstance(event.get("entity"), dict):  # Sensu Go
        entity_meta = event["entity"].get("metadata") or {}
        check_meta = check.get("metadata") or {}
        labels = _labels(entity_meta.get("labels"), check_meta.get("labels"))
        name = check_meta.get("name")
    else:  # Sensu classic: custom attributes of the check definition come back in the event
        labels = _labels(check, check.get("calipso"))
        name = check.get("name")
    object_id = labels.get("calipso_object_id")
    environment = labels.get("calipso_environment") or default_environment
    if not object_id or not environment or not isinstance(name, str):
        raise BadEvent("the event names no Calipso object, environment or check")
    status = check.get("status")
    if not isinstance(status, int) or isinstance(status, bool):
        raise BadEvent(f"check status must be an integer, got {status!r}")
    return CheckResult(environment, object_id, labels.get("calipso_object_type"), name, status,
                       str(check.get("output") or "").strip()[:4000], _iso(check.get("executed")))


def record(store: MongoStore, result: CheckResult) -> RecordOutcome:
    """Record a result: the object's status and history, and its messages (one per problem,
    counted while it lasts, cleared on OK)."""
    if store.get("objects", result.environment, result.object_id) is None:
        return RecordOutcome(False, result.severity, False, 0)
    with store.transaction(write=True):
        key = f"{result.environment}:{result.object_id}:{result.check}"
        statuses = store.records(STATUS)
        previous = statuses.find_one({"_id": key}) or {}
        changed = previous.get("status") != result.severity
        history = [*previous.get("history", []),
                   {"time": result.executed, "status": result.severity}][-HISTORY_LENGTH:]
        status = {
            "environment": result.environment, "object_id": result.object_id,
            "object_type": result.object_type, "check": result.check,
            "status": result.severity, "status_code": result.status_code,
            "output": result.output, "updated": result.executed,
            "since": result.executed if changed else previous.get("since", result.executed),
            "history": history}
        if previous:
            statuses.update_one({"_id": key}, {"$set": status})
        else:
            statuses.insert_one({"_id": key, **status})
        messages = store.records(MESSAGES)
        active = {"environment": result.environment, "object_id": result.object_id,
                  "check": result.check, "state": "active"}

        def clear_active() -> None:
            for message in messages.find(active):
                messages.update_one({"_id": message["_id"]}, {"$set": {
                    "state": "cleared", "cleared_at": result.executed}})

        if result.status_code == 0:
            clear_active()
            return RecordOutcome(True, result.severity, changed, 0)
        current = messages.find_one({**active, "severity": result.severity})
        if current is None:
            clear_active()  # a new problem, or a change of severity: the previous one is over
            messages.insert_one({
                # Unique even for two problems of one check within one `executed` second.
                "_id": uuid.uuid4().hex, **active, "severity": result.severity,
                "object_type": result.object_type, "message": result.output, "count": 1,
                "first_seen": result.executed, "last_seen": result.executed,
                "acknowledged": False})
        else:
            messages.update_one({"_id": current["_id"]}, {
                "$set": {"message": result.output, "last_seen": result.executed},
                "$inc": {"count": 1}})
        return RecordOutcome(True, result.severity, changed, 1)


def statuses(store: MongoStore, environment: str, object_id: str | None = None) -> list[Doc]:
    query = {"environment": environment, **({"object_id": object_id} if object_id else {})}
    with store.transaction(write=False):
        return [{k: v for k, v in d.items() if k != "_id"}
                for d in store.records(STATUS).find(query)]


def messages(store: MongoStore, environment: str, **match: Any) -> list[Doc]:
    query = {"environment": environment, **match}
    with store.transaction(write=False):
        return [{k: v for k, v in d.items() if k != "_id"} | {"id": d["_id"]}
                for d in store.records(MESSAGES).find(query)]


def handle(raw: str, store: MongoStore, default_environment: str | None = None) -> str:
    """The handler's work on one event text: a one-line report of what was recorded."""
    try:
        event = json.loads(raw)
    except ValueError as exc:
        raise BadEvent(f"not JSON: {exc}") from exc
    result = parse_event(event, default_environment)
    outcome = record(store, result)
    if not outcome.known_object:
        return (f"ignored: {result.object_id} is not in the inventory of {result.environment} "
                f"(check {result.check}, {result.severity})")
    return (f"recorded: {result.object_id} {result.severity}"
            f"{' (changed)' if outcome.status_changed else ''}, "
            f"{outcome.active_messages} active message(s) for {result.check}")


def main(argv: list[str] | None = None) -> int:
    """calipso-sensu-handler: one Sensu event (Go or classic) on stdin, recorded in the store."""
    parser = argparse.ArgumentParser(prog="calipso-sensu-handler", description=main.__doc__)
    parser.add_argument("--store", default=None,
                        help="mongodb://... or the embedded store's path (default: "
                             "$CALIPSO_STORE, else /var/lib/calipso/inventory.db)")
    parser.add_argument("--environment", default=None,
                        help="environment for events whose labels name none")
    args = parser.parse_args(argv)
    try:
        print(handle(sys.stdin.read(), open_store(args.store), args.environment))
    except BadEvent as exc:
        print(f"calipso-sensu-handler: bad event: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"calipso-sensu-handler: {exc}", file=sys.stderr)
        return 1
    return 0
