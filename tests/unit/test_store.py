"""The inventory store: scans replace an environment's inventory atomically, in bulk, and a dead
scan leaves the previous inventory intact. Every behaviour runs on both backends: MongoStore
(the pymongo code path, here against mongomock) and the embedded file store."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import bson
import mongomock
import pytest
from pymongo.errors import AutoReconnect

from calipso_core.store import (
    DEFAULT_STORE_PATH,
    EmbeddedStore,
    MongoStore,
    Scan,
    ScanConflict,
    ScanLost,
    Store,
    StoreError,
    StoreUnavailable,
    mongo,
    open_store,
    redact_url,
)

REPO = Path(__file__).resolve().parents[2]
ENV = "lab"


@dataclass
class Backend:
    """A store under test, a way to open it again (as another process would) and its raw
    stored versions (bookkeeping fields included)."""

    store: Store
    reopen: Callable[..., Store]
    raw: Callable[[str], list[dict]]


def _mongo_backend(tmp_path: Path) -> Backend:
    database = mongomock.MongoClient()["calipso"]

    def raw(kind: str) -> list[dict]:
        return sorted(database[kind].find(), key=lambda d: (d["id"], d["valid_from"]))

    return Backend(MongoStore(database), lambda **kw: MongoStore(database, **kw), raw)


def _embedded_backend(tmp_path: Path) -> Backend:
    path = tmp_path / "inventory.db"

    def raw(kind: str) -> list[dict]:
        if not path.exists():
            return []
        records = bson.decode_all(path.read_bytes())[1:]
        return sorted((r["d"] for r in records if r["c"] == kind),
                      key=lambda d: (d["id"], d["valid_from"]))

    return Backend(EmbeddedStore(path), lambda **kw: EmbeddedStore(path, **kw), raw)


@pytest.fixture(params=["mongo", "embedded"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return {"mongo": _mongo_backend, "embedded": _embedded_backend}[request.param](tmp_path)


def obj(i: int, host: str = "compute1", **extra: object) -> dict:
    return {"id": f"port-{i}", "type": "port", "name": f"tap{i}", "host": host,
            "attributes": {"mac": f"fa:16:3e:00:00:{i % 256:02x}", "mtu": 1450}, **extra}


def link(source: int, target: int) -> dict:
    return {"id": f"vnic-vconnector:port-{source}:port-{target}", "link_type": "vnic-vconnector",
            "source_id": f"port-{source}", "target_id": f"port-{target}", "state": "up"}


def names(store: Store, kind: str = "objects", environment: str = ENV) -> dict[str, str]:
    return {d["id"]: d.get("name", "") for d in store.find(kind, environment)}


def scan(store: Store, objects: list[dict], links: list[dict] | None = None,
         environment: str = ENV, **kwargs: object):
    with store.begin_scan(environment, **kwargs) as s:
        s.write("objects", objects)
        if links is not None:
            s.write("links", links)
    return s


# Scans


def test_first_scan_inserts(backend: Backend) -> None:
    store = backend.store
    assert store.find("objects", ENV) == []
    s = scan(store, [obj(1), obj(2)], [link(1, 2)])
    summary = store.scans(ENV)[0]
    assert summary["state"] == "committed"
    assert summary["counts"]["objects"] == {"added": 2, "changed": 0, "removed": 0,
                                            "unchanged": 0}
    assert names(store) == {"port-1": "tap1", "port-2": "tap2"}
    doc = store.get("objects", ENV, "port-1")
    assert doc == {**obj(1), "environment": ENV, "generation": s.generation,
                   "first_seen": doc["first_seen"]}
    assert store.count("links", ENV) == 1
    assert store.get("links", ENV, "nope") is None
    assert store.environments() == [ENV]


def test_identical_scan_writes_nothing(backend: Backend) -> None:
    store = backend.store
    objects, links = [obj(i) for i in range(50)], [link(i, i + 1) for i in range(49)]
    scan(store, objects, links)
    before_raw = backend.raw("objects") + backend.raw("links")
    before = store.find("objects", ENV)
    with store.begin_scan(ENV) as s:
        assert s.write("objects", objects).unchanged == 50
        assert s.write("links", links).unchanged == 49
    record = store.scans(ENV)[0]
    assert record["state"] == "committed"
    assert record["counts"]["objects"] == {"added": 0, "changed": 0, "removed": 0,
                                           "unchanged": 50}
    assert s.summary is not None and s.summary.documents_written == 0
    assert backend.raw("objects") + backend.raw("links") == before_raw  # same _ids, versions
    assert store.find("objects", ENV) == before  # generation and first_seen unchanged


def test_summary_counts_and_documents_written(backend: Backend) -> None:
    store = backend.store
    scan(store, [obj(i) for i in range(10)])
    s = store.begin_scan(ENV)
    s.write("objects", [obj(i) for i in range(10)])
    summary = s.commit()
    assert summary.documents_written == 0
    assert summary.counts["objects"].unchanged == 10
    assert summary.generation == 2 and summary.environment == ENV
    assert 0 < summary.round_trips < 10


def test_changed_document_gets_new_version_keeping_first_seen(backend: Backend) -> None:
    store = backend.store
    scan(store, [obj(1), obj(2)])
    first = store.get("objects", ENV, "port-1")
    time.sleep(0.002)
    s = scan(store, [obj(1, name="renamed"), obj(2)])
    changed = store.get("objects", ENV, "port-1")
    assert changed["name"] == "renamed"
    assert changed["first_seen"] == first["first_seen"]
    assert changed["generation"] == s.generation == 2
    assert store.get("objects", ENV, "port-2")["generation"] == 1
    assert store.scans(ENV)[0]["counts"]["objects"]["changed"] == 1
    # The superseded version was collected at commit.
    assert [d["valid_from"] for d in backend.raw("objects") if d["id"] == "port-1"] == [2]


def test_bookkeeping_fields_in_input_are_ignored(backend: Backend) -> None:
    store = backend.store
    scan(store, [obj(1)])
    returned = store.find("objects", ENV)
    s = store.begin_scan(ENV)
    assert s.write("objects", returned).unchanged == 1  # read back and written again
    s.commit()


def test_removal_is_invisible_until_commit(backend: Backend) -> None:
    store = backend.store
    scan(store, [obj(1), obj(2), obj(3)])
    old = store.find("objects", ENV)
    s = store.begin_scan(ENV)
    s.write("objects", [obj(1, name="renamed"), obj(2), obj(4)])
    # Between write and commit every reader sees the old set, also another process.
    assert store.find("objects", ENV) == old
    assert backend.reopen().find("objects", ENV) == old
    assert store.count("objects", ENV) == 3
    s.commit()
    assert names(store) == {"port-1": "renamed", "port-2": "tap2", "port-4": "tap4"}
    assert names(backend.reopen()) == names(store)


def test_exception_in_scan_keeps_previous_inventory(backend: Backend) -> None:
    store = backend.store
    scan(store, [obj(1), obj(2)], [link(1, 2)])
    before, raw_before = store.find("objects", ENV), backend.raw("objects")
    with pytest.raises(RuntimeError, match="discovery broke"), store.begin_scan(ENV) as s:
        s.write("objects", [obj(1, name="half"), obj(5)])
        raise RuntimeError("discovery broke")
    assert store.find("objects", ENV) == before
    assert backend.raw("objects") == raw_before  # the abort discarded its versions
    failed = store.scans(ENV)[0]
    assert failed["state"] == "failed" and "discovery broke" in failed["error"]
    scan(store, [obj(1), obj(3)])
    assert names(store) == {"port-1": "tap1", "port-3": "tap3"}
    assert store.count("links", ENV) == 1  # links were not written: untouched


def test_failed_write_forbids_commit(backend: Backend) -> None:
    store = backend.store
    scan(store, [obj(1)])
    s = store.begin_scan(ENV)
    with pytest.raises(ValueError, match="appears twice"):
        s.write("objects", [obj(2), obj(2)])
    with pytest.raises(StoreError, match="abort it"):
        s.commit()
    s.abort("bad input")
    assert names(store) == {"port-1": "tap1"}


def test_write_validation(backend: Backend) -> None:
    s = backend.store.begin_scan(ENV)
    with pytest.raises(ValueError, match="unknown kind"):
        s.write("things", [])
    s.write("objects", [obj(1)])
    with pytest.raises(ValueError, match="already wrote"):
        s.write("objects", [obj(1)])
    s.abort("done")
    for bad, message in (([{"name": "x"}], "string id"),
                         ([{**obj(1), "environment": "other"}], "belongs to")):
        s = backend.store.begin_scan(ENV)
        with pytest.raises(ValueError, match=message):
            s.write("objects", bad)
        s.abort("bad")
    with pytest.raises(StoreError, match="failed"):
        s.write("links", [])


def test_abandoned_scan_is_cleaned_by_the_next(backend: Backend) -> None:
    """A scan whose process vanished (lease expired): the next scan takes over and discards it."""
    store = backend.reopen(lease_seconds=0.05)
    scan(store, [obj(1), obj(2)])
    before = store.find("objects", ENV)
    dead = store.begin_scan(ENV)
    dead.write("objects", [obj(1, name="zombie"), obj(3)])
    time.sleep(0.1)
    assert store.find("objects", ENV) == before
    s = scan(store, [obj(1), obj(4)])
    assert s.generation == 3
    assert names(store) == {"port-1": "tap1", "port-4": "tap4"}
    assert [(d["id"], d["valid_from"]) for d in backend.raw("objects")] == [
        ("port-1", 1), ("port-4", 3)]
    states = {r["generation"]: r["state"] for r in store.scans(ENV)}
    assert states == {1: "committed", 2: "failed", 3: "committed"}
    # The dead scan wakes up: it cannot write or commit any more.
    with pytest.raises(ScanLost):
        dead.write("links", [link(1, 3)])
    with pytest.raises(StoreError):
        dead.commit()
    assert names(store) == {"port-1": "tap1", "port-4": "tap4"}


def test_scan_losing_its_lease_cannot_commit(backend: Backend) -> None:
    store = backend.reopen(lease_seconds=0.05)
    scan(store, [obj(1)])
    slow = store.begin_scan(ENV)
    slow.write("objects", [obj(1, name="slow")])
    time.sleep(0.1)
    scan(store, [obj(2)])
    with pytest.raises(ScanLost):
        slow.commit()
    assert names(store) == {"port-2": "tap2"}
    assert [d["id"] for d in backend.raw("objects")] == ["port-2"]


def test_concurrent_begin_refused_while_lease_is_live(backend: Backend) -> None:
    store = backend.store
    s = store.begin_scan(ENV)
    with pytest.raises(ScanConflict, match=r"scan 1 is running \(process \d+"):
        store.begin_scan(ENV)
    with pytest.raises(ScanConflict):
        backend.reopen().begin_scan(ENV)  # another instance (process) is refused too
    other = store.begin_scan("other-env")  # other environments are independent
    other.abort("not needed")
    s.heartbeat()
    s.write("objects", [obj(1)])
    s.commit()
    scan(store, [obj(2)])  # the lease was released
    assert names(store) == {"port-2": "tap2"}


def test_scoped_scan_removes_only_inside_scope(backend: Backend) -> None:
    store = backend.store
    scan(store, [obj(1, "compute1"), obj(2, "compute1"), obj(3, "compute2"),
                 obj(4, "compute2")], [link(1, 2)])
    s = scan(store, [obj(1, "compute1", name="new1"), obj(5, "compute1"),
                     obj(3, "compute1")],  # port-3 moved from compute2 into the scope
             scope={"host": ["compute1"]})
    assert s.scope == {"host": ["compute1"]}
    hosts = {d["id"]: (d["host"], d["name"]) for d in store.find("objects", ENV)}
    assert hosts == {"port-1": ("compute1", "new1"), "port-3": ("compute1", "tap3"),
                     "port-4": ("compute2", "tap4"), "port-5": ("compute1", "tap5")}
    counts = store.scans(ENV)[0]["counts"]["objects"]
    assert counts == {"added": 1, "changed": 2, "removed": 1, "unchanged": 0}
    assert store.count("links", ENV) == 1
    assert len(backend.raw("objects")) == 4  # one version per document
    with store.begin_scan(ENV, scope={"host": "compute1"}) as s:
        with pytest.raises(ValueError, match="outside the scan's scope"):
            s.write("objects", [obj(9, "compute2")])
        s.abort("outside")
    with pytest.raises(ValueError, match="scope field"):
        store.begin_scan(ENV, scope={"$where": "1"})


def test_two_environments_are_isolated(backend: Backend) -> None:
    store = backend.store
    scan(store, [obj(1), obj(2)], environment="east")
    scan(store, [obj(2, name="west-two"), obj(3)], environment="west")
    scan(store, [obj(1)], environment="east")  # removes east's port-2 only
    assert names(store, environment="east") == {"port-1": "tap1"}
    assert names(store, environment="west") == {"port-2": "west-two", "port-3": "tap3"}
    assert store.environments() == ["east", "west"]
    assert [r["generation"] for r in store.scans("east")] == [2, 1]
    assert store.find("objects", "nowhere") == [] and store.count("objects", "nowhere") == 0


def test_queries(backend: Backend) -> None:
    store = backend.store
    scan(store, [obj(i, "compute1" if i % 2 else "compute2") for i in range(10)])
    found = store.find("objects", ENV, {"host": "compute1"}, sort=[("name", -1)], skip=1,
                       limit=2, projection=["id", "name", "generation"])
    assert found == [{"id": "port-7", "name": "tap7", "generation": 1},
                     {"id": "port-5", "name": "tap5", "generation": 1}]
    assert store.count("objects", ENV, {"attributes.mtu": 1450}) == 10
    assert store.count("objects", ENV, {"generation": 1, "host": "compute2"}) == 5
    with pytest.raises(ValueError, match=r"\$where"):
        store.find("objects", ENV, {"$or": [{"$where": "sleep(1000)"}]})
    with pytest.raises(ValueError, match="unknown kind"):
        store.count("hosts", ENV)


def test_round_trips_bounded_for_5000_objects(backend: Backend) -> None:
    store = backend.store
    small = scan(store, [obj(i) for i in range(50)], environment="small")
    big = [obj(i) for i in range(5000)]
    first = scan(store, big)
    # Second scan: 200 changed, 300 removed, 100 added.
    update = [obj(i, name="changed") if i < 200 else d for i, d in enumerate(big[:4700])]
    second = scan(store, update + [obj(i) for i in range(5000, 5100)])
    rt_small, rt_first, rt_second = (s.summary.round_trips for s in (small, first, second))
    print(f"\n{type(store).__name__}: round trips per scan: 50 objects {rt_small},"
          f" 5000 new {rt_first}, 5000 with changes {rt_second}")
    assert rt_first < 30 and rt_second < 30
    assert rt_first - rt_small <= 5  # a bulk_write per 1000 operations, nothing per document
    assert store.count("objects", ENV) == 4800
    assert store.scans(ENV)[0]["counts"]["objects"] == {
        "added": 100, "changed": 200, "removed": 300, "unchanged": 4500}


# The embedded store's file


def test_embedded_store_survives_restart(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "inventory.db"
    store = EmbeddedStore(path)
    scan(store, [obj(1), obj(2)], [link(1, 2)])
    scan(store, [obj(1, name="again"), obj(2)])
    again = EmbeddedStore(path)
    for kind in ("objects", "links"):
        assert again.find(kind, ENV) == store.find(kind, ENV)
    assert again.scans(ENV) == store.scans(ENV)
    scan(again, [obj(3)])
    assert names(store) == {"port-3": "tap3"}  # the first instance reloads the changed file
    header = bson.decode_all(path.read_bytes())[0]
    assert header["format"] == "calipso-inventory" and header["version"] == 1


def test_embedded_killed_scan_leaves_previous_inventory(tmp_path: Path) -> None:
    path = tmp_path / "inventory.db"
    store = EmbeddedStore(path)
    scan(store, [obj(1), obj(2)], [link(1, 2)])
    before = {kind: store.find(kind, ENV) for kind in ("objects", "links")}
    code = textwrap.dedent(f"""
        import os
        from calipso_core.store import EmbeddedStore
        store = EmbeddedStore({str(path)!r})
        scan = store.begin_scan({ENV!r})
        scan.write("objects", [{{"id": "port-1", "name": "dying"}}, {{"id": "port-9"}}])
        scan.write("links", [])
        os._exit(1)
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    fresh = EmbeddedStore(path)
    assert {kind: fresh.find(kind, ENV) for kind in ("objects", "links")} == before
    assert {kind: store.find(kind, ENV) for kind in ("objects", "links")} == before
    assert store.scans(ENV)[0]["state"] == "running"  # as the dead process left it
    # Its process is dead: no need to wait for the lease to expire.
    s = scan(fresh, [obj(1), obj(3)], [])
    assert s.generation == 3
    assert names(store) == {"port-1": "tap1", "port-3": "tap3"}
    assert store.count("links", ENV) == 0
    assert {r["generation"]: r["state"] for r in store.scans(ENV)} == {
        1: "committed", 2: "failed", 3: "committed"}
    records = bson.decode_all(path.read_bytes())[1:]
    assert sorted(r["d"]["valid_from"] for r in records if r["c"] == "objects") == [1, 3]


