"""Clique and link types as one environment sees them: the model's (the shipped YAML and the
operator's override directory, `calipso_core.model.types`) with the edits admins made through
the API, kept per environment in the store's "types" records.

An edit is accepted only if the whole model still loads with it and every other edit of the
environment, through the model's own loader: the same rules as for the YAML files (known keys,
known object and link types, state rules in their vocabulary, clique walks that reach their link
types), and a link type edit that would break a clique type is refused as well.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Final

import yaml

from calipso_core.model.types import (
    CLIQUE_TYPES_FILE,
    LINK_TYPES_FILE,
    SECTIONS,
    TypeDataError,
    load_registry,
    raw_definitions,
    type_directories,
)
from calipso_core.store import MongoStore
from calipso_core.store.mongo import now_iso

RECORDS: Final = "types"
FILES: Final = {"link_types": LINK_TYPES_FILE, "clique_types": CLIQUE_TYPES_FILE}
"""Editable kinds: each is the section of that name in its model file."""

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
        with store.transaction(write=False):
            for record in _edits(store, environment):
                if record["kind"] == kind:
                    entries[record["name"]] = _entry(record["name"], record)
        return [entries[name] for name in sorted(entries)]

    def save(self, store: MongoStore, environment: str, kind: str, name: str,
             definition: dict[str, Any], user: str) -> tuple[dict[str, Any], bool]:
        """Validate and store an edit; the entry as now seen, and whether the name is new.

        Raises TypeDataError (its message names the entry and the rule) when the model would no
        longer load."""
        key = json.dumps([environment, kind, name])
        # The definition is kept as JSON text: its keys are an admin's, and MongoDB gives keys
        # starting with "$" or holding "." a meaning of their own.
        record = {"environment": environment, "kind": kind, "name": name,
                  "definition": json.dumps(definition, sort_keys=True), "updated_by": user,
                  "updated_at": now_iso()}
        with store.transaction(write=True):
            edits = _edits(store, environment)
            others = [edit for edit in edits if edit["_id"] != key]
            self._validate([*others, record])
            records = store.records(RECORDS)
            if len(others) < len(edits):
                records.update_one({"_id": key}, {"$set": record})
            else:
                records.insert_one({"_id": key, **record})
        new = len(others) == len(edits) and name not in self._model[FILES[kind]][kind]
        return _entry(name, record), new

    def _validate(self, edits: list[dict[str, Any]]) -> None:
        """Load the model with these edits through the model's loader, from a directory that
        holds the complete definitions; TypeDataError if it does not load."""
        definitions = {file: {section: dict(entries) for section, entries in sections.items()}
                       for file, sections in self._model.items()}
        for edit in edits:
            definitions[FILES[edit["kind"]]][edit["kind"]][edit["name"]] = \
                json.loads(edit["definition"])
        with tempfile.TemporaryDirectory(prefix="calipso-types-") as directory:
            try:
                for file, sections in definitions.items():
                    # replace: the files hold everything, shipped entries included.
                    (Path(directory) / file).write_text(
                        yaml.safe_dump({"replace": True, **sections}))
                load_registry(directory)
            except TypeDataError as exc:
                # The message names our temporary file: name only the model file instead.
                raise TypeDataError(str(exc).replace(f"{directory}/", "")) from None
            except RecursionError:
                raise TypeDataError("the definition is nested too deeply") from None


def _edits(store: MongoStore, environment: str) -> list[dict[str, Any]]:
    """The environment's edit records (inside a transaction of the caller's)."""
    return store.records(RECORDS).find({"environment": environment})


def _entry(name: str, source: Mapping[str, Any]) -> dict[str, Any]:
    """An entry as the API shows it, from a model definition ({"definition": ...}) or an edit
    record (its definition as JSON text, who edited it and when)."""
    definition = source["definition"]
    edited = "updated_by" in source
    return {"name": name, "definition": json.loads(definition) if edited else definition,
            "edited": edited, "updated_by": source.get("updated_by"),
            "updated_at": source.get("updated_at")}
