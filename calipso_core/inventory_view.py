"""Reading the stored inventory for people: tables of objects and links, counts, and a clique as
a tree of hosts and the objects on them."""

from __future__ import annotations

from collections import Counter
from typing import Any

from calipso_core.lab.summary import table
from calipso_core.store import MongoStore

Doc = dict[str, Any]
# The order in which a clique's objects read best: from the VM out to the wire.
TYPE_ORDER = ("instance", "vservice", "vnic", "vconnector", "vedge", "otep", "host_pnic",
              "switch_pnic", "switch", "network", "port", "host")


def find_objects(store: MongoStore, environment: str, obj_type: str | None = None,
                 host: str | None = None, name: str | None = None) -> list[Doc]:
    query: dict[str, Any] = {}
    if obj_type:
        query["type"] = obj_type
    if host:
        query["host"] = host
    if name:
        query["name"] = name
    return store.find("objects", environment, query, sort=[("type", 1), ("id", 1)])


def objects_table(objects: list[Doc]) -> str:
    return table(["TYPE", "ID", "NAME", "HOST"],
                 [[o["type"], o["id"], o["name"], o.get("host") or "-"] for o in objects])


def links_table(links: list[Doc]) -> str:
    return table(["LINK TYPE", "SOURCE", "TARGET", "STATE", "HOST"],
                 [[x["link_type"], x["source_id"], x["target_id"], x["state"],
                   x.get("host") or "-"] for x in links])


def cliques_table(cliques: list[Doc]) -> str:
    return table(["CLIQUE", "FOCAL TYPE", "OBJECTS", "LINKS", "HOSTS"],
                 [[c["id"], c["focal_type"], str(len(c["nodes"])), str(len(c["links"])),
                   ",".join(c["hosts"])] for c in cliques])


def counts(store: MongoStore, environment: str) -> str:
    by_type = Counter(o["type"] for o in store.find("objects", environment,
                                                    projection=["type"]))
    links = store.find("links", environment, projection=["link_type", "state"])
    states = Counter(x["state"] for x in links)
    cliques = store.count("cliques", environment)
    rows = [[t, str(n)] for t, n in sorted(by_type.items())]
    return (table(["OBJECT TYPE", "COUNT"], rows) +
            f"\n\nlinks: {len(links)} ({', '.join(f'{s} {n}' for s, n in sorted(states.items()))})"
            f"\ncliques: {cliques}")


def resolve_focal(store: MongoStore, environment: str, key: str) -> Doc | None:
    """An object by id, or else by name (a VM's name is what an operator knows)."""
    return store.get("objects", environment, key) or next(
        iter(store.find("objects", environment, {"name": key}, limit=1)), None)


def clique_tree(store: MongoStore, environment: str, clique: Doc) -> str:
    """The clique's objects grouped by host (objects on no host last), in path order, with the
    links between them and their states."""
    objects = {o["id"]: o for o in store.find("objects", environment,
                                              {"id": {"$in": clique["nodes"]}})}
    links = store.find("links", environment, {"id": {"$in": clique["links"]}})
    focal = objects.get(clique["focal_id"], {"name": clique["focal_id"]})
    lines = [f"{clique['clique_type']} clique of {focal['name']} ({clique['focal_id']}): "
             f"{len(objects)} objects, {len(links)} links, hosts {', '.join(clique['hosts'])}"]
    order = {t: i for i, t in enumerate(TYPE_ORDER)}
    by_host: dict[str, list[Doc]] = {}
    for obj in objects.values():
        by_host.setdefault(obj.get("host") or "(no host)", []).append(obj)
    for host in sorted(by_host, key=lambda h: (h == "(no host)", h)):
        lines.append(f"  {host}")
        for obj in sorted(by_host[host], key=lambda o: (order.get(o["type"], 99), o["id"])):
            lines.append(f"    {obj['type']:<11} {obj['name']}")
    lines.append("  links")
    for link in sorted(links, key=lambda x: (x["link_type"], x["id"])):
        source = objects.get(link["source_id"], {"name": link["source_id"]})["name"]
        target = objects.get(link["target_id"], {"name": link["target_id"]})["name"]
        lines.append(f"    {link['link_type']:<18} {source} -> {target}  [{link['state']}]")
    return "\n".join(lines)
