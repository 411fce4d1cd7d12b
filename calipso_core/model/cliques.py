"""Cliques: the dependency subgraph around each focal object, found by walking the link types
its clique type allows, outward from it (calipso_core/model/data/clique_types.yaml).

One networkx MultiGraph holds the environment (nodes are object ids, edges are links keyed by
link id). A clique type never copies it: each walk reads the graph's adjacency, filtered once per
node and clique type to the links that clique type follows out of that node's type, and reused by
every clique passing through the node (a host's switch is in all of its VMs' cliques).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import networkx as nx

from calipso_core.model.types import CliqueType, Restriction

Doc = dict[str, Any]


def build_graph(objects: Iterable[Mapping[str, Any]],
                links: Iterable[Mapping[str, Any]]) -> nx.MultiGraph:
    """Objects as nodes (type, host, the object itself), links as edges keyed by link id. A link
    whose end is not among the objects still counts: its end becomes a node of the type the link
    names, on no host."""
    graph = nx.MultiGraph()
    graph.add_nodes_from((obj["id"], {"type": obj["type"], "host": obj.get("host"), "object": obj})
                         for obj in objects)
    edges = []
    for link in links:
        for end_id, end_type in (("source_id", "source_type"), ("target_id", "target_type")):
            if link[end_id] not in graph:
                graph.add_node(link[end_id], type=link[end_type], host=None, object=None)
        edges.append((link["source_id"], link["target_id"], link["id"],
                      {"link_type": link["link_type"]}))
    graph.add_edges_from(edges)
    return graph


class _Walker:
    """Walks one clique type's cliques over a graph."""

    def __init__(self, graph: nx.MultiGraph, node_types: Mapping[str, str],
                 clique_type: CliqueType) -> None:
        self._graph = graph
        self._objects = graph.nodes
        self._types = node_types
        self._clique_type = clique_type
        # The link types followed out of an object, by its type (both ways for a type to itself).
        self._out: dict[str, set[str]] = {}
        for step in clique_type.steps:
            self._out.setdefault(step.from_type, set()).add(step.link_type)
        self._restricted = {r.object_type: r for r in clique_type.restrictions}
        self._followed: dict[str, list[tuple[str, str, str]]] = {}

    def _edges(self, node: str) -> list[tuple[str, str, str]]:
        """(neighbour, link id, link type) for the links this clique type follows out of
        node."""
        edges = self._followed.get(node)
        if edges is None:
            out = self._out.get(self._types[node])
            edges = [] if not out else [
                (neighbour, link_id, link_type)
                for _, neighbour, link_id, link_type in self._graph.edges(
                    node, keys=True, data="link_type") if link_type in out]
            self._followed[node] = edges
        return edges

    def _held_back(self, neighbour: str, link_type: str) -> bool:
        """Whether an object reached over this link waits for its restriction to be met."""
        restriction = self._restricted.get(self._types[neighbour])
        return restriction is not None and restriction.via in (None, link_type)

    def walk(self, focal: str) -> tuple[set[str], set[str]]:
        """The nodes and link ids of focal's clique: breadth first, not leaving stop types
        (except the focal object) nor objects max_depth away."""
        stop, max_depth = self._clique_type.stop_types, self._clique_type.max_depth
        nodes, links = {focal}, set()
        held: dict[str, list[str]] = {}  # restricted objects reached, with the links to them
        frontier, depth = [focal], 0
        while frontier and (max_depth is None or depth < max_depth):
            depth += 1
            reached = []
            for node in frontier:
                for neighbour, link_id, link_type in self._edges(node):
                    if self._held_back(neighbour, link_type):
                        if neighbour not in nodes:
                            held.setdefault(neighbour, []).append(link_id)
                        continue
                    links.add(link_id)
                    if neighbour not in nodes:
                        nodes.add(neighbour)
                        if self._types[neighbour] not in stop:
                            reached.append(neighbour)
            frontier = reached
        if held:
            named = {t: self._named(nodes, r) for t, r in self._restricted.items()}
            for node, node_links in held.items():
                if node in named[self._types[node]]:
                    nodes.add(node)
                    links.update(node_links)
        return nodes, links

    def _named(self, nodes: set[str], restriction: Restriction) -> set[str]:
        """The ids the clique's objects of restriction.by_type name in its field."""
        named: set[str] = set()
        for node in nodes:
            if self._types[node] != restriction.by_type:
                continue
            value: Any = self._objects[node]["object"]
            for key in restriction.path:
                value = value.get(key) if isinstance(value, Mapping) else None
            if isinstance(value, str):
                named.add(value)
            elif isinstance(value, list | tuple):
                named.update(v for v in value if isinstance(v, str))
        return named


def compute_cliques(environment: str, objects: Iterable[Mapping[str, Any]],
                    links: Iterable[Mapping[str, Any]],
                    clique_types: Iterable[CliqueType]) -> list[Doc]:
    """Every clique of an environment: one per object of each clique type's focal type, in the
    order of clique_types, then by focal id. Deterministic for the same inputs."""
    clique_types = list(clique_types)
    names = [c.name for c in clique_types]
    if len(set(names)) != len(names):
        raise ValueError(f"one entry per clique type name is needed, got {names} "
                         "(TypeRegistry.clique_types_for chooses them)")
    graph = build_graph(objects, links)
    node_types: dict[str, str] = dict(graph.nodes(data="type"))
    hosts: dict[str, str | None] = dict(graph.nodes(data="host"))
    by_type: dict[str, list[str]] = {}
    for node, node_type in node_types.items():
        by_type.setdefault(node_type, []).append(node)
    cliques = []
    for clique_type in clique_types:
        walker = _Walker(graph, node_types, clique_type)
        for focal in sorted(by_type.get(clique_type.focal_type, [])):
            nodes, link_ids = walker.walk(focal)
            cliques.append({
                "environment": environment, "id": f"{clique_type.name}:{focal}",
                "clique_type": clique_type.name, "focal_type": clique_type.focal_type,
                "focal_id": focal, "nodes": sorted(nodes), "links": sorted(link_ids),
                "hosts": sorted({h for n in nodes if (h := hosts[n])})})
    return cliques