def test_embedded_ignores_stray_temporary_file(tmp_path: Path) -> None:
    """A writer killed while saving leaves a temporary file, never a half-written store."""
    path = tmp_path / "inventory.db"
    store = EmbeddedStore(path)
    scan(store, [obj(1)])
    stray = tmp_path / "inventory.db.tmp-99999"
    stray.write_bytes(b"half a file")
    assert names(EmbeddedStore(path)) == {"port-1": "tap1"}
    scan(store, [obj(2)])
    assert not stray.exists()


def test_embedded_rejects_foreign_file(tmp_path: Path) -> None:
    path = tmp_path / "inventory.db"
    path.write_bytes(bson.encode({"hello": "world"}))
    with pytest.raises(StoreError, match="not a Calipso inventory"):
        EmbeddedStore(path)
    path.write_bytes(b"\x00garbage")
    with pytest.raises(StoreError, match="damaged"):
        EmbeddedStore(path)


def test_embedded_saves_only_when_something_changed(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "inventory.db")
    scan(store, [obj(i) for i in range(20)], [])
    saves = store.saves
    store.find("objects", ENV)
    assert store.saves == saves
    scan(store, [obj(i) for i in range(20)], [])
    assert store.saves == saves + 2  # begin (lease, record) and commit: no write saved


