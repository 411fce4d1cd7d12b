"""The embedded inventory store: the MongoStore logic over mongomock, persisted to one file.

Why: no MongoDB server is needed to run Calipso (a new user, a lab, CI), yet the store keeps the
same guarantees as with MongoDB, because it is the same code. The in-memory mongomock database is
the working copy of a file; every public operation is a transaction on that file:

- reads reload the file first when it changed on disk (another process wrote it), without a
  lock: the file is only ever replaced whole, so any open sees one complete version;
- writes take an exclusive `flock` on `<file>.lock` (the API and a scanner never write at the
  same time), reload if needed, run, and save the file atomically (temporary file, fsync,
  rename, fsync of the directory) when they changed something. An operation that fails keeps
  nothing of its changes: the next one reloads the file.

A process killed at any point therefore leaves the file as of its last completed operation: the
previous inventory, plus at most the invisible versions of an uncommitted scan, which the next
scan discards.

Reads by equality: mongomock has no working indexes, it runs every query over every document in
Python (a second per `get` at 85k objects). So `get`, `find` and `count` whose filter is only
equalities or `$in` of strings (or None) on `id` and the kind's QUERY_FIELDS are answered from
dict indexes of the versions visible at the committed generation, built on first use per kind
and environment and dropped whenever the in-memory database may change (a reload of the file,
any write transaction). Other filters, and sorts on values that are not all strings, go to
mongomock; both paths give the same documents in the same order (mongomock's: insertion order,
then a stable sort).

File format: a sequence of BSON documents (as `mongodump` writes them), first a header
`{"format": "calipso-inventory", "version": 1, "saved": <time>, "collections": {name: count}}`,
then one `{"c": <collection>, "d": <document>}` per stored document.
"""

from __future__ import annotations

import copy
import fcntl
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import bson
import mongomock
from bson.errors import BSONError

from calipso_core.store.errors import StoreError, StoreUnavailable
from calipso_core.store.mongo import (
    DEFAULT_LEASE_SECONDS,
    QUERY_FIELDS,
    VERSION_FIELDS,
    Doc,
    MongoStore,
    _check_filter,
    _check_kind,
    now_iso,
)

FORMAT: Final = "calipso-inventory"
VERSION: Final = 1
DATABASE: Final = "calipso"

FileKey = tuple[int, int, int]
"""(inode, size, mtime in ns): a saved file is always a new inode, so this changes with it."""


def _file_key(stat: os.stat_result) -> FileKey:
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


# Saving and loading go straight to where mongomock 4.3 (pinned in pyproject) keeps a
# collection's documents: its cursors and inserts deep-copy and re-validate every document, which
# made a save or a load of 40,000 documents take seconds instead of a fraction of one. Documents
# decoded from the file are fresh objects that mongomock itself validated as BSON when it first
# stored them.


def _stored(collection: mongomock.Collection) -> Iterator[Doc]:
    return collection._store.documents


def _restore(collection: mongomock.Collection, documents: list[Doc]) -> None:
    store = collection._store
    for document in documents:
        store[document["_id"]] = document


Key = str | None
"""An indexed value: a string, or None for a field that is missing or null (as `{f: None}`)."""
INDEXED: Final = {kind: ("id", *fields) for kind, fields in QUERY_FIELDS.items()}


@dataclass(frozen=True)
class _Index:
    """The versions of one kind visible at one committed generation of one environment, in the
    collection's order, and where each value of each indexed field occurs among them. A field
    holding anything but strings and None in some version (a list, a number) is left out, so
    that its queries keep mongomock's semantics."""

    docs: list[Doc]
    positions: dict[str, dict[Key, list[int]]]


def _build_index(collection: mongomock.Collection, kind: str, environment: str,
                 committed: int) -> _Index:
    # The Python twin of mongo._visible.
    docs = [doc for doc in _stored(collection)
            if doc.get("environment") == environment and doc["valid_from"] <= committed
            and (doc.get("valid_to") is None or doc["valid_to"] > committed)]
    positions: dict[str, dict[Key, list[int]]] = {}
    for name in INDEXED[kind]:
        where: dict[Key, list[int]] = {}
        for position, doc in enumerate(docs):
            value = doc.get(name)
            if value is not None and not isinstance(value, str):
                break
            where.setdefault(value, []).append(position)
        else:
            positions[name] = where
    return _Index(docs, positions)


def _equalities(filter: Mapping[str, Any] | None) -> dict[str, list[Key]] | None:
    """{field: accepted values} when the filter is only equalities and `$in`s of strings or
    None on top-level fields, else None."""
    wanted: dict[str, list[Key]] = {}
    for name, value in (filter or {}).items():
        if isinstance(value, Mapping) and value.keys() == {"$in"} \
                and isinstance(value["$in"], list | tuple):
            values = list(value["$in"])
        else:
            values = [value]
        if name.startswith("$") or not all(v is None or isinstance(v, str) for v in values):
            return None
        wanted[name] = values
    return wanted


