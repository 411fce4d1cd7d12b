"""How builders record what they find: objects and links of one host, with the id and state
conventions every builder shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Doc = dict[str, Any]


def link_id(link_type: str, source_id: str, target_id: str) -> str:
    return f"{link_type}:{source_id}:{target_id}"


def both_up(*states: str | None) -> str:
    """A link's state from its ends: down if either is down, unknown if either is unknown."""
    if any(s == "down" for s in states):
        return "down"
    if any(s not in ("up",) for s in states):
        return "unknown"
    return "up"


def iface_state(iface: Doc | None) -> str | None:
    """up/down from a host interface (operstate, or admin up with carrier for 'unknown')."""
    if iface is None:
        return None
    if iface.get("operstate") == "up":
        return "up"
    if iface.get("operstate") in ("down", "lowerlayerdown"):
        return "down"
    return "up" if iface.get("admin_up") and iface.get("carrier") else "down"


@dataclass
class HostInventory:
    """Objects and links of one host, built from its facts."""

    host: str
    objects: list[Doc] = field(default_factory=list)
    links: list[Doc] = field(default_factory=list)

    def add(self, obj_type: str, obj_id: str, name: str, parent: tuple[str, str] | None = None,
            **attributes: Any) -> Doc:
        doc = {"type": obj_type, "id": obj_id, "name": name, "host": self.host,
               "parent_type": parent[0] if parent else None,
               "parent_id": parent[1] if parent else None, "project": None,
               "source": ["host_facts"], "attributes": attributes}
        self.objects.append(doc)
        return doc

    def link(self, link_type: str, source: Doc, target: Doc, state: str,
             **attributes: Any) -> None:
        self.links.append({
            "id": link_id(link_type, source["id"], target["id"]), "link_type": link_type,
            "source_id": source["id"], "source_type": source["type"],
            "target_id": target["id"], "target_type": target["type"],
            "host": self.host, "state": state, "attributes": attributes})
