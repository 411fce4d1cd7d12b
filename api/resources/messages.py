"""Monitoring messages (`calipso_core.monitoring_results`: one per problem of an object's check,
counted while it lasts, cleared when the check is OK again): the list with its filters, and the
acknowledgement an operator gives one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import falcon

from calipso_api.access import require_role
from calipso_api.errors import invalid_parameter, not_found
from calipso_api.paging import PAGING, counted_page, window
from calipso_api.query import Param, one_of, parse_query, text, timestamp
from calipso_core.monitoring_results import MESSAGES
from calipso_core.store import MongoStore
from calipso_core.store.mongo import now_iso

SEVERITIES: Final = ("warning", "critical", "unknown")
"""What a message can be: an OK result clears messages, it never raises one."""
FILTERS: Final = (Param("severity", one_of(*SEVERITIES)), Param("object_id", text),
                  Param("source", text), Param("state", one_of("active", "cleared")),
                  Param("since", timestamp), Param("until", timestamp))
FIELDS: Final = ("environment", "object_id", "object_type", "check", "severity", "state",
                 "message", "count", "first_seen", "last_seen", "cleared_at", "acknowledged",
                 "acknowledged_by", "acknowledged_at")


def message_filter(environment: str, query: Mapping[str, Any]) -> dict[str, Any]:
    """Messages of the environment matching the filters; since/until keep the messages whose
    life overlaps the range: from first seen to cleared, or to now while active. Stored times are
    fixed-width UTC strings, and `timestamp` gives the bounds in the same form, so they compare
    as strings."""
    if "since" in query and "until" in query and query["since"] > query["until"]:
        raise invalid_parameter("since is after until")
    selection: dict[str, Any] = {"environment": environment}
    for name, field in (("severity", "severity"), ("object_id", "object_id"),
                        ("source", "check"), ("state", "state")):
        if name in query:
            selection[field] = query[name]
    if "since" in query:
        selection["$or"] = [{"state": "active"}, {"last_seen": {"$gte": query["since"]}},
                            {"cleared_at": {"$gte": query["since"]}}]
    if "until" in query:
        selection["first_seen"] = {"$lte": query["until"]}
    return selection


def view(record: Mapping[str, Any]) -> dict[str, Any]:
    """A message as the API shows it: its id and its documented fields, nothing else."""
    return {"id": record["_id"], **{field: record.get(field) for field in FIELDS}}


class Messages:
    """GET /environments/{environment}/messages: newest (last seen) first."""

    def __init__(self, store: MongoStore) -> None:
        self._store = store

    def on_get(self, req: falcon.Request, resp: falcon.Response, environment: str) -> None:
        query = parse_query(req, (*FILTERS, *PAGING))
        selection = message_filter(environment, query)
        require_role(req, self._store, environment)
        at = window(query)
        with self._store.transaction(write=False):
            records = self._store.records(MESSAGES)
            resp.media = counted_page(
                records.count(selection),
                lambda offset, limit: [view(record) for record in records.find(
                    selection, sort=[("last_seen", -1), ("_id", 1)], skip=offset,
                    limit=limit)],
                at)


class Acknowledge:
    """POST /environments/{environment}/messages/{id}/acknowledge: an operator says they have
    seen it. The first acknowledgement stands (who and when); acknowledging again changes
    nothing and answers the message as it is."""

    def __init__(self, store: MongoStore) -> None:
        self._store = store

    def on_post(self, req: falcon.Request, resp: falcon.Response, environment: str,
                message_id: str) -> None:
        parse_query(req, ())
        principal = require_role(req, self._store, environment, "operator")
        key = {"_id": message_id, "environment": environment}
        with self._store.transaction(write=True):
            records = self._store.records(MESSAGES)
            message = records.find_one(key)
            if message is not None and not message.get("acknowledged"):
                acknowledgement = {"acknowledged": True, "acknowledged_by": principal.user,
                                   "acknowledged_at": now_iso()}
                records.update_one(key, {"$set": acknowledgement})
                message.update(acknowledgement)
        if message is None:
            raise not_found(f"no message {message_id!r} in environment {environment!r}")
        resp.media = view(message)