def _ordered(docs: list[Doc], sort: Sequence[tuple[str, int]] | None) -> list[Doc] | None:
    """The documents sorted as mongomock would (stable, last key first), or None when a sort
    field is not a string in all of them (BSON's order across types is mongomock's job)."""
    for name, direction in reversed(sort or ()):
        if not all(isinstance(doc.get(name), str) for doc in docs):
            return None
        docs = sorted(docs, key=lambda doc: doc[name], reverse=direction < 0)
    return docs


_IMMUTABLE: Final = (str, int, float, bool, type(None))


def _detached(value: Any) -> Any:
    """A value callers may change without changing the stored one. Immutable values are shared
    and a list of them (a clique's nodes) copied flat: deepcopy would give the same, a call per
    item later (a third of a clique read's time)."""
    if isinstance(value, _IMMUTABLE):
        return value
    if isinstance(value, list) and all(isinstance(item, _IMMUTABLE) for item in value):
        return list(value)
    return copy.deepcopy(value)


def _copy(doc: Doc, projection: Sequence[str] | None) -> Doc:
    """What a mongomock cursor returns after `_public`: a copy callers may change, of the
    projected fields, without the version fields."""
    names = doc.keys() if projection is None else dict.fromkeys(projection)
    return {name: _detached(doc[name]) for name in names
            if name in doc and name not in VERSION_FIELDS}


