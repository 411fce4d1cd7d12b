"""The inventory store: versioned documents in MongoDB behind a committed-generation pointer.

Why versions: a scan replaces an environment's whole inventory (or the part of it inside a scope).
Rewriting documents in place would show readers a half-written inventory and lose the previous one
when the scanner dies. Instead every version of a document carries the generation that introduced
it (`valid_from`) and the one that superseded it (`valid_to`). Readers see the versions alive at the
environment's committed generation C: `valid_from <= C` and `valid_to` unset or `> C`. Scan N
(N > C) inserts its new versions with `valid_from = N` (invisible) and marks the versions it
replaces or removes with `valid_to = N` (still visible); one atomic conditional update of C to N
publishes all of it at once. Whatever a dead scan left (versions above C, marks above C) is
invisible and is discarded by the next scan.

Why hashes: each version stores the sha256 of the caller's document, so a scan that finds nothing
changed writes no document at all, only its scan record.

Why bulk: the current versions are read in one query per kind and all writes go out in batched
`bulk_write` calls, so a scan costs a bounded number of database round trips, never one per
document. `Stats` counts them so tests and benchmarks can check it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

import mongomock
from bson import ObjectId, json_util
from pymongo import DeleteMany, IndexModel, InsertOne, ReturnDocument, UpdateMany
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

from calipso_core.store.errors import ScanConflict, ScanLost, StoreError

log = logging.getLogger(__name__)

Doc = dict[str, Any]

KINDS: Final = ("objects", "links", "cliques")
"""The inventory's document kinds; each is a collection."""
ENVIRONMENTS: Final = "environments"
"""Bookkeeping per environment: committed and last started generation, the running scan's lease."""
SCANS: Final = "scans"
"""One record per scan: state, times, scope, counts, error."""
RECORDS: Final = ("status", "messages", "tokens", "scan_requests", "schedules", "types",
                   "environment_settings")
"""Operational records kept beside the inventory and not versioned by scans: each object's check
status (with history) and the messages its checks raise; the API's tokens (hashed); scans asked
for through the API and their results; scheduled scans; clique and link types as admins edited
them; environments' settings (description, labels, scans paused). Read and written through
`records`."""

BATCH: Final = 100_000
"""Operations per bulk_write call: MongoDB's maxWriteBatchSize, so a scan makes a constant number
of calls per collection up to 100k changed documents; pymongo itself splits a call into
messages below the server's size limit. An `$in` of this many ids stays far below 16 MiB."""
FIND_BATCH: Final = 100_000
"""Documents asked for per cursor batch: a find then takes one round trip for up to 16 MiB of
results (the server's own limit per batch) instead of a first batch of 101 and more after."""
LOOKUP_CHUNK: Final = 10_000
"""Ids per `$in` query when a scoped scan looks up documents that moved into its scope."""
DEFAULT_LEASE_SECONDS: Final = 900.0
"""How long a scan holds its environment without a heartbeat before others may take it over."""

VERSION_FIELDS: Final = frozenset({"_id", "valid_from", "valid_to", "content_hash"})
"""Fields of a stored version that readers never see."""
BOOKKEEPING: Final = VERSION_FIELDS | {"first_seen", "last_seen", "generation"}
"""Fields the store owns; dropped from documents written and left out of their content hash."""
QUERY_FIELDS: Final = {
    "objects": ("type", "host", "name", "parent_id"),
    "links": ("link_type", "source_id", "target_id", "host"),
    "cliques": ("focal_id", "focal_type"),
}
"""Fields that readers filter on, indexed per kind (with the environment first); the embedded
store indexes them, and `id`, in memory."""
FORBIDDEN_OPERATORS: Final = frozenset({"$where", "$function", "$accumulator"})
"""Query operators that run JavaScript on the server: filters may come from the network."""


@dataclass
class Stats:
    """Database round trips and documents written per collection, counted at the client."""

    round_trips: int = 0
    written: Counter[str] = field(default_factory=Counter)

    def inventory_written(self) -> int:
        """Inventory documents inserted, modified or deleted (bookkeeping excluded)."""
        return sum(self.written[kind] for kind in KINDS)


