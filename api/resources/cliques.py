"""Cliques: the list's filters, and an object's clique as a graph ready to draw.

The graph of a focal object: an object may be the focal object of several cliques (one per clique
type whose focal type is its type). Without `clique_type`, the answer is the clique of the type
named after the object's type (the model's convention: the `instance` clique of an instance),
else the first by clique type name; `clique_types` in the answer lists all of them, and
`?clique_type=` picks another. Three indexed reads: the focal object's cliques, then the clique's
objects and links by id, each with only the fields drawn.

Dashboards draw the same cliques over and over, and a committed generation never changes: the
last graphs answered are kept as JSON under (environment, committed generation, object, clique
type), so that a repeated read costs the role check and one read of the committed generation.
A new generation makes the older entries unreachable; the least recently used leave first.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Final

import falcon

from calipso_api.access import require_role
from calipso_api.errors import not_found
from calipso_api.query import Param, parse_query, text
from calipso_api.resources.inventory import Doc, equal_filter
from calipso_core.store import MongoStore

FILTERS: Final = tuple(Param(name, text) for name in ("focal_id", "focal_type", "clique_type"))
clique_filter = equal_filter({name: name for name in ("focal_id", "focal_type", "clique_type")})

NODE_FIELDS: Final = ("id", "type", "name", "host", "parent_id", "project")
LINK_FIELDS: Final = ("id", "link_type", "source_id", "source_type", "target_id", "target_type",
                      "state")
CLIQUE_FIELDS: Final = ("id", "clique_type", "focal_id", "focal_type", "nodes", "links")
RENDERED_GRAPHS: Final = 4096
"""Graphs kept per process (a few kB each)."""


def choose(cliques: list[Doc], wanted: str | None) -> Doc | None:
    """The clique to draw among a focal object's (sorted by clique type), see the module doc."""
    if wanted is not None:
        return next((c for c in cliques if c["clique_type"] == wanted), None)
    return next((c for c in cliques if c["clique_type"] == c["focal_type"]), cliques[0])


def graph(clique: Doc, objects: list[Doc], links: list[Doc]) -> dict[str, Any]:
    """Nodes and edges of a clique. A link's end that is not an object of the inventory (the
    model allows it) is still a node, with the type the link gives it."""
    by_id = {obj["id"]: obj for obj in objects}
    end_types = {link[f"{end}_id"]: link[f"{end}_type"] for link in links
                 for end in ("source", "target")}
    nodes = [{field: by_id[node].get(field) for field in NODE_FIELDS} if node in by_id else
             {"id": node, "type": end_types.get(node), "name": node, "host": None,
              "parent_id": None, "project": None}
             for node in clique["nodes"]]
    edges = [{"id": link["id"], "source": link["source_id"], "target": link["target_id"],
              "link_type": link["link_type"], "state": link["state"]} for link in links]
    return {"clique_id": clique["id"], "clique_type": clique["clique_type"],
            "focal_id": clique["focal_id"], "focal_type": clique["focal_type"],
            "nodes": nodes, "edges": edges}


class CliqueGraph:
    """GET /environments/{environment}/objects/{id}/clique/graph (through ObjectPaths)."""

    def __init__(self, store: MongoStore) -> None:
        self._store = store
        self._rendered = lru_cache(maxsize=RENDERED_GRAPHS)(self._render)

    def on_get(self, req: falcon.Request, resp: falcon.Response, environment: str,
               item_id: str) -> None:
        query = parse_query(req, (Param("clique_type", text),))
        require_role(req, self._store, environment)
        generation = self._store.committed_generation(environment)
        resp.content_type = falcon.MEDIA_JSON
        resp.data = self._rendered(environment, generation, item_id, query.get("clique_type"),
                                   resp.options.media_handlers[falcon.MEDIA_JSON])

    def _render(self, environment: str, generation: int, item_id: str,
                clique_type: str | None, encoder: falcon.media.BaseHandler) -> bytes:
        """The graph as JSON, by the app's own JSON handler (`encoder`), read at the committed
        generation (a key of the cache only: the store reads the committed inventory, which is
        that generation's). A 404 is raised, so never cached."""
        cliques = self._store.find("cliques", environment, {"focal_id": item_id},
                                   sort=[("clique_type", 1)], projection=CLIQUE_FIELDS)
        if not cliques:
            raise not_found(f"object {item_id!r} is the focal object of no clique in"
                            f" environment {environment!r}")
        clique = choose(cliques, clique_type)
        if clique is None:
            raise not_found(f"object {item_id!r} has no {clique_type!r} clique")
        objects = self._store.find("objects", environment, {"id": {"$in": clique["nodes"]}},
                                   projection=NODE_FIELDS)
        links = self._store.find("links", environment, {"id": {"$in": clique["links"]}},
                                 sort=[("id", 1)], projection=LINK_FIELDS)
        media = {**graph(clique, objects, links),
                 "clique_types": [c["clique_type"] for c in cliques]}
        return encoder.serialize(media, falcon.MEDIA_JSON)
