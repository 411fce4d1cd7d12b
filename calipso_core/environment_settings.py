"""What admins set about an environment through the API, kept in the store's
"environment_settings" records: a description and labels for the people and tools reading the
inventory (a NOC's site code, an owner), and whether its scans are paused (a maintenance window:
scans asked for are refused and scheduled occurrences skipped, `calipso_core.scans`).

How an environment is reached (its Ansible inventory, the discovery's extra variables, the
cloud's credentials) is deliberately not here: that is the deployment's configuration file
(`calipso_core.scans.config`), with secrets in Ansible Vault, the environment or clouds.yaml. A
setting editable through the API can neither hold a secret nor make the controller run anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from calipso_core.store import Doc, MongoStore
from calipso_core.store.mongo import now_iso

RECORDS: Final = "environment_settings"
EDITABLE: Final = ("description", "labels", "scans_paused")
DEFAULTS: Final = {"description": "", "labels": {}, "scans_paused": False,
                   "updated_by": None, "updated_at": None}


def read_settings(store: MongoStore, environment: str) -> Doc:
    """The environment's settings, the defaults where none were set."""
    with store.transaction(write=False):
        record = store.records(RECORDS).find_one({"_id": environment})
    return _view(record)


def update_settings(store: MongoStore, environment: str, changes: Mapping[str, Any],
                    user: str) -> None:
    """Set the given settings (the others keep their values).

    `changes` must hold only EDITABLE keys, of the shapes the caller has checked (the API checks
    them against its document); a label is stored as a pair, since its key is an admin's text and
    MongoDB reads "$" and "." in field names."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ValueError(f"not environment settings: {', '.join(unknown)}")
    fields: Doc = {name: value for name, value in changes.items() if name != "labels"}
    if "labels" in changes:
        fields["labels"] = sorted([key, value] for key, value in changes["labels"].items())
    fields.update(updated_by=user, updated_at=now_iso())
    with store.transaction(write=True):
        records = store.records(RECORDS)
        if not records.update_one({"_id": environment}, {"$set": fields}):
            records.insert_one({"_id": environment, **fields})


def scans_paused(store: MongoStore, environment: str) -> bool:
    return bool(read_settings(store, environment)["scans_paused"])


def _view(record: Mapping[str, Any] | None) -> Doc:
    settings = {**DEFAULTS, **{key: value for key, value in (record or {}).items()
                               if key in DEFAULTS}}
    settings["labels"] = dict(settings["labels"])
    return settings
