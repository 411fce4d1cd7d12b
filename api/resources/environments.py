"""Environments: those the caller holds a role in, each with its last scan, its inventory's size,
whether this server scans it, and the settings admins give it
(`calipso_core.environment_settings`: description, labels, scans paused), which an admin of the
environment changes with PATCH. How the environment is reached (inventory, credentials) is the
deployment's file and never shown; a scan record's owner and lease are the scanner's internals
and are left out."""

from __future__ import annotations

from typing import Any, Final

import falcon

from calipso_api.access import principal_of, require_role
from calipso_api.bodies import documented_body
from calipso_api.paging import PAGING, counted_page, window
from calipso_api.query import parse_query
from calipso_api.resources.scans import ScanAccess
from calipso_api.security import Principal
from calipso_core.environment_settings import read_settings, update_settings
from calipso_core.store import KINDS, MongoStore

SCAN_FIELDS: Final = ("generation", "state", "started", "finished", "scope", "counts", "error")


def summary(store: MongoStore, access: ScanAccess, environment: str,
            principal: Principal) -> dict[str, Any]:
    scans = store.scans(environment, limit=1)
    return {"name": environment, "role": principal.role_in(environment),
            "last_scan": {field: scans[0].get(field) for field in SCAN_FIELDS} if scans else None,
            "counts": {kind: store.count(kind, environment) for kind in KINDS},
            "scans_configured": access.configured(environment),
            "settings": read_settings(store, environment)}


class Environments:
    """GET /environments."""

    def __init__(self, store: MongoStore, access: ScanAccess) -> None:
        self._store = store
        self._access = access

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        at = window(parse_query(req, PAGING))
        principal = principal_of(req)
        names = principal.environments(self._store.environments())
        # Summaries cost a few counts each: only for the page's environments.
        resp.media = counted_page(
            len(names),
            lambda offset, limit: [summary(self._store, self._access, name, principal)
                                   for name in names[offset:offset + limit]],
            at)


class Environment:
    """GET and PATCH (admin: {description, labels, scans_paused}, each optional) on
    /environments/{environment}."""

    def __init__(self, store: MongoStore, access: ScanAccess, max_body_bytes: int) -> None:
        self._store = store
        self._access = access
        self._max_body_bytes = max_body_bytes

    def on_get(self, req: falcon.Request, resp: falcon.Response, environment: str) -> None:
        parse_query(req, ())
        principal = require_role(req, self._store, environment)
        resp.media = summary(self._store, self._access, environment, principal)

    def on_patch(self, req: falcon.Request, resp: falcon.Response, environment: str) -> None:
        parse_query(req, ())
        principal = require_role(req, self._store, environment, "admin")
        changes = documented_body(req, self._max_body_bytes, "EnvironmentSettingsUpdate")
        update_settings(self._store, environment, changes, principal.user)
        resp.media = summary(self._store, self._access, environment, principal)
