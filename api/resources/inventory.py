"""Lists and single documents of the committed inventory (objects, links, cliques), shared by
the three kinds: each list filters on fields given in the query string, sorts on the id (unique,
so pages never overlap) and counts through the store, which keeps reads on indexed fields."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import falcon

from calipso_api.access import require_role
from calipso_api.errors import not_found
from calipso_api.paging import PAGING, counted_page, window
from calipso_api.query import Param, parse_query
from calipso_core.store import MongoStore

Filter = dict[str, Any]
Doc = dict[str, Any]


def equal_filter(fields: Mapping[str, str]) -> Callable[[Mapping[str, Any]], Filter]:
    """A filter from query parameters that each match one document field exactly; `fields`
    maps parameter names to field names."""
    def to_filter(query: Mapping[str, Any]) -> Filter:
        return {field: query[name] for name, field in fields.items() if name in query}
    return to_filter


def fetch(store: MongoStore, kind: str, environment: str, item_id: str) -> Doc:
    """One document of the inventory, or a 404."""
    doc = store.get(kind, environment, item_id)
    if doc is None:
        raise not_found(f"no {kind[:-1]} {item_id!r} in environment {environment!r}")
    return doc


class InventoryList:
    """GET /environments/{environment}/<kind>: a page of the kind's documents."""

    def __init__(self, store: MongoStore, kind: str, filters: Sequence[Param],
                 to_filter: Callable[[Mapping[str, Any]], Filter]) -> None:
        self._store = store
        self._kind = kind
        self._params = (*filters, *PAGING)
        self._to_filter = to_filter

    def on_get(self, req: falcon.Request, resp: falcon.Response, environment: str) -> None:
        query = parse_query(req, self._params)
        require_role(req, self._store, environment)
        at = window(query)
        selection = self._to_filter(query)
        resp.media = counted_page(
            self._store.count(self._kind, environment, selection),
            lambda offset, limit: self._store.find(self._kind, environment, selection,
                                                   sort=[("id", 1)], skip=offset, limit=limit),
            at)


class InventoryItem:
    """GET /environments/{environment}/<kind>/{id}: one document."""

    def __init__(self, store: MongoStore, kind: str) -> None:
        self._store = store
        self._kind = kind

    def on_get(self, req: falcon.Request, resp: falcon.Response, environment: str,
               item_id: str) -> None:
        parse_query(req, ())
        require_role(req, self._store, environment)
        resp.media = fetch(self._store, self._kind, environment, item_id)
