"""Monitoring status: an environment's summary and one object's checks, from the status records
the Sensu handler writes (`calipso_core.monitoring_results`: one record per object and check,
with its recent history)."""

from __future__ import annotations

from collections import Counter
from typing import Any, Final

import falcon

from calipso_api.access import require_role
from calipso_api.query import parse_query
from calipso_api.resources.inventory import fetch
from calipso_core.monitoring_results import MESSAGES, STATUS
from calipso_core.store import MongoStore

WORST_LAST: Final = ("ok", "unknown", "warning", "critical")
"""Statuses from best to worst: an object's status is the worst of its checks'."""
CHECK_FIELDS: Final = ("check", "status", "status_code", "output", "updated", "since", "history")


def worst(statuses: list[str]) -> str | None:
    rank = {status: index for index, status in enumerate(WORST_LAST)}
    return max(statuses, key=lambda s: rank.get(s, rank["unknown"]), default=None)


class StatusSummary:
    """GET /environments/{environment}/status: checks counted per status and per object type,
    and the active messages."""

    def __init__(self, store: MongoStore) -> None:
        self._store = store

    def on_get(self, req: falcon.Request, resp: falcon.Response, environment: str) -> None:
        parse_query(req, ())
        require_role(req, self._store, environment)
        with self._store.transaction(write=False):
            records = self._store.records(STATUS).find(
                {"environment": environment}, {"_id": 0, "status": 1, "object_type": 1})
            active = self._store.records(MESSAGES).count(
                {"environment": environment, "state": "active"})
        by_type: dict[str, Counter[str]] = {}
        for record in records:
            by_type.setdefault(record.get("object_type") or "unknown", Counter())[
                record["status"]] += 1
        resp.media = {
            "environment": environment, "checks": len(records),
            "by_status": dict(Counter(record["status"] for record in records)),
            "by_object_type": {t: dict(counts) for t, counts in sorted(by_type.items())},
            "active_messages": active}


class ObjectStatus:
    """GET /environments/{environment}/objects/{id}/status (through ObjectPaths): each check of
    the object with its history, and the worst of them; `status` is null for an object no
    check reports on."""

    def __init__(self, store: MongoStore) -> None:
        self._store = store

    def on_get(self, req: falcon.Request, resp: falcon.Response, environment: str,
               item_id: str) -> None:
        parse_query(req, ())
        require_role(req, self._store, environment)
        obj = fetch(self._store, "objects", environment, item_id)
        with self._store.transaction(write=False):
            records = self._store.records(STATUS).find(
                {"environment": environment, "object_id": item_id}, sort=[("check", 1)])
        checks: list[dict[str, Any]] = [{field: record.get(field) for field in CHECK_FIELDS}
                                        for record in records]
        resp.media = {"object_id": item_id, "object_type": obj["type"],
                      "status": worst([check["status"] for check in checks]), "checks": checks}