@dataclass(frozen=True)
class KindCounts:
    """What a scan did to one kind of document."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0


@dataclass(frozen=True)
class ScanSummary:
    """The outcome of a committed scan, also kept in its scan record (`Store.scans`)."""

    environment: str
    generation: int
    scope: dict[str, list[Any]] | None
    started: str
    finished: str
    counts: dict[str, KindCounts]
    round_trips: int
    documents_written: int


TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%fZ"
"""How the store writes times: UTC, fixed-width ISO 8601, so that stored times sort as strings
and need no conversion in JSON answers."""


def iso(moment: datetime) -> str:
    """A time zone aware time in TIME_FORMAT."""
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def now_iso() -> str:
    return iso(datetime.now(UTC))


def content_hash(document: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of a document (sorted keys, BSON types in extended JSON)."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"),
                           default=json_util.default)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _start_time(pid: int) -> int | None:
    """When the kernel started process pid, or None if it does not run (gone or a zombie), so
    that a recycled pid is not mistaken for a lease's owner."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else int(fields[19])


def _pid_space() -> str | None:
    """This machine's boot and pid namespace: pids of two processes compare only within one
    (containers share a host's boot but not its pid namespace; hostnames prove neither)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}/{os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return None


def _owner() -> Doc:
    return {"host": socket.gethostname(), "pid": os.getpid(),
            "started": _start_time(os.getpid()), "pid_space": _pid_space()}


def new_lease(seconds: float) -> Doc:
    """A lease held by this process for `seconds` (a scan's hold on its environment; the scan
    requests' slots use the same kind, so that one liveness rule serves both)."""
    return {"token": uuid.uuid4().hex, "owner": _owner(), "expires": time.time() + seconds}


def lease_alive(lease: Mapping[str, Any]) -> bool:
    """A lease is alive until it expires, or until its owner is seen dead from the same pid
    space (a killed scanner on this machine must not block the next scan for the whole lease)."""
    if lease["expires"] <= time.time():
        return False
    owner = lease["owner"]
    space = _pid_space()
    if space is None or owner.get("pid_space") != space:
        return True
    return _start_time(owner["pid"]) == owner["started"]


def _describe_lease(env: Mapping[str, Any]) -> str:
    """The running scan of an environment document (the lease holder took the last generation)."""
    owner = env["lease"]["owner"]
    until = datetime.fromtimestamp(env["lease"]["expires"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (f"scan {env['last_generation']} is running (process {owner['pid']} on"
            f" {owner['host']}, lease until {until})")


def _and(*filters: Mapping[str, Any] | None) -> Doc:
    parts = [dict(f) for f in filters if f]
    if len(parts) == 1:
        return parts[0]
    return {"$and": parts}


def _visible(environment: str, committed: int) -> Doc:
    """The versions readers see at committed generation C."""
    return {"environment": environment, "valid_from": {"$lte": committed},
            "$or": [{"valid_to": None}, {"valid_to": {"$gt": committed}}]}


def _check_filter(value: Any) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key in FORBIDDEN_OPERATORS:
                raise ValueError(f"filter operator {key} is not allowed (it runs code)")
            _check_filter(item)
    elif isinstance(value, list | tuple):
        for item in value:
            if not isinstance(item, str):  # a long `$in` of ids: no call per id
                _check_filter(item)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}: expected one of {', '.join(KINDS)}")


def _public(version: Doc) -> Doc:
    for name in VERSION_FIELDS:
        version.pop(name, None)
    return version


def _normalise_scope(scope: Mapping[str, Any] | None) -> dict[str, list[Any]] | None:
    """A scope is {field: value or list of values}: plain equality on top-level fields, so that
    it means the same in a MongoDB query and in the check of documents written. Empty = none."""
    if not scope:
        return None
    result: dict[str, list[Any]] = {}
    for name, value in scope.items():
        if (not isinstance(name, str) or not name or name.startswith("$") or "." in name
                or name in BOOKKEEPING or name == "environment"):
            raise ValueError(f"scope field {name!r} is not a top-level document field")
        values = list(value) if isinstance(value, list | tuple | set | frozenset) else [value]
        if not values or not all(isinstance(v, str | int | float | None) for v in values):
            raise ValueError(f"scope field {name!r}: expected a scalar or a non-empty list of"
                             f" scalars, got {value!r}")
        result[name] = values
    return result


def _scope_filter(scope: Mapping[str, list[Any]] | None) -> Doc | None:
    return {name: {"$in": values} for name, values in scope.items()} if scope else None


def _in_scope(document: Mapping[str, Any], scope: Mapping[str, list[Any]]) -> bool:
    """The client-side twin of `_scope_filter` ($in also matches inside arrays)."""
    for name, values in scope.items():
        value = document.get(name)
        items = value if isinstance(value, list | tuple) else [value]
        if not any(item in values for item in items):
            return False
    return True


class TrackedCollection:
    """One collection whose calls are counted: every method here is one round trip (a `bulk`
    is one per batch), and documents written are summed from the server's answers."""

    def __init__(self, collection: Any, name: str, stats: Sequence[Stats]) -> None:
        self._collection = collection
        self._name = name
        self._sinks = stats

    def _trip(self) -> None:
        for stats in self._sinks:
            stats.round_trips += 1

    def _wrote(self, count: int) -> None:
        for stats in self._sinks:
            stats.written[self._name] += count

    def find(self, filter: Mapping[str, Any], projection: Mapping[str, Any] | None = None,
             sort: Sequence[tuple[str, int]] | None = None, skip: int = 0,
             limit: int = 0) -> list[Doc]:
        self._trip()
        cursor = self._collection.find(filter, projection, skip=skip, limit=limit,
                                       batch_size=FIND_BATCH)
        if sort:
            cursor = cursor.sort(list(sort))
        return list(cursor)

    def find_one(self, filter: Mapping[str, Any],
                 projection: Mapping[str, Any] | None = None) -> Doc | None:
        self._trip()
        return self._collection.find_one(filter, projection)

    def count(self, filter: Mapping[str, Any]) -> int:
        self._trip()
        return self._collection.count_documents(filter)

    def insert_one(self, document: Doc) -> None:
        self._trip()
        self._collection.insert_one(document)
        self._wrote(1)

    def update_one(self, filter: Mapping[str, Any], update: Mapping[str, Any]) -> bool:
        """True when a document matched."""
        self._trip()
        result = self._collection.update_one(filter, update)
        self._wrote(result.modified_count)
        return result.matched_count > 0

    def find_one_and_update(self, filter: Mapping[str, Any],
                            update: Mapping[str, Any]) -> Doc | None:
        """The document after the update, or None when none matched."""
        self._trip()
        result = self._collection.find_one_and_update(filter, update,
                                                       return_document=ReturnDocument.AFTER)
        if result is not None:
            self._wrote(1)
        return result

    def bulk(self, operations: Sequence[Any], ordered: bool = False) -> None:
        for start in range(0, len(operations), BATCH):
            self._trip()
            result = self._collection.bulk_write(list(operations[start:start + BATCH]),
                                                 ordered=ordered)
            self._wrote(result.inserted_count + result.modified_count + result.deleted_count
                        + result.upserted_count)

    def create_indexes(self, indexes: list[IndexModel]) -> None:
        self._trip()
        self._collection.create_indexes(indexes)


class MongoStore:
    """The inventory of every environment, read and replaced scan by scan (see the module doc).

    Works on any pymongo-compatible database: a real MongoDB through pymongo, or mongomock
    (which `EmbeddedStore` persists to a file). Every read goes through this API, which adds the
    visibility filter; every write goes through a `Scan`.
    """

    def __init__(self, database: Database[Doc] | mongomock.Database, *,
                 lease_seconds: float = DEFAULT_LEASE_SECONDS,
                 owns_client: bool = False) -> None:
        self._db = database
        self.lease_seconds = lease_seconds
        self.stats = Stats()
        self._owns_client = owns_client

    def transaction(self, write: bool) -> AbstractContextManager[None]:
        """Brackets each public operation, and callers' groups of `records` calls that belong
        together. MongoDB needs nothing (each update is atomic on its own); the embedded store
        loads, locks and saves its file here."""
        return nullcontext()

    def records(self, name: str) -> TrackedCollection:
        """One collection of operational records (see RECORDS), to use inside `transaction`."""
        if name not in RECORDS:
            raise ValueError(f"unknown record collection {name!r}: one of {', '.join(RECORDS)}")
        return self._collection(name)

    def _collection(self, name: str, *extra: Stats) -> TrackedCollection:
        return TrackedCollection(self._db[name], name, (self.stats, *extra))

    def ensure_indexes(self) -> None:
        """Create the indexes reads and scans rely on (idempotent). The unique one also guards
        against two versions of one document from the same generation."""
        with self.transaction(write=False):
            for kind in KINDS:
                self._collection(kind).create_indexes([
                    IndexModel([("environment", 1), ("id", 1), ("valid_from", 1)], unique=True),
                    IndexModel([("environment", 1), ("valid_to", 1)]),
                    IndexModel([("environment", 1), ("valid_from", 1)]),
                    *(IndexModel([("environment", 1), (name, 1)]) for name in QUERY_FIELDS[kind]),
                ])
            self._collection(SCANS).create_indexes([
                IndexModel([("environment", 1), ("generation", -1)], unique=True)])

    def close(self) -> None:
        """Close the client when this store opened it (`open_store`)."""
        if self._owns_client:
            self._db.client.close()

    # Reads

    def _committed(self, environment: str) -> int:
        doc = self._collection(ENVIRONMENTS).find_one(
            {"_id": environment}, {"committed_generation": 1})
        return doc["committed_generation"] if doc else 0

    def committed_generation(self, environment: str) -> int:
        """The generation readers see (0: none committed yet). The inventory of a committed
        generation never changes: what is derived from it may be kept under this number."""
        with self.transaction(write=False):
            return self._committed(environment)

    def find(self, kind: str, environment: str, filter: Mapping[str, Any] | None = None,
             sort: Sequence[tuple[str, int]] | None = None, skip: int = 0, limit: int = 0,
             projection: Sequence[str] | None = None) -> list[Doc]:
        """Documents of one kind in the environment's committed inventory.

        filter is a MongoDB query on the documents' fields (`first_seen` and `generation`
        included; no server-side JavaScript), sort a list of (field, 1 or -1), projection the
        fields to return. Returned documents carry the caller's
        fields plus `first_seen` and `generation` (the scan that wrote this version)."""
        _check_kind(kind)
        _check_filter(filter)
        fields = None if projection is None else {"_id": 0, **dict.fromkeys(projection, 1)}
        with self.transaction(write=False):
            committed = self._committed(environment)
            if not committed:
                return []
            docs = self._collection(kind).find(_and(_visible(environment, committed), filter),
                                               fields, sort=sort, skip=skip, limit=limit)
        return [_public(doc) for doc in docs]

    def count(self, kind: str, environment: str,
              filter: Mapping[str, Any] | None = None) -> int:
        """How many documents of one kind the committed inventory holds (matching filter)."""
        _check_kind(kind)
        _check_filter(filter)
        with self.transaction(write=False):
            committed = self._committed(environment)
            if not committed:
                return 0
            return self._collection(kind).count(_and(_visible(environment, committed), filter))

    def get(self, kind: str, environment: str, id: str) -> Doc | None:
        """One document of the committed inventory by id, or None."""
        _check_kind(kind)
        with self.transaction(write=False):
            committed = self._committed(environment)
            if not committed:
                return None
            doc = self._collection(kind).find_one(_and(_visible(environment, committed),
                                                       {"id": id}))
        return None if doc is None else _public(doc)

    def environments(self) -> list[str]:
        """Names of the environments that ever started a scan, sorted."""
        with self.transaction(write=False):
            docs = self._collection(ENVIRONMENTS).find({}, {"_id": 1}, sort=[("_id", 1)])
        return [doc["_id"] for doc in docs]

    def scans(self, environment: str, limit: int = 0) -> list[Doc]:
        """Scan records of an environment, newest first: generation, state (running, committed,
        failed), started, finished, heartbeat, owner, scope, counts per kind, error."""
        with self.transaction(write=False):
            return self._collection(SCANS).find({"environment": environment}, {"_id": 0},
                                                sort=[("generation", -1)], limit=limit)

    # Scans

    def begin_scan(self, environment: str, scope: Mapping[str, Any] | None = None) -> Scan:
        """Start scan N of an environment (N = last generation started + 1).

        scope ({field: value or values}) limits what the scan may replace and remove to the
        documents matching it. Refuses with ScanConflict while another scan of the environment
        holds a live lease. Discards whatever dead scans left before starting."""
        if not isinstance(environment, str) or not environment:
            raise ValueError("environment must be a non-empty string")
        normal_scope = _normalise_scope(scope)
        stats = Stats()
        lease = new_lease(self.lease_seconds)
        with self.transaction(write=True):
            env = self._acquire(environment, lease, stats)
            generation, committed = env["last_generation"], env["committed_generation"]
            after_failure = generation - 1 > committed
            if after_failure:
                self._discard_dead(environment, committed, generation, stats)
            started = now_iso()
            self._collection(SCANS, stats).bulk([
                UpdateMany({"environment": environment, "state": "running",
                            "generation": {"$gt": committed}},
                           {"$set": {"state": "failed", "finished": started,
                                     "error": "its process died or lost the lease"}}),
                # Died between publishing and recording: it did commit.
                UpdateMany({"environment": environment, "state": "running",
                            "generation": {"$lte": committed}},
                           {"$set": {"state": "committed"}}),
                InsertOne({"environment": environment, "generation": generation,
                           "state": "running", "started": started, "finished": None,
                           "heartbeat": started, "owner": lease["owner"],
                           "scope": normal_scope, "counts": {}, "error": None}),
            ], ordered=True)
        return Scan(self, environment, generation, committed, lease, normal_scope,
                    after_failure, started, stats)

    def _acquire(self, environment: str, lease: Doc, stats: Stats) -> Doc:
        """Take the environment's lease and the next generation in one atomic update; take over
        a lease whose owner is dead (compare-and-swap on its token)."""
        envs = self._collection(ENVIRONMENTS, stats)
        update = {"$set": {"lease": lease}, "$inc": {"last_generation": 1}}
        for _ in range(3):
            doc = envs.find_one_and_update({"_id": environment, "lease": None}, update)
            if doc is not None:
                return doc
            current = envs.find_one({"_id": environment})
            if current is None:
                with suppress(DuplicateKeyError):  # another process created it first
                    envs.insert_one({"_id": environment, "committed_generation": 0,
                                     "last_generation": 0, "lease": None})
                continue
            held = current["lease"]
            if held is None:
                continue
            if lease_alive(held):
                raise ScanConflict(f"environment {environment!r}: {_describe_lease(current)}")
            doc = envs.find_one_and_update({"_id": environment, "lease.token": held["token"]},
                                           update)
            if doc is not None:
                log.warning("environment %r: taking over from the dead %s", environment,
                            _describe_lease(current))
                return doc
        raise ScanConflict(f"environment {environment!r}: another scan is starting right now")

    def _discard_dead(self, environment: str, committed: int, generation: int,
                      stats: Stats) -> None:
        """Drop what scans between the committed generation and this one left behind (their new
        versions and their supersede marks), and superseded versions a commit did not collect."""
        dead = {"$gt": committed, "$lt": generation}
        for kind in KINDS:
            self._collection(kind, stats).bulk([
                DeleteMany({"environment": environment, "valid_from": dead}),
                UpdateMany({"environment": environment, "valid_to": dead},
                           {"$set": {"valid_to": None}}),
                DeleteMany({"environment": environment, "valid_to": {"$lte": committed}}),
            ])


class Scan:
    """One scan of an environment: `write` each kind's complete new set, then `commit` (or
    `abort`). Use as a context manager: commits on success, aborts on an exception.

    Nothing written is visible before the commit, and a scan that dies leaves the previous
    inventory as it was. A kind that is never written is left untouched."""

    def __init__(self, store: MongoStore, environment: str, generation: int, committed: int,
                 lease: Doc, scope: dict[str, list[Any]] | None, after_failure: bool,
                 started: str, stats: Stats) -> None:
        self._store = store
        self.environment = environment
        self.generation = generation
        self._committed = committed
        self._lease = lease
        self.scope = scope
        self._after_failure = after_failure
        self.started = started
        self.stats = stats
        """Round trips and documents written by this scan alone."""
        self._renewed = time.monotonic()
        self._counts: dict[str, KindCounts] = {}
        self._touched: set[str] = set()
        self._state = "running"
        self._broken: str | None = None
        self.summary: ScanSummary | None = None
        """Set by the commit, also when the scan was used as a context manager."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._state != "running":
            return
        if exc is None:
            self.commit()
        else:
            self.abort(f"{type(exc).__name__}: {exc}")

    def _collection(self, name: str) -> TrackedCollection:
        return self._store._collection(name, self.stats)

    def _check_usable(self) -> None:
        if self._state != "running":
            raise StoreError(f"scan {self.generation} of {self.environment!r} is {self._state}")
        if self._broken:
            raise StoreError(f"scan {self.generation} of {self.environment!r} cannot go on: a"
                             f" write failed ({self._broken}); abort it")

    # The lease

    def _check_lease(self) -> None:
        """Stop writing as soon as another scan took over, and renew the lease when a third of
        it has gone by."""
        env = self._collection(ENVIRONMENTS).find_one(
            {"_id": self.environment}, {"lease": 1, "committed_generation": 1})
        if (env is None or env.get("lease") is None
                or env["lease"]["token"] != self._lease["token"]
                or env["committed_generation"] != self._committed):
            raise ScanLost(f"scan {self.generation} of {self.environment!r} lost its lease")
        if time.monotonic() - self._renewed > self._store.lease_seconds / 3:
            self._renew()

    def _renew(self) -> None:
        expires = time.time() + self._store.lease_seconds
        if not self._collection(ENVIRONMENTS).update_one(
                {"_id": self.environment, "lease.token": self._lease["token"]},
                {"$set": {"lease.expires": expires}}):
            raise ScanLost(f"scan {self.generation} of {self.environment!r} lost its lease")
        self._collection(SCANS).update_one(
            {"environment": self.environment, "generation": self.generation},
            {"$set": {"heartbeat": now_iso()}})
        self._renewed = time.monotonic()

    def heartbeat(self) -> None:
        """Renew the lease: call it during long work between writes (discovery before the first
        write), or other scanners will count this scan as dead after `lease_seconds`."""
        self._check_usable()
        with self._store.transaction(write=True):
            self._renew()

    # Writing

    def _prepare(self, documents: Iterable[Mapping[str, Any]],
                 scope: Mapping[str, list[Any]] | None) -> dict[str, tuple[Doc, str]]:
        """The new set by id, each with its content hash; rejects what would corrupt it."""
        prepared: dict[str, tuple[Doc, str]] = {}
        for document in documents:
            doc = {k: v for k, v in document.items() if k not in BOOKKEEPING}
            doc_id = doc.get("id")
            if not isinstance(doc_id, str) or not doc_id:
                raise ValueError(f"document without a string id: {doc!r:.200}")
            if doc_id in prepared:
                raise ValueError(f"document id {doc_id!r} appears twice")
            if doc.pop("environment", self.environment) != self.environment:
                raise ValueError(f"document {doc_id!r} belongs to environment"
                                 f" {document['environment']!r}, not {self.environment!r}")
            if scope and not _in_scope(doc, scope):
                raise ValueError(f"document {doc_id!r} is outside the scan's scope {scope}")
            prepared[doc_id] = (doc, content_hash(doc))
        return prepared

    def write(self, kind: str, documents: Iterable[Mapping[str, Any]],
              whole_kind: bool = False) -> KindCounts:
        """Give the complete new set of one kind (within the scope), once per kind.

        With whole_kind, the documents are the kind's complete set whatever the scan's scope
        (a scan limited to some hosts still recomputes every clique those hosts may have
        left).

        Versus the committed inventory: new and changed documents get a new, not yet visible
        version; changed and vanished ones have their current version marked as superseded;
        unchanged ones are not written at all. Documents need a string `id`; their
        `environment` is set to the scan's; bookkeeping fields in them are ignored. Returns
        how many were added, changed, removed and unchanged."""
        self._check_usable()
        _check_kind(kind)
        if kind in self._counts or kind in self._touched:
            raise ValueError(f"scan {self.generation} already wrote {kind}")
        try:
            scope = None if whole_kind else self.scope
            new = self._prepare(documents, scope)
            with self._store.transaction(write=True):
                self._check_lease()
                self._counts[kind] = self._apply(kind, new, scope)
        except BaseException as exc:
            self._broken = f"{type(exc).__name__}: {exc}"
            raise
        return self._counts[kind]

    def _current(self, kind: str, new_ids: Iterable[str],
                 scope: Mapping[str, list[Any]] | None) -> tuple[dict[str, Doc], set[str]]:
        """The committed versions (id, hash, first_seen) the new set is compared with, and the
        ids among them that are in scope, i.e. that this scan may remove."""
        visible = _visible(self.environment, self._committed)
        fields = {"id": 1, "content_hash": 1, "first_seen": 1}
        collection = self._collection(kind)
        current = {doc["id"]: doc for doc in collection.find(
            _and(visible, _scope_filter(scope)), fields)}
        removable = set(current)
        if scope:
            # Documents moving into the scope: their old version is elsewhere.
            outside = [doc_id for doc_id in new_ids if doc_id not in current]
            for start in range(0, len(outside), LOOKUP_CHUNK):
                chunk = outside[start:start + LOOKUP_CHUNK]
                for doc in collection.find(_and(visible, {"id": {"$in": chunk}}), fields):
                    current[doc["id"]] = doc
        return current, removable

    def _apply(self, kind: str, new: Mapping[str, tuple[Doc, str]],
               scope: Mapping[str, list[Any]] | None) -> KindCounts:
        current, removable = self._current(kind, new, scope)
        now = now_iso()
        inserts: list[InsertOne[Doc]] = []
        superseded: list[str] = []
        added = changed = 0
        for doc_id, (doc, digest) in new.items():
            old = current.get(doc_id)
            if old is not None and old["content_hash"] == digest:
                continue
            if old is None:
                added += 1
            else:
                changed += 1
                superseded.append(old["_id"])
            inserts.append(InsertOne({
                **doc, "environment": self.environment, "generation": self.generation,
                "first_seen": old.get("first_seen", now) if old else now,
                # A string, not an ObjectId: mongomock compares `$in` lists in Python, and
                # ObjectId equality is a Python method, many times slower than str's.
                "_id": str(ObjectId()), "valid_from": self.generation, "valid_to": None,
                "content_hash": digest}))
        removed = [current[doc_id]["_id"] for doc_id in removable if doc_id not in new]
        superseded.extend(removed)
        # A newer scan that took over may have marked some already: never undo its marks.
        not_newer = {"$or": [{"valid_to": None}, {"valid_to": {"$lt": self.generation}}]}
        marks = [UpdateMany({"_id": {"$in": superseded[start:start + BATCH]}, **not_newer},
                            {"$set": {"valid_to": self.generation}})
                 for start in range(0, len(superseded), BATCH)]
        self._touched.add(kind)
        self._collection(kind).bulk([*inserts, *marks])
        return KindCounts(added=added, changed=changed, removed=len(removed),
                          unchanged=len(new) - added - changed)

    # Ending

    def _counts_doc(self) -> Doc:
        return {kind: asdict(counts) for kind, counts in self._counts.items()}

    def _record(self, state: str, finished: str, error: str | None = None) -> None:
        self._collection(SCANS).update_one(
            {"environment": self.environment, "generation": self.generation},
            {"$set": {"state": state, "finished": finished, "counts": self._counts_doc(),
                      "error": error}})

    def _publish(self, finished: str) -> bool:
        """Make the scan visible: move the committed generation from C to N in one conditional
        update (it fails if another scan took over), then record and collect garbage."""
        if self._after_failure:
            # The failed scan may be a stalled one that woke up and wrote since: drop it again.
            self._store._discard_dead(self.environment, self._committed, self.generation,
                                      self.stats)
        if not self._collection(ENVIRONMENTS).update_one(
                {"_id": self.environment, "committed_generation": self._committed,
                 "lease.token": self._lease["token"]},
                {"$set": {"committed_generation": self.generation, "lease": None}}):
            return False
        self._record("committed", finished)
        for kind, counts in self._counts.items():
            if counts.changed or counts.removed:
                self._collection(kind).bulk([DeleteMany(
                    {"environment": self.environment, "valid_to": {"$lte": self.generation}})])
        return True

    def commit(self) -> ScanSummary:
        """Publish everything written, atomically; versions superseded by it are deleted.

        Raises ScanLost when another scan took over meanwhile (this one is then failed)."""
        self._check_usable()
        finished = now_iso()
        try:
            with self._store.transaction(write=True):
                published = self._publish(finished)
        except BaseException as exc:
            if not self._end(f"commit failed: {type(exc).__name__}: {exc}"):
                raise
            log.warning("scan %d of %r committed, but finishing it failed: %s",
                        self.generation, self.environment, exc)
            published = True
        if not published:
            self._end("lost its lease before committing")
            raise ScanLost(f"scan {self.generation} of {self.environment!r} lost its lease"
                           " before committing; the inventory is as the other scan leaves it")
        self._state = "committed"
        self.summary = ScanSummary(
            environment=self.environment, generation=self.generation, scope=self.scope,
            started=self.started, finished=finished, counts=dict(self._counts),
            round_trips=self.stats.round_trips,
            documents_written=self.stats.inventory_written())
        return self.summary

    def abort(self, error: str) -> None:
        """Fail the scan: record the error, release the environment, discard what it wrote.

        Best effort: when the database is unreachable the next scan discards it anyway."""
        if self._state == "running":
            self._end(error)

    def _landed(self) -> bool:
        """Whether this scan's commit reached the database (its outcome may be unknown after an
        error): committed generation N, or a later one while our record says committed."""
        env = self._collection(ENVIRONMENTS).find_one({"_id": self.environment},
                                                      {"committed_generation": 1})
        committed = env["committed_generation"] if env else 0
        if committed == self.generation:
            return True
        if committed < self.generation:
            return False
        record = self._collection(SCANS).find_one(
            {"environment": self.environment, "generation": self.generation}, {"state": 1})
        return record is not None and record["state"] == "committed"

    def _end(self, error: str) -> bool:
        """Settle a scan that did not commit cleanly; True when it turns out to have committed.
        Never raises: failures are logged, and the next scan's begin cleans up."""
        self._state = "failed"
        finished = now_iso()
        try:
            with self._store.transaction(write=True):
                if self._landed():
                    self._record("committed", finished)
                    self._state = "committed"
                    return True
                self._collection(ENVIRONMENTS).update_one(
                    {"_id": self.environment, "lease.token": self._lease["token"]},
                    {"$set": {"lease": None}})
                self._record("failed", finished, error)
                for kind in self._touched:
                    self._collection(kind).bulk([
                        DeleteMany({"environment": self.environment,
                                    "valid_from": self.generation}),
                        UpdateMany({"environment": self.environment,
                                    "valid_to": self.generation},
                                   {"$set": {"valid_to": None}}),
                    ])
        except (PyMongoError, StoreError, OSError) as exc:
            log.warning("scan %d of %r: could not record its failure (%s); the next scan will"
                        " clean up", self.generation, self.environment, exc)
        return False
