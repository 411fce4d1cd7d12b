"""Clique and link types as one environment sees them: the model's (the shipped YAML and the
operator's override directory, `calipso_core.model.types`) with the edits admins made through
the API (`calipso_core.model.edits`), which the environment's next scan applies.

An edit is accepted only if the whole model still loads with it and every other edit of the
environment, through the model's own loader: the same rules as for the YAML files (known keys,
known object and link types, state rules in their vocabulary, clique walks that reach their link
types), and a link type edit that would break a clique type is refused as well.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from calipso_core.model.edits import (
    FILES,
    RECORDS,
    edit_layer,
    record_id,
    stored_edits,
)
from calipso_core.model.types import (
    SECTIONS,
    TypeDataError,
    load_registry,
    raw_definitions,
    type_directories,
)
from calipso_core.store import MongoStore
from calipso_core.store.mongo import now_iso

Definitions = dict[str, dict[str, dict[str, Any]]]
"""file name -> section -> entry name -> definition, as in the YAML files."""


class TypeCatalog:
    """The model's types, read once on first use (its files change only with a deployment),
    and the edits, read from the store on each call."""

    def __init__(self, override_dir: str | os.PathLike[str] | None = None) -> None:
        self._override_dir = override_dir

    @cached_property
    def _model(self) -> Definitions:
        """The raw definitions (the loader's own merge of shipped and override entries), which
        is what an admin reads and writes back; the parsed registry has lost their shape."""
        directories = type_directories(self._override_dir)
        return {file: raw_definitions(file, directories) for file in SECTIONS}

    def entries(self, store: MongoStore, environment: str, kind: str) -> list[dict[str, Any]]:
        """The environment's types of a kind, by name: each with its definition and whether
        (by whom, when) it was edited through the API."""
        entries = {name: _entry(name, {"definition": definition})
                   for name, definition in self._model[FILES[kind]][kind].items()}
        for record in stored_edits(store, environment):
            if record["kind"] == kind:
                entries[record["name"]] = _entry(record["name"], record)
        return [entries[name] for name in sorted(entries)]

    def save(self, store: MongoStore, environment: str, kind: str, name: str,
             definition: dict[str, Any], user: str) -> tuple[dict[str, Any], bool]:
        """Validate and store an edit; the entry as now seen, and whether the name is new.

        Raises TypeDataError (its message names the entry and the rule) when the model would no
        longer load."""
        key = record_id(environment, kind, name)
        record = {"environment": environment, "kind": kind, "name": name,
                  "definition": json.dumps(definition, sort_keys=True), "updated_by": user,
                  "updated_at": now_iso()}
        with store.transaction(write=True):
            edits = stored_edits(store, environment)
            others = [edit for edit in edits if edit["_id"] != key]
            self._validate(environment, [*others, record])
            records = store.records(RECORDS)
            if len(others) < len(edits):
                records.update_one({"_id": key}, {"$set": record})
            else:
                records.insert_one({"_id": key, **record})
        new = len(others) == len(edits) and name not in self._model[FILES[kind]][kind]
        return _entry(name, record), new

    def _validate(self, environment: str, edits: list[dict[str, Any]]) -> None:
        """Load the model with these edits, as the environment's scans will; TypeDataError if
        it does not load."""
        try:
            load_registry(self._override_dir, [edit_layer(environment, edits)])
        except TypeDataError as exc:
            # The message may name a model file: by its name only, not the server's paths.
            message = str(exc)
            for directory in type_directories(self._override_dir):
                message = message.replace(f"{directory}/", "")
            raise TypeDataError(message) from None
        except RecursionError:
            raise TypeDataError("the definition is nested too deeply") from None


def _entry(name: str, source: Mapping[str, Any]) -> dict[str, Any]:
    """An entry as the API shows it, from a model definition ({"definition": ...}) or an edit
    record (its definition as JSON text, who edited it and when)."""
    definition = source["definition"]
    edited = "updated_by" in source
    return {"name": name, "definition": json.loads(definition) if edited else definition,
            "edited": edited, "updated_by": source.get("updated_by"),
            "updated_at": source.get("updated_at")}
