"""The API as a Falcon WSGI application: routes, authentication, problems, JSON.

Everything the application talks to is handed in (`create_app`): the inventory store, the
authenticator that checks passwords and the service that issues and verifies tokens
(`calipso_api.security` protocols), and the scan service and schedules (`calipso_core.scans`),
so that the server (`calipso_api.server`) chooses LDAP, stored tokens and Ansible, and the tests
small stand-ins, through the same code.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import falcon
import falcon.media

from calipso_api.access import Authentication
from calipso_api.errors import PROBLEM_JSON, install
from calipso_api.resources.cliques import FILTERS as CLIQUE_FILTERS
from calipso_api.resources.cliques import CliqueGraph, clique_filter
from calipso_api.resources.environments import Environment, Environments
from calipso_api.resources.health import Health
from calipso_api.resources.inventory import InventoryItem, InventoryList
from calipso_api.resources.links import FILTERS as LINK_FILTERS
from calipso_api.resources.links import link_filter
from calipso_api.resources.messages import Acknowledge, Messages
from calipso_api.resources.objects import FILTERS as OBJECT_FILTERS
from calipso_api.resources.objects import ObjectPaths, object_filter
from calipso_api.resources.scans import ScanAccess, ScanItem, ScanList, ScheduleItem, ScheduleList
from calipso_api.resources.session import Login, Logout
from calipso_api.resources.status import ObjectStatus, StatusSummary
from calipso_api.resources.types import TypeItem, TypeList
from calipso_api.security import Authenticator, TokenService
from calipso_api.type_edits import TypeCatalog
from calipso_core.scans import ScanService, Schedules
from calipso_core.store import MongoStore
from calipso_core.store.mongo import iso

ENV = "/environments/{environment}"


@dataclass(frozen=True)
class ApiSettings:
    max_body_bytes: int = 64 * 1024
    """Largest request body accepted (a type definition is a few kB)."""
    types_dir: str | None = None
    """The model's override directory; None: $CALIPSO_TYPES_DIR, as for discovery."""


def _json_default(value: Any) -> Any:
    """Stored documents may hold BSON values that JSON lacks: times become ISO 8601 UTC, as the
    store writes them itself; anything else (an ObjectId) its string."""
    if isinstance(value, datetime):
        return iso(value if value.tzinfo else value.replace(tzinfo=UTC))
    return str(value)


class SecurityHeaders:
    """Nothing the API answers may be cached (tokens, inventory behind a role) or sniffed."""

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource: Any,
                         req_succeeded: bool) -> None:
        resp.set_header("Cache-Control", "no-store")
        resp.set_header("X-Content-Type-Options", "nosniff")


def create_app(store: MongoStore, authenticator: Authenticator, tokens: TokenService,
               settings: ApiSettings | None = None, scans: ScanService | None = None,
               schedules: Schedules | None = None) -> falcon.App:
    """The application. Without `scans` (and `schedules`), the scan and schedule routes stay
    and answer 503 `scans_unavailable`: a server configured with no environment to scan."""
    settings = settings or ApiSettings()
    app = falcon.App(middleware=[SecurityHeaders(), Authentication(tokens)])
    handler = falcon.media.JSONHandler(
        dumps=functools.partial(json.dumps, ensure_ascii=False, default=_json_default))
    app.resp_options.media_handlers.update({falcon.MEDIA_JSON: handler, PROBLEM_JSON: handler})
    install(app)

    catalog = TypeCatalog(settings.types_dir)
    body = settings.max_body_bytes
    app.add_route("/health", Health(store))
    app.add_route("/auth/login", Login(authenticator, tokens, body))
    app.add_route("/auth/logout", Logout(tokens))
    access = ScanAccess(store, scans, schedules)
    app.add_route("/environments", Environments(store, access))
    app.add_route(ENV, Environment(store, access, body))
    app.add_route(f"{ENV}/objects", InventoryList(store, "objects", OBJECT_FILTERS,
                                                  object_filter))
    app.add_route(f"{ENV}/objects/{{target:path}}", ObjectPaths(
        InventoryItem(store, "objects"), ObjectStatus(store), CliqueGraph(store)))
    app.add_route(f"{ENV}/links", InventoryList(store, "links", LINK_FILTERS, link_filter))
    app.add_route(f"{ENV}/links/{{item_id:path}}", InventoryItem(store, "links"))
    app.add_route(f"{ENV}/cliques", InventoryList(store, "cliques", CLIQUE_FILTERS,
                                                  clique_filter))
    app.add_route(f"{ENV}/cliques/{{item_id:path}}", InventoryItem(store, "cliques"))
    for kind in ("clique_types", "link_types"):
        app.add_route(f"{ENV}/{kind}", TypeList(store, catalog, kind))
        app.add_route(f"{ENV}/{kind}/{{name}}", TypeItem(store, catalog, kind, body))
    app.add_route(f"{ENV}/messages", Messages(store))
    app.add_route(f"{ENV}/messages/{{message_id}}/acknowledge", Acknowledge(store))
    app.add_route(f"{ENV}/status", StatusSummary(store))
    app.add_route(f"{ENV}/scans", ScanList(access, body))
    app.add_route(f"{ENV}/scans/{{scan_id}}", ScanItem(access))
    app.add_route(f"{ENV}/schedules", ScheduleList(access, body))
    app.add_route(f"{ENV}/schedules/{{schedule_id}}", ScheduleItem(access, body))
    return app