# MongoDB specifics and opening


def test_mongo_indexes() -> None:
    database = mongomock.MongoClient()["calipso"]
    MongoStore(database).ensure_indexes()
    indexes = {name: spec for name, spec in database["objects"].index_information().items()}
    unique = indexes["environment_1_id_1_valid_from_1"]
    assert unique.get("unique") is True
    assert {"environment_1_valid_to_1", "environment_1_type_1", "environment_1_host_1"} <= set(
        indexes)
    assert "environment_1_source_id_1" in database["links"].index_information()
    assert "environment_1_focal_id_1" in database["cliques"].index_information()


def test_open_store_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(f"embedded://{tmp_path}/a.db")
    assert isinstance(store, EmbeddedStore) and store.path == tmp_path / "a.db"
    assert open_store(str(tmp_path / "b.db")).path == tmp_path / "b.db"
    monkeypatch.setenv("CALIPSO_STORE", str(tmp_path / "c.db"))
    assert open_store().path == tmp_path / "c.db"
    monkeypatch.delenv("CALIPSO_STORE")
    assert DEFAULT_STORE_PATH == "/var/lib/calipso/inventory.db"
    with pytest.raises(ValueError, match=r"unsupported store URL 'http://u:\*\*\*@h'"):
        open_store("http://u:pw@h")


