"""Scans on demand: a discovery of an environment, or of some of its hosts, asked for by a user
(through the API) or by a schedule, recorded from request to outcome and run in the background.

A request is a record of `store.records("scan_requests")`: who asked, the scope (hosts, or the
hosts of a focal object's cliques), its state (queued, running, then succeeded or failed), its
times, each host's result (ok, failed or unreachable, with Ansible's message), the scan
generation it committed with the report's counts, and the error. Never the extra variables the
playbook gets: they may hold secrets.

One scan at a time per environment, across processes: the API's workers and the scheduler each
hold a ScanService on the same store. A request first claims its environment's slot (a record
of the same collection, taken by compare-and-set), then is recorded. A second request while the
slot is held is refused (EnvironmentBusy) rather than queued: the running scan reads the hosts
as they are now, and a queue would live in the memory of one process and die with it. The worker
keeps the slot's lease alive; a process that dies leaves a lease that its pid (on this machine)
or its expiry shows dead, and the next ScanService to start, or the next request for that
environment, marks its request failed ("interrupted") and frees the slot.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from pymongo.errors import DuplicateKeyError, PyMongoError

from calipso_core.ansible_run import HostOutcome, PlaybookRun
from calipso_core.discovery.runner import DiscoveryFailed, run_discovery, scan_report
from calipso_core.environment_settings import scans_paused
from calipso_core.inventory_view import resolve_focal
from calipso_core.scans.clock import Clock, iso, utc_now
from calipso_core.scans.errors import (
    EnvironmentBusy,
    EnvironmentUnavailable,
    InvalidRequest,
    ScansPaused,
    UnknownEnvironment,
    UnknownFocalObject,
    UnknownHosts,
)
from calipso_core.scans.records import RecordReader
from calipso_core.store import Doc, EmbeddedStore, Store, StoreError

# The store's own scan leases judge liveness the same way (expiry, or a dead pid on this
# machine); one rule for both kinds of lease.
from calipso_core.store.mongo import lease_alive, new_lease

log = logging.getLogger(__name__)

REQUESTS: Final = "scan_requests"
ACTIVE: Final = ("queued", "running")
DEFAULT_LEASE_SECONDS: Final = 60.0
"""How long a request's slot outlives its last heartbeat (a beat every third of it)."""
MESSAGE_LIMIT: Final = 2000
"""Characters kept of a host's message: a module's failure can carry a whole traceback."""
DELEGATED: Final = "_ansible_delegated_vars"
"""The key Ansible adds to the result of a task delegated to another host."""


@dataclass(frozen=True)
class EnvironmentTarget:
    """How to reach an environment: its Ansible inventory (file or folder), and extra variables
    for the discovery playbook (such as calipso_cloud), which go to Ansible and nowhere else."""

    inventory: Path
    extravars: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scope:
    """What a request scans: these hosts (None: every host of the inventory), chosen directly or
    as the hosts of focal_object's cliques."""

    hosts: list[str] | None = None
    focal_object: str | None = None


class Discovery(Protocol):
    """Runs the discovery playbook; injectable so that tests need no hosts."""

    def __call__(self, inventory: Path, environment: str, store: str | None, limit: str | None,
                 extravars: Mapping[str, Any]) -> PlaybookRun: ...


def inventory_hosts(inventory: Path) -> list[str]:
    """The hosts an Ansible inventory defines, read with Ansible's own parser (in this process:
    it takes milliseconds, where `ansible-inventory` takes a second)."""
    hosts = [host.name for host in
             InventoryManager(loader=DataLoader(), sources=[str(inventory)]).get_hosts()]
    if not hosts:
        raise EnvironmentUnavailable(f"the Ansible inventory {inventory} defines no host (or"
                                     " cannot be read)")
    return hosts


