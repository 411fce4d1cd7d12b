"""Reading scan requests and schedules alike: one by id, a page of them (of one environment, or
of all) in a fixed order, and how many there are, as the API pages them; never the fields that
are the store's or this package's bookkeeping."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from calipso_core.store import Doc, Store

HIDDEN: Final = {"_id": 0, "kind": 0}
"""Bookkeeping fields of a record: its store id (the record's id again) and its kind where a
collection holds more than one."""


class RecordReader:
    """The records of one collection that match `selector`, listed in `order`."""

    def __init__(self, store: Store, collection: str, selector: Mapping[str, Any],
                 order: Sequence[tuple[str, int]]) -> None:
        self._store = store
        self._collection = collection
        self._selector = dict(selector)
        self._order = list(order)

    def _filter(self, environment: str | None) -> Doc:
        return {**self._selector, **({"environment": environment} if environment else {})}

    def get(self, record_id: str) -> Doc | None:
        with self._store.transaction(write=False):
            return self._store.records(self._collection).find_one(
                {**self._selector, "_id": record_id}, HIDDEN)

    def list(self, environment: str | None = None, limit: int = 50,
             offset: int = 0) -> list[Doc]:
        with self._store.transaction(write=False):
            return self._store.records(self._collection).find(
                self._filter(environment), HIDDEN, sort=self._order, skip=offset, limit=limit)

    def count(self, environment: str | None = None) -> int:
        with self._store.transaction(write=False):
            return self._store.records(self._collection).count(self._filter(environment))
