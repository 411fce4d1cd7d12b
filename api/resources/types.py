"""Clique and link types of an environment (`calipso_api.type_edits`): everyone with a role reads
them, admins replace or add one with PUT, which the model's own rules validate."""

from __future__ import annotations

import re
from typing import Any, Final

import falcon

from calipso_api.access import require_role
from calipso_api.bodies import documented_body
from calipso_api.errors import invalid_body, invalid_parameter, not_found
from calipso_api.paging import PAGING, page_of, window
from calipso_api.query import parse_query
from calipso_api.type_edits import TypeCatalog
from calipso_core.model.types import TypeDataError
from calipso_core.store import MongoStore

NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
"""Type names as the model files use them (instance-provider, otep-otep)."""
UPDATE_SCHEMAS: Final = {"clique_types": "CliqueTypeUpdate", "link_types": "LinkTypeUpdate"}
"""The document's schema of each kind's PUT body: a definition of the shape the model reads
(strings where it expects names), before the model's own rules check its meaning."""


class TypeList:
    """GET /environments/{environment}/{clique_types|link_types}."""

    def __init__(self, store: MongoStore, catalog: TypeCatalog, kind: str) -> None:
        self._store = store
        self._catalog = catalog
        self._kind = kind

    def on_get(self, req: falcon.Request, resp: falcon.Response, environment: str) -> None:
        at = window(parse_query(req, PAGING))
        require_role(req, self._store, environment)
        resp.media = page_of(self._catalog.entries(self._store, environment, self._kind), at)


class TypeItem:
    """GET and PUT /environments/{environment}/{clique_types|link_types}/{name}; PUT takes
    {"definition": {...}}, the entry as in the model's YAML file."""

    def __init__(self, store: MongoStore, catalog: TypeCatalog, kind: str,
                 max_body_bytes: int) -> None:
        self._store = store
        self._catalog = catalog
        self._kind = kind
        self._max_body_bytes = max_body_bytes

    def on_get(self, req: falcon.Request, resp: falcon.Response, environment: str,
               name: str) -> None:
        parse_query(req, ())
        require_role(req, self._store, environment)
        entry = next((e for e in self._catalog.entries(self._store, environment, self._kind)
                      if e["name"] == name), None)
        if entry is None:
            raise not_found(f"no {self._kind[:-1].replace('_', ' ')} {name!r}")
        resp.media = entry

    def on_put(self, req: falcon.Request, resp: falcon.Response, environment: str,
               name: str) -> None:
        parse_query(req, ())
        principal = require_role(req, self._store, environment, "admin")
        if not NAME.fullmatch(name):
            raise invalid_parameter(f"a type name is 1 to 100 letters, digits, '_', '.' or '-',"
                                    f" starting with a letter or digit; got {name[:100]!r}")
        body = documented_body(req, self._max_body_bytes, UPDATE_SCHEMAS[self._kind])
        definition: dict[str, Any] = body["definition"]
        try:
            entry, new = self._catalog.save(self._store, environment, self._kind, name,
                                            definition, principal.user)
        except TypeDataError as exc:
            raise invalid_body(str(exc)) from None
        resp.status = 201 if new else 200
        resp.media = entry
