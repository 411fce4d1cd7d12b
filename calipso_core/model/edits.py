"""Clique and link types edited per environment (by admins, through the API), kept in the
store's "types" records and laid over the model's files (`calipso_core.model.types.TypeLayer`)
wherever that environment's types are loaded: by discovery, which computes the environment's
link states and cliques with them at its next scan, and by the API, which validates an edit by
loading the model with it.

A record: {_id: JSON [environment, kind, name], environment, kind, name, definition (JSON text:
an admin's keys may start with "$" or hold ".", which MongoDB reads as operators and paths),
updated_by, updated_at}.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

from calipso_core.model.types import (
    CLIQUE_TYPES_FILE,
    LINK_TYPES_FILE,
    TypeLayer,
    TypeRegistry,
    load_registry,
)
from calipso_core.store import MongoStore

RECORDS: Final = "types"
FILES: Final = {"link_types": LINK_TYPES_FILE, "clique_types": CLIQUE_TYPES_FILE}
"""Editable kinds: each is the section of that name in its model file."""

EditRecord = dict[str, Any]


def record_id(environment: str, kind: str, name: str) -> str:
    return json.dumps([environment, kind, name])


def stored_edits(store: MongoStore, environment: str) -> list[EditRecord]:
    """The environment's edit records, in a read of their own or the caller's transaction."""
    with store.transaction(write=False):
        return store.records(RECORDS).find({"environment": environment})


def edit_layer(environment: str, edits: Iterable[Mapping[str, Any]]) -> TypeLayer:
    """The edits as a layer over the model's files."""
    files: dict[str, dict[str, dict[str, Any]]] = {}
    for edit in edits:
        section = files.setdefault(FILES[edit["kind"]], {}).setdefault(edit["kind"], {})
        section[edit["name"]] = json.loads(edit["definition"])
    return TypeLayer(f"types edited through the API for environment {environment!r}", files)


def environment_registry(store: MongoStore, environment: str) -> TypeRegistry:
    """The model as the environment sees it: its files (with $CALIPSO_TYPES_DIR's overrides)
    and the environment's edits.

    Raises TypeDataError, naming the edit, when they no longer load together (the shipped model
    or the override directory changed since the edit was accepted)."""
    return load_registry(None, [edit_layer(environment, stored_edits(store, environment))])