def test_unreachable_mongodb_fails_fast_without_password() -> None:
    url = "mongodb://calipso:s3cr%40tPass@127.0.0.1:1/inventory?authSource=admin"
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as info:
        open_store(url, timeout=0.3)
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert "mongodb://calipso:***@127.0.0.1:1/inventory" in message
    assert "s3cr" not in message and "tPass" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_redact_url() -> None:
    assert redact_url("mongodb://u:p@h1,h2/db") == "mongodb://u:***@h1,h2/db"
    assert redact_url("mongodb://u@h/db") == "mongodb://u@h/db"
    assert redact_url("mongodb://h/db") == "mongodb://h/db"


def test_open_store_expands_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert open_store("embedded://~/inv.db").path == tmp_path / "inv.db"


def test_commit_outcome_is_reported_truthfully(backend: Backend,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The connection breaks right after the commit's atomic update: with MongoDB the scan did
    commit (and says so); the embedded store keeps nothing of a failed operation (and raises)."""
    store = backend.store
    scan(store, [obj(1)])
    record = Scan._record
    calls = []

    def flaky(self: Scan, state: str, finished: str, error: str | None = None) -> None:
        calls.append(state)
        if len(calls) == 1:
            raise AutoReconnect("connection reset")
        record(self, state, finished, error)

    monkeypatch.setattr(Scan, "_record", flaky)
    s = store.begin_scan(ENV)
    s.write("objects", [obj(2)])
    if isinstance(store, EmbeddedStore):
        with pytest.raises(AutoReconnect):
            s.commit()
        assert calls == ["committed", "failed"]
        assert names(store) == {"port-1": "tap1"}
    else:
        assert s.commit().generation == 2
        assert calls == ["committed", "committed"]
        assert names(store) == {"port-2": "tap2"}
    assert store.scans(ENV)[0]["state"] == calls[-1]
    scan(store, [obj(3)])  # the environment is free again either way
    assert names(store) == {"port-3": "tap3"}


def test_embedded_two_processes_write_concurrently(tmp_path: Path) -> None:
    """Two scanners of different environments on one file: the lock and the reload before each
    write make sure neither loses the other's scans."""
    path = tmp_path / "inventory.db"
    code = textwrap.dedent(f"""
        import sys
        from calipso_core.store import EmbeddedStore
        store = EmbeddedStore({str(path)!r})
        env = sys.argv[1]
        for round in range(10):
            with store.begin_scan(env) as scan:
                scan.write("objects", [{{"id": f"{{env}}-{{i}}", "round": round}}
                                       for i in range(round * 20)])
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code, env], cwd=REPO,
                              stderr=subprocess.PIPE, text=True) for env in ("east", "west")]
    for proc in procs:
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    store = EmbeddedStore(path)
    for env in ("east", "west"):
        assert store.count("objects", env, {"round": 9}) == 180
        assert [r["state"] for r in store.scans(env)] == ["committed"] * 10


def test_lease_liveness_by_pid_only_within_one_pid_space() -> None:
    """A dead owner is recognised at once on this machine; elsewhere only the expiry counts."""
    here = mongo._owner()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    future = time.time() + 60
    assert mongo.lease_alive({"expires": future, "owner": here})
    assert not mongo.lease_alive({"expires": time.time() - 1, "owner": here})
    gone = {**here, "pid": int(dead.stdout), "started": 1}
    assert not mongo.lease_alive({"expires": future, "owner": gone})
    assert mongo.lease_alive({"expires": future, "owner": {**gone, "pid_space": "elsewhere"}})


# Operational records


def test_records_outlive_scans_and_are_shared_between_openers(backend: Backend) -> None:
    store = backend.store
    scan(store, [obj(1)])
    with store.transaction(write=True):
        store.records("status").insert_one({"_id": "lab:port-1:c", "status": "critical"})
    # A scan replaces the inventory, never the results recorded against it.
    scan(store, [obj(2)])
    other = backend.reopen()
    with other.transaction(write=False):
        assert other.records("status").find({}) == [{"_id": "lab:port-1:c",
                                                      "status": "critical"}]


@pytest.mark.parametrize("name", ["objects", "scans", "environments", "passwords"])
def test_records_refuse_the_inventorys_own_collections(backend: Backend, name: str) -> None:
    with pytest.raises(ValueError, match="unknown record collection"):
        backend.store.records(name)


# The embedded store's indexed reads


def _varied_objects() -> list[dict]:
    """Objects whose indexed fields are missing, null, shared or unique, and one field (parent_id)
    holding a list somewhere, which the indexes must leave to mongomock."""
    objects = []
    for i in range(30):
        doc = obj(i, host=["compute1", "compute2", "compute3"][i % 3], type=["port", "vnic"][i % 2])
        if i % 5 == 0:
            del doc["host"]
        elif i % 7 == 0:
            doc["host"] = None
        if i % 4 == 0:
            doc["name"] = "shared"
        doc["parent_id"] = ["a", "b"] if i == 13 else f"parent-{i % 3}"
        objects.append(doc)
    return objects


QUERIES = [
    ({}, None),
    ({"host": "compute1"}, None),
    ({"host": None}, None),
    ({"host": {"$in": ["compute2", None]}}, [("name", 1)]),
    ({"host": "compute2", "type": "vnic"}, [("name", -1), ("id", 1)]),
    ({"type": {"$in": []}}, None),
    ({"name": "shared"}, [("id", -1)]),
    ({"id": {"$in": ["port-3", "port-1", "port-99", "port-1"]}}, [("id", 1)]),
    ({"id": "port-4", "type": "vnic"}, None),
    ({"parent_id": "parent-1"}, None),  # a field holding a list: mongomock answers
    ({"host": "compute1"}, [("host", 1)]),
    ({"type": "port"}, [("host", 1)]),  # missing and null hosts: mongomock sorts
    ({"attributes.mtu": 1450, "type": "port"}, None),
]


@pytest.mark.parametrize(("filter", "sort"), QUERIES)
def test_embedded_indexed_reads_answer_as_mongomock(tmp_path: Path, filter: dict,
                                                    sort: list | None) -> None:
    store = EmbeddedStore(tmp_path / "inventory.db")
    scan(store, _varied_objects())
    for skip, limit, projection in [(0, 0, None), (1, 3, ["id", "host", "generation"]),
                                    (0, 0, [])]:
        expected = MongoStore.find(store, "objects", ENV, filter, sort, skip, limit, projection)
        assert store.find("objects", ENV, filter, sort, skip, limit, projection) == expected
    assert store.count("objects", ENV, filter) == MongoStore.count(store, "objects", ENV, filter)


def test_embedded_equality_reads_use_the_indexes(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "inventory.db")
    scan(store, _varied_objects())
    before = store.stats.round_trips
    store.find("objects", ENV, {"host": "compute1", "id": {"$in": ["port-1", "port-4"]}},
               sort=[("name", 1)], projection=["id"])
    store.get("objects", ENV, "port-2")
    store.count("objects", ENV, {"type": "port"})
    store.environments()
    store.environments()
    # The committed generation and the environments' names, each read once: they are memoised
    # until the database changes.
    assert store.stats.round_trips - before == 2


def test_embedded_memoised_committed_state_follows_writers(tmp_path: Path) -> None:
    path = tmp_path / "inventory.db"
    store = EmbeddedStore(path)
    scan(store, [obj(1)])
    assert store.environments() == [ENV]
    assert store.get("objects", ENV, "port-1")["generation"] == 1
    scan(store, [obj(1, host="compute9")])  # this process commits: generation 2 is read
    assert store.get("objects", ENV, "port-1")["host"] == "compute9"
    code = textwrap.dedent(f"""
        from calipso_core.store import EmbeddedStore
        with EmbeddedStore({str(path)!r}).begin_scan("other") as scan:
            scan.write("objects", [{{"id": "port-7"}}])
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert store.environments() == [ENV, "other"]  # another process: reloaded, recounted
    assert store.get("objects", "other", "port-7")["generation"] == 1


def test_embedded_indexed_reads_follow_commits_and_other_writers(tmp_path: Path) -> None:
    path = tmp_path / "inventory.db"
    store = EmbeddedStore(path)
    scan(store, [obj(1), obj(2, host="compute2")], [link(1, 2)])
    assert [d["id"] for d in store.find("objects", ENV, {"host": "compute2"})] == ["port-2"]
    assert store.find("links", ENV, {"source_id": "port-1"})[0]["target_id"] == "port-2"
    running = store.begin_scan(ENV)
    running.write("objects", [obj(1, host="compute2"), obj(3, host="compute2")])
    running.write("links", [])
    # Written, not committed: the indexes hold the committed versions only.
    assert [d["id"] for d in store.find("objects", ENV, {"host": "compute2"})] == ["port-2"]
    assert store.get("objects", ENV, "port-3") is None
    running.commit()
    assert [d["id"] for d in store.find("objects", ENV, {"host": "compute2"})] == [
        "port-1", "port-3"]
    assert store.get("objects", ENV, "port-2") is None
    assert store.find("links", ENV, {"source_id": "port-1"}) == []
    # Another process writes the file: the next read reloads it and rebuilds the indexes.
    code = textwrap.dedent(f"""
        from calipso_core.store import EmbeddedStore
        with EmbeddedStore({str(path)!r}).begin_scan({ENV!r}) as scan:
            scan.write("objects", [{{"id": "port-4", "host": "compute2"}}])
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert [d["id"] for d in store.find("objects", ENV, {"host": "compute2"})] == ["port-4"]
    assert store.get("objects", ENV, "port-4")["generation"] == 3
    assert store.count("objects", "elsewhere", {"host": "compute2"}) == 0


def test_embedded_indexed_reads_return_copies(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "inventory.db")
    scan(store, [obj(1, ips=["10.0.0.1"], nested=[{"mtu": 1450}])])
    store.get("objects", ENV, "port-1")["attributes"]["mtu"] = 9000
    found = store.find("objects", ENV, {"id": "port-1"})[0]
    found["attributes"]["mtu"] = 9000
    found["ips"].append("10.0.0.2")  # a flat list of strings: copied flat
    found["nested"][0]["mtu"] = 9000
    stored = store.get("objects", ENV, "port-1")
    assert stored["attributes"]["mtu"] == 1450
    assert stored["ips"] == ["10.0.0.1"]
    assert stored["nested"] == [{"mtu": 1450}]
