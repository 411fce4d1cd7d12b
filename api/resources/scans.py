"""Scans on demand and scheduled scans of an environment (`calipso_core.scans`): operators start
scans and manage schedules, everyone with a role reads them.

The services are optional in `create_app`: an API served without scan configuration keeps these
routes (so the document holds for every deployment) and answers them 503 `scans_unavailable`.
An environment is known here when the store holds its inventory or it is configured for scans (a
first scan of a new environment must be possible). Records are shown field by field, so nothing
the scan service may add later (or the discovery's extra variables, which may hold secrets)
reaches a client unless it is listed here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import quote

import falcon

from calipso_api.access import require_role
from calipso_api.bodies import documented_body
from calipso_api.errors import Problem, not_found
from calipso_api.paging import PAGING, counted_page, window
from calipso_api.query import parse_query
from calipso_api.security import Principal
from calipso_core.scans import ScanService, Schedules
from calipso_core.scans.records import RecordReader
from calipso_core.store import Doc, MongoStore

REQUEST_FIELDS: Final = ("id", "environment", "requested_by", "scope", "state", "created",
                         "started", "finished", "results", "generation", "counts",
                         "documents_written", "cloud_error", "error")
SCHEDULE_FIELDS: Final = ("id", "environment", "rrule", "scope", "enabled", "next_run",
                          "last_run", "last_request_id", "last_error", "created_by", "created")


def _view(record: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: record.get(name) for name in fields}


def _unavailable() -> Problem:
    return Problem(503, "scans_unavailable", "this API server is not configured to run scans",
                   {"Retry-After": "3600"})


class ScanAccess:
    """The role check of the scan routes and the services they use (503 without them)."""

    def __init__(self, store: MongoStore, scans: ScanService | None,
                 schedules: Schedules | None) -> None:
        self._store = store
        self._scans = scans
        self._schedules = schedules

    def scans(self) -> ScanService:
        if self._scans is None:
            raise _unavailable()
        return self._scans

    def schedules(self) -> Schedules:
        if self._schedules is None:
            raise _unavailable()
        return self._schedules

    def require(self, req: falcon.Request, environment: str,
                needed: str = "viewer") -> Principal:
        """`calipso_api.access.require_role`, with the environments configured for scans
        counted as existing (a first scan of a new environment must be possible)."""
        return require_role(req, self._store, environment, needed, also_known=self.configured)

    def configured(self, environment: str) -> bool:
        """Whether this server may scan the environment."""
        return self._scans is not None and self._scans.configured(environment)


def _location(req: falcon.Request, environment: str, kind: str, record_id: str) -> str:
    return f"{req.root_path}/environments/{quote(environment, safe='')}/{kind}/{record_id}"


class RecordList:
    """GET of a page of an environment's records of one kind (viewer), in the reader's order."""

    def __init__(self, access: ScanAccess, max_body_bytes: int,
                 reader: Callable[[], RecordReader], fields: tuple[str, ...]) -> None:
        self._access = access
        self._max_body_bytes = max_body_bytes
        self._reader = reader
        self._fields = fields

    def on_get(self, req: falcon.Request, resp: falcon.Response, environment: str) -> None:
        at = window(parse_query(req, PAGING))
        self._access.require(req, environment)
        reader = self._reader()
        resp.media = counted_page(
            reader.count(environment),
            lambda offset, limit: [_view(record, self._fields)
                                   for record in reader.list(environment, limit, offset)],
            at)

    def _posted(self, req: falcon.Request, environment: str,
                schema: str) -> tuple[Principal, dict[str, Any]]:
        """An operator's POST body of the document's schema; 503 before reading it when this
        server runs no scans (no body could then be right)."""
        parse_query(req, ())
        principal = self._access.require(req, environment, "operator")
        self._reader()
        return principal, documented_body(req, self._max_body_bytes, schema)

    def _created(self, req: falcon.Request, resp: falcon.Response, status: int,
                 environment: str, kind: str, record: Doc) -> None:
        resp.status = status
        resp.location = _location(req, environment, kind, record["id"])
        resp.media = _view(record, self._fields)


class ScanList(RecordList):
    """GET (newest first) and POST (operator: start a scan) on
    /environments/{environment}/scans."""

    def __init__(self, access: ScanAccess, max_body_bytes: int) -> None:
        super().__init__(access, max_body_bytes, access.scans, REQUEST_FIELDS)

    def on_post(self, req: falcon.Request, resp: falcon.Response, environment: str) -> None:
        principal, body = self._posted(req, environment, "ScanStart")
        request = self._access.scans().start(environment, principal.user, body.get("hosts"),
                                             body.get("focal_object"))
        # 202: the scan runs in the background; its record at Location shows how it goes.
        self._created(req, resp, 202, environment, "scans", request)


def _of_environment(record: Doc | None, environment: str, kind: str, record_id: str) -> Doc:
    """The record if it belongs to the environment of the path, else a 404 (the same as no
    record: ids of other environments do not leak)."""
    if record is None or record["environment"] != environment:
        raise not_found(f"no {kind} {record_id!r} in environment {environment!r}")
    return record


class ScanItem:
    """GET /environments/{environment}/scans/{scan_id}: state, per-host results, errors."""

    def __init__(self, access: ScanAccess) -> None:
        self._access = access

    def on_get(self, req: falcon.Request, resp: falcon.Response, environment: str,
               scan_id: str) -> None:
        parse_query(req, ())
        self._access.require(req, environment)
        record = self._access.scans().get(scan_id)
        resp.media = _view(_of_environment(record, environment, "scan", scan_id),
                           REQUEST_FIELDS)


class ScheduleList(RecordList):
    """GET (oldest first) and POST (operator) on /environments/{environment}/schedules."""

    def __init__(self, access: ScanAccess, max_body_bytes: int) -> None:
        super().__init__(access, max_body_bytes, access.schedules, SCHEDULE_FIELDS)

    def on_post(self, req: falcon.Request, resp: falcon.Response, environment: str) -> None:
        principal, body = self._posted(req, environment, "ScheduleCreate")
        schedule = self._access.schedules().create(
            environment, body["rrule"], principal.user, body.get("hosts"),
            body.get("focal_object"), body.get("enabled", True))
        self._created(req, resp, 201, environment, "schedules", schedule)


class ScheduleItem:
    """GET (viewer), PATCH {enabled} and DELETE (operator) on
    /environments/{environment}/schedules/{schedule_id}."""

    def __init__(self, access: ScanAccess, max_body_bytes: int) -> None:
        self._access = access
        self._max_body_bytes = max_body_bytes

    def _fetch(self, environment: str, schedule_id: str) -> Doc:
        return _of_environment(self._access.schedules().get(schedule_id), environment,
                               "schedule", schedule_id)

    def on_get(self, req: falcon.Request, resp: falcon.Response, environment: str,
               schedule_id: str) -> None:
        parse_query(req, ())
        self._access.require(req, environment)
        resp.media = _view(self._fetch(environment, schedule_id), SCHEDULE_FIELDS)

    def on_patch(self, req: falcon.Request, resp: falcon.Response, environment: str,
                 schedule_id: str) -> None:
        parse_query(req, ())
        self._access.require(req, environment, "operator")
        self._fetch(environment, schedule_id)
        body = documented_body(req, self._max_body_bytes, "ScheduleUpdate")
        updated = self._access.schedules().set_enabled(schedule_id, body["enabled"])
        if updated is None:  # deleted between the two calls
            raise not_found(f"no schedule {schedule_id!r} in environment {environment!r}")
        resp.media = _view(updated, SCHEDULE_FIELDS)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, environment: str,
                  schedule_id: str) -> None:
        parse_query(req, ())
        self._access.require(req, environment, "operator")
        self._fetch(environment, schedule_id)
        if not self._access.schedules().delete(schedule_id):
            raise not_found(f"no schedule {schedule_id!r} in environment {environment!r}")
        resp.status = 204