class EmbeddedStore(MongoStore):
    """The inventory store in one file, shared safely by several processes on one machine."""

    def __init__(self, path: str | os.PathLike[str], *,
                 lease_seconds: float = DEFAULT_LEASE_SECONDS,
                 lock_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._lock_timeout = lock_timeout
        self._mutex = threading.RLock()
        self._loaded: FileKey | None = None
        self._stale = True
        self._indexes: dict[tuple[str, str], tuple[int, _Index]] = {}
        """(kind, environment): (committed generation, its index); see the module doc."""
        self._generations: dict[str, int] = {}
        """Committed generation per environment, as the in-memory database holds them."""
        self._names: list[str] | None = None
        """The environments' names, as the in-memory database holds them."""
        self._writing = False
        self.saves = 0
        """Files written since opened: the embedded counterpart of write round trips."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(f"cannot create {self.path.parent}: {exc.strerror}") from exc
        super().__init__(mongomock.MongoClient()[DATABASE], lease_seconds=lease_seconds)
        with self.transaction(write=False):
            pass  # a file that is not an inventory fails here, at open

    def ensure_indexes(self) -> None:
        """Nothing to do: mongomock indexes speed nothing up (reads by equality use this
        store's own, see the module doc), and its unique indexes check every insert against the
        whole collection. The scans' logic keeps versions unique."""

    @contextmanager
    def transaction(self, write: bool) -> Iterator[None]:
        with self._mutex:
            if not write:
                self._refresh()
                yield
                return
            if self._writing:  # nested in this thread's write transaction
                yield
                return
            with self._locked():
                self._refresh()
                before = sum(self.stats.written.values())
                self._writing = True
                try:
                    yield
                    if sum(self.stats.written.values()) != before:
                        self._save()
                except BaseException:
                    self._stale = True  # drop in-memory changes that did not reach the file
                    raise
                finally:
                    self._writing = False
                    # Whatever was written (documents changed in place included) is not in them.
                    self._forget()

    def _forget(self) -> None:
        """Drop what is derived from the in-memory database: it changed, or may have."""
        self._indexes.clear()
        self._generations.clear()
        self._names = None

    # Reads of the committed state, memoised between changes of the in-memory database (each
    # was a mongomock query, a third of a clique read's time). A write transaction reads live.

    def _committed(self, environment: str) -> int:
        if self._writing:
            return super()._committed(environment)
        if environment not in self._generations:
            self._generations[environment] = super()._committed(environment)
        return self._generations[environment]

    def environments(self) -> list[str]:
        with self.transaction(write=False):
            if self._writing:
                return super().environments()
            if self._names is None:
                self._names = super().environments()
            return list(self._names)

    # Reads by equality, from the indexes (see the module doc)

    def _select(self, kind: str, environment: str,
                filter: Mapping[str, Any] | None) -> list[Doc] | None:
        """The committed documents matching an equality filter, in the collection's order, or
        None when the indexes cannot answer it; inside a read transaction."""
        wanted = _equalities(filter)
        if wanted is None or not wanted.keys() <= set(INDEXED[kind]):
            return None
        committed = self._committed(environment)
        cached = self._indexes.get((kind, environment))
        if cached is None or cached[0] != committed:
            cached = (committed, _build_index(self._db[kind], kind, environment, committed))
            self._indexes[(kind, environment)] = cached
        index = cached[1]
        if not wanted:
            return index.docs
        if not wanted.keys() <= index.positions.keys():
            return None
        matches: set[int] | None = None
        for name, values in sorted(wanted.items(), key=lambda item: len(item[1])):
            where = index.positions[name]
            found = {position for value in values for position in where.get(value, ())}
            matches = found if matches is None else matches & found
            if not matches:
                return []
        return [index.docs[position] for position in sorted(matches or ())]

    def find(self, kind: str, environment: str, filter: Mapping[str, Any] | None = None,
             sort: Sequence[tuple[str, int]] | None = None, skip: int = 0, limit: int = 0,
             projection: Sequence[str] | None = None) -> list[Doc]:
        _check_kind(kind)
        _check_filter(filter)
        with self.transaction(write=False):
            selected = self._select(kind, environment, filter)
            ordered = None if selected is None or skip < 0 or limit < 0 \
                else _ordered(selected, sort)
            # An empty projection means every field to MongoDB; a dotted one, nested fields.
            if ordered is None or (projection is not None and (
                    not projection or any("." in name for name in projection))):
                return super().find(kind, environment, filter, sort, skip, limit, projection)
            page = ordered[skip:skip + limit] if limit else ordered[skip:]
            return [_copy(doc, projection) for doc in page]

    def count(self, kind: str, environment: str,
              filter: Mapping[str, Any] | None = None) -> int:
        _check_kind(kind)
        _check_filter(filter)
        with self.transaction(write=False):
            selected = self._select(kind, environment, filter)
            if selected is None:
                return super().count(kind, environment, filter)
            return len(selected)

    def get(self, kind: str, environment: str, id: str) -> Doc | None:
        _check_kind(kind)
        with self.transaction(write=False):
            selected = self._select(kind, environment, {"id": id})
            if selected is None:
                return super().get(kind, environment, id)
            return _copy(selected[0], None) if selected else None

    @contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreUnavailable(f"cannot open {self._lock_path}: {exc.strerror}") from exc
        try:
            deadline = time.monotonic() + self._lock_timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise StoreUnavailable(
                            f"{self.path}: another process has been writing it for more than"
                            f" {self._lock_timeout:g} s") from None
                    time.sleep(0.01)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _refresh(self) -> None:
        """Load the file when it is not the one in memory."""
        try:
            with open(self.path, "rb") as file:
                key = _file_key(os.fstat(file.fileno()))
                if self._stale or key != self._loaded:
                    self._load(file.read(), key)
        except FileNotFoundError:
            if self._stale or self._loaded is not None:
                self._db = mongomock.MongoClient()[DATABASE]
                self._loaded, self._stale = None, False
                self._forget()
        except OSError as exc:
            raise StoreUnavailable(f"cannot read {self.path}: {exc.strerror}") from exc

    def _load(self, data: bytes, key: FileKey) -> None:
        try:
            records = bson.decode_all(data)
        except BSONError as exc:
            raise StoreError(f"{self.path} is damaged: {exc}") from exc
        if not records or records[0].get("format") != FORMAT:
            raise StoreError(f"{self.path} is not a Calipso inventory file")
        header, documents = records[0], records[1:]
        if header.get("version") != VERSION:
            raise StoreError(f"{self.path}: inventory file version {header.get('version')} is"
                             f" not supported (expected {VERSION})")
        if len(documents) != sum(header.get("collections", {}).values()):
            raise StoreError(f"{self.path} is truncated")
        by_collection: dict[str, list[Doc]] = {}
        for record in documents:
            by_collection.setdefault(record["c"], []).append(record["d"])
        database = mongomock.MongoClient()[DATABASE]
        for name, docs in by_collection.items():
            _restore(database[name], docs)
        self._db = database
        self._loaded, self._stale = key, False
        self._forget()

    def _save(self) -> None:
        """Write the whole database to a new file and rename it over the old one."""
        names = sorted(self._db.list_collection_names())
        contents = {name: list(_stored(self._db[name])) for name in names}
        header = {"format": FORMAT, "version": VERSION, "saved": now_iso(),
                  "collections": {name: len(docs) for name, docs in contents.items()}}
        for stray in self.path.parent.glob(self.path.name + ".tmp-*"):
            stray.unlink(missing_ok=True)  # left by a writer that died: we hold the lock
        temporary = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with open(fd, "wb") as file:
                file.write(bson.encode(header))
                for name, docs in contents.items():
                    for doc in docs:
                        file.write(bson.encode({"c": name, "d": doc}))
                file.flush()
                os.fsync(file.fileno())
                key = _file_key(os.fstat(file.fileno()))
            os.replace(temporary, self.path)
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except BaseException as exc:
            temporary.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise StoreUnavailable(f"cannot write {self.path}: {exc.strerror}") from exc
            raise
        self._loaded = key
        self.saves += 1
