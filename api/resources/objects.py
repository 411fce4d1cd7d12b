"""Objects of the inventory: the list with its filters, and the routes under one object (itself,
its monitoring status, its clique as a graph)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, Protocol

import falcon

from calipso_api.query import Param, text
from calipso_api.resources.inventory import Filter, equal_filter

FILTERS: Final = tuple(Param(name, text) for name in (
    "type", "host", "name", "id", "parent", "project", "network", "q"))
_EXACT = equal_filter({"type": "type", "host": "host", "name": "name", "id": "id",
                       "parent": "parent_id", "project": "project"})


def object_filter(query: Mapping[str, Any]) -> Filter:
    """The store query for the object filters of a parsed query string."""
    exact = _EXACT(query)
    clauses = [exact] if exact else []
    if "network" in query:
        # Ports and vnics name their network in attributes.network_id; the network is itself.
        network = query["network"]
        clauses.append({"$or": [{"attributes.network_id": network},
                                {"type": "network", "id": network}]})
    if "q" in query:
        # A substring of the name, any case: escaped, so that `.*` is searched for, not run.
        clauses.append({"name": {"$regex": re.escape(query["q"]), "$options": "i"}})
    if len(clauses) < 2:
        return clauses[0] if clauses else {}
    return {"$and": clauses}


class ObjectRoute(Protocol):
    def on_get(self, req: falcon.Request, resp: falcon.Response, environment: str,
               item_id: str) -> None: ...


class ObjectPaths:
    """GET /environments/{environment}/objects/{id}[/status | /clique/graph].

    Object ids may hold "/" (a VPP host NIC is `<host>-GigabitEthernet0/8/0`), and a WSGI server
    hands the application the path already decoded, so "%2F" arrives as "/": one route takes
    the rest of the path and its suffix names the sub-resource (an id ending in "/status" or
    "/clique/graph" is read as that sub-resource of the shorter id)."""

    def __init__(self, item: ObjectRoute, status: ObjectRoute, graph: ObjectRoute) -> None:
        self._routes = (("/clique/graph", graph), ("/status", status))
        self._item = item

    def on_get(self, req: falcon.Request, resp: falcon.Response, environment: str,
               target: str) -> None:
        for suffix, route in self._routes:
            if target.endswith(suffix) and len(target) > len(suffix):
                route.on_get(req, resp, environment, target.removesuffix(suffix))
                return
        self._item.on_get(req, resp, environment, target)