def host_results(outcomes: Mapping[str, HostOutcome]) -> tuple[list[Doc], list[str]]:
    """Each host's result (by host name), and the failure of the inventory scan if it failed.

    The scan runs once on the controller, yet Ansible reports it under the first host of the
    play: that failure is the scan's, and the host had done its part, or it would not have been
    in the play any more."""
    results: list[Doc] = []
    scan_errors: list[str] = []
    for host, outcome in sorted(outcomes.items()):
        status = outcome.status
        if DELEGATED in outcome.result:
            if status != "ok":
                scan_errors.append(f"inventory scan: {_clip(outcome.message)}")
            status = "ok"
        message = "" if status == "ok" else _clip(outcome.message or status)
        results.append({"host": host, "status": status, "message": message})
    return results, scan_errors


def _clip(text: str) -> str:
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT] + " [...]"


def check_user(user: str, name: str) -> None:
    if not isinstance(user, str) or not user:
        raise InvalidRequest(f"{name} must name who asks")


def _slot_id(environment: str) -> str:
    return f"slot:{environment}"


def _held_by(environment: str, lease: Doc) -> Doc:
    """The environment's slot while `lease` holds it."""
    return {"_id": _slot_id(environment), "lease.token": lease["token"]}


class ScanService(RecordReader):
    """Starts and records the scans of the configured environments; `get`, `list` (newest
    first) and `count` read their requests.

    `store_url` is the store as the playbook opens it (`CALIPSO_STORE`); an embedded store
    names its file itself, a MongoDB store needs it given."""

    def __init__(self, store: Store, environments: Mapping[str, EnvironmentTarget], *,
                 store_url: str | None = None, discovery: Discovery = run_discovery,
                 clock: Clock = utc_now,
                 lease_seconds: float = DEFAULT_LEASE_SECONDS) -> None:
        if store_url is None:
            if not isinstance(store, EmbeddedStore):
                raise ValueError("store_url is needed: the discovery playbook opens the"
                                 " MongoDB store itself")
            store_url = str(store.path)
        super().__init__(store, REQUESTS, {"kind": "request"}, [("created", -1), ("id", -1)])
        self._environments = dict(environments)
        self._store_url = store_url
        self._discovery = discovery
        self._clock = clock
        self._lease_seconds = lease_seconds
        self._workers: dict[str, threading.Thread] = {}
        self.recover()

    # Asking

    def check_scope(self, environment: str, hosts: Iterable[str] | None = None,
                    focal_object: str | None = None) -> Scope:
        """The request's scope, validated and resolved (a focal object by id or name, to the
        hosts of its cliques; a project's, to the hosts of its objects' cliques and their own
        hosts; else its own host)."""
        target = self._target(environment)
        if hosts is not None and focal_object is not None:
            raise InvalidRequest("give hosts or a focal object, not both")
        if focal_object is not None:
            return self._focal_scope(environment, target, focal_object)
        if hosts is None:
            return Scope()
        wanted = [] if isinstance(hosts, str) else sorted(set(hosts))
        if not wanted or not all(isinstance(host, str) and host for host in wanted):
            raise InvalidRequest("hosts must be a non-empty list of host names (leave it out"
                                 " to scan every host)")
        unknown = sorted(set(wanted) - set(inventory_hosts(target.inventory)))
        if unknown:
            raise UnknownHosts(f"not in the Ansible inventory of {environment!r}:"
                               f" {', '.join(unknown)}")
        return Scope(hosts=wanted)

    def configured(self, environment: str) -> bool:
        """Whether the service may scan the environment (its configuration names it)."""
        return environment in self._environments

    def _target(self, environment: str) -> EnvironmentTarget:
        target = self._environments.get(environment)
        if target is None:
            raise UnknownEnvironment(f"no environment {environment!r} is configured for scans")
        return target

    def _focal_scope(self, environment: str, target: EnvironmentTarget, key: str) -> Scope:
        focal = resolve_focal(self._store, environment, key)
        if focal is None:
            raise UnknownFocalObject(f"no object {key!r} in environment {environment!r}")
        hosts = self._clique_hosts(environment, [focal["id"]])
        if not hosts and focal.get("type") == "project":
            # A tenant: what its objects (VMs, ports, networks, services) pass through.
            members = self._store.find("objects", environment, {"project": focal["id"]},
                                       projection=["id", "host"])
            hosts = self._clique_hosts(environment, [member["id"] for member in members]) | {
                member["host"] for member in members if member.get("host")}
        if not hosts and focal.get("host"):
            hosts = {focal["host"]}
        # A host the store still remembers but the inventory dropped cannot be reached anyway.
        scoped = sorted(hosts & set(inventory_hosts(target.inventory)))
        if not scoped:
            raise InvalidRequest(f"object {focal['id']!r} is on no host of the Ansible"
                                 f" inventory of {environment!r}")
        return Scope(hosts=scoped, focal_object=focal["id"])

    def _clique_hosts(self, environment: str, focal_ids: list[str]) -> set[str]:
        cliques = self._store.find("cliques", environment, {"focal_id": {"$in": focal_ids}},
                                   projection=["hosts"])
        return {host for clique in cliques for host in clique["hosts"]}

    def start(self, environment: str, requested_by: str, hosts: Iterable[str] | None = None,
              focal_object: str | None = None) -> Doc:
        """Record a request and start its scan in the background; returns the record (queued).

        Raises the InvalidRequest family for a bad request, EnvironmentBusy while another scan
        of the environment is queued or running, ScansPaused while an admin paused them."""
        check_user(requested_by, "requested_by")
        scope = self.check_scope(environment, hosts, focal_object)
        request_id = uuid.uuid4().hex
        request = {"id": request_id, "environment": environment,
                   "requested_by": requested_by, "scope": asdict(scope), "state": "queued",
                   "created": iso(self._clock()), "started": None, "finished": None,
                   "results": [], "generation": None, "counts": None,
                   "documents_written": None, "cloud_error": None, "error": None}
        with self._store.transaction(write=True):
            if scans_paused(self._store, environment):
                raise ScansPaused(f"an admin paused the scans of environment {environment!r}")
            lease = self._claim(environment, request_id)
            self._store.records(REQUESTS).insert_one(
                {"_id": request_id, "kind": "request", **request})
        worker = threading.Thread(target=self._work, args=(request, scope, lease),
                                  name=f"scan-{environment}-{request_id[:8]}")
        self._workers[request_id] = worker
        worker.start()
        return request

    def wait(self, request_id: str, timeout: float | None = None) -> Doc | None:
        """The request once its worker in this process has ended (or timeout has passed); at
        once for a request that runs elsewhere or has ended."""
        worker = self._workers.get(request_id)
        if worker is not None:
            worker.join(timeout)
        return self.get(request_id)

    # The slot: one scan at a time per environment

    def _claim(self, environment: str, request_id: str) -> Doc:
        """Take the environment's slot for a request (inside a write transaction), or raise
        EnvironmentBusy; a slot whose holder died is freed first."""
        records = self._store.records(REQUESTS)
        lease = new_lease(self._lease_seconds)
        claim = {"$set": {"request_id": request_id, "lease": lease}}
        for _ in range(3):
            if records.find_one_and_update({"_id": _slot_id(environment), "request_id": None},
                                           claim) is not None:
                return lease
            slot = records.find_one({"_id": _slot_id(environment)})
            if slot is None:
                with suppress(DuplicateKeyError):  # another process created it first
                    records.insert_one({"_id": _slot_id(environment), "kind": "slot",
                                        "environment": environment, "request_id": None,
                                        "lease": None})
            elif slot["request_id"] is not None:
                if lease_alive(slot["lease"]):
                    raise EnvironmentBusy(f"environment {environment!r} is being scanned by"
                                          f" request {slot['request_id']}")
                self._free(slot)
        raise EnvironmentBusy(f"environment {environment!r}: another scan is starting")

    def _free(self, slot: Doc) -> None:
        """Free a slot whose holder died: its request is failed as interrupted, then the slot
        is released by compare-and-set on the dead lease, never robbing a new holder."""
        owner = slot["lease"]["owner"]
        records = self._store.records(REQUESTS)
        records.update_one(
            {"_id": slot["request_id"], "state": {"$in": list(ACTIVE)}},
            {"$set": {"state": "failed", "finished": iso(self._clock()),
                      "error": f"interrupted: the process that ran it (pid {owner['pid']} on"
                               f" {owner['host']}) stopped before it finished"}})
        self._release(slot["environment"], slot["lease"])

    def _release(self, environment: str, lease: Doc) -> None:
        """Release the environment's slot if `lease` still holds it (compare-and-set on the
        lease's token: never robs a later holder); inside a write transaction."""
        self._store.records(REQUESTS).update_one(_held_by(environment, lease),
                                                 {"$set": {"request_id": None, "lease": None}})

    def recover(self) -> list[str]:
        """Fail the requests whose process died while they were queued or running (done when
        the service starts); returns their ids."""
        with self._store.transaction(write=True):
            held = self._store.records(REQUESTS).find(
                {"kind": "slot", "request_id": {"$ne": None}})
            dead = [slot for slot in held if not lease_alive(slot["lease"])]
            for slot in dead:
                self._free(slot)
        return [slot["request_id"] for slot in dead]

    def _keep_lease(self, environment: str, lease: Doc, done: threading.Event) -> None:
        while not done.wait(self._lease_seconds / 3):
            try:
                with self._store.transaction(write=True):
                    self._store.records(REQUESTS).update_one(
                        _held_by(environment, lease),
                        {"$set": {"lease.expires": time.time() + self._lease_seconds}})
            except (StoreError, PyMongoError) as exc:
                # The lease outlasts two missed beats: the next one may get through.
                log.warning("scan slot of %r: heartbeat failed: %s", environment, exc)

    # Running

    def _work(self, request: Doc, scope: Scope, lease: Doc) -> None:
        environment, request_id = request["environment"], request["id"]
        done = threading.Event()
        threading.Thread(target=self._keep_lease, args=(environment, lease, done),
                         name=f"lease-{request_id[:8]}", daemon=True).start()
        try:
            if self._advance(request_id, "queued",
                             {"state": "running", "started": iso(self._clock())}):
                outcome = self._scan(environment, scope)
                self._advance(request_id, "running",
                              {**outcome, "finished": iso(self._clock())})
            with self._store.transaction(write=True):
                self._release(environment, lease)
        except Exception:
            # The store failed us: the slot stays held until its lease expires, then the
            # request is failed as interrupted, rather than left running with the slot free.
            log.exception("scan request %s: could not record its outcome", request_id)
        finally:
            done.set()
            self._workers.pop(request_id, None)

    def _advance(self, request_id: str, state: str, fields: Doc) -> bool:
        """Update a request that is still in `state` (it may have been failed as
        interrupted meanwhile, and then stays so)."""
        with self._store.transaction(write=True):
            return self._store.records(REQUESTS).update_one(
                {"_id": request_id, "state": state}, {"$set": fields})

    def _scan(self, environment: str, scope: Scope) -> Doc:
        """Run the discovery; the request's outcome fields, whatever happens."""
        target = self._environments[environment]
        limit = ",".join(scope.hosts) if scope.hosts else None
        try:
            run = self._discovery(target.inventory, environment, self._store_url, limit,
                                  dict(target.extravars))
        except Exception as exc:  # ansible-runner could not run the playbook at all
            return {"state": "failed", "error": _clip(f"{type(exc).__name__}: {exc}")}
        results, scan_errors = host_results(run.outcomes)
        problems = [f"{r['host']} {r['status']}: {r['message']}" for r in results
                    if r["status"] != "ok"] + scan_errors
        if run.status != "successful":
            return {"state": "failed", "results": results,
                    "error": f"discovery {run.status}: {'; '.join(problems) or 'no host ran'}"}
        try:
            report = scan_report(run.outcomes)
        except DiscoveryFailed as exc:
            return {"state": "failed", "results": results, "error": str(exc)}
        return {"state": "succeeded", "results": results, "generation": report["generation"],
                "counts": report["counts"], "documents_written": report["documents_written"],
                "cloud_error": report["cloud_error"]}
