"""Scheduled scans: records of `store.records("schedules")` that the API creates, lists, enables,
disables and deletes, and that schedulers claim occurrence by occurrence.

A schedule: id, environment, its RFC 5545 rule (`rrule`, see `recurrence`), scope (hosts, or a
focal object whose clique hosts are resolved at each run, as the clique may change), enabled,
next_run, last_run (when the scheduler last acted on an occurrence), last_request_id (the scan
it started), last_error (why it could not), created_by and created (which is also the series'
start when the rule gives no DTSTART).

Claiming an occurrence moves next_run past now by compare-and-set on the value read: of two
schedulers polling the same store, one wins, the other finds nothing to update. Occurrences
missed while no scheduler ran are not made up: the next run is the first occurrence after now.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Final

from pymongo import DeleteOne

from calipso_core.scans.clock import Clock, from_iso, iso, utc_now
from calipso_core.scans.records import HIDDEN, RecordReader
from calipso_core.scans.recurrence import Recurrence, validate
from calipso_core.scans.requests import ScanService, check_user
from calipso_core.store import Doc, Store

SCHEDULES: Final = "schedules"


def recurrence(schedule: Doc) -> Recurrence:
    return Recurrence(schedule["rrule"], from_iso(schedule["created"]))


class Schedules(RecordReader):
    """The schedules of the environments `scans` serves; `get`, `list` (oldest first) and
    `count` read them."""

    def __init__(self, store: Store, scans: ScanService, clock: Clock = utc_now) -> None:
        super().__init__(store, SCHEDULES, {}, [("created", 1), ("id", 1)])
        self._scans = scans
        self._clock = clock

    def create(self, environment: str, rrule: str, created_by: str,
               hosts: Iterable[str] | None = None, focal_object: str | None = None,
               enabled: bool = True) -> Doc:
        """Validate and record a schedule; raises the InvalidRequest family (InvalidSchedule
        for its rule)."""
        check_user(created_by, "created_by")
        scope = self._scans.check_scope(environment, hosts, focal_object)
        # Whole seconds: the series starts now (dateutil drops the microseconds), so a rule
        # without DTSTART first runs at the next poll.
        now = self._clock().replace(microsecond=0)
        first = validate(rrule, now, now)
        schedule_id = uuid.uuid4().hex
        schedule = {"id": schedule_id, "environment": environment, "rrule": rrule,
                    "scope": {"hosts": None if scope.focal_object else scope.hosts,
                              "focal_object": scope.focal_object},
                    "enabled": enabled, "next_run": iso(first), "last_run": None,
                    "last_request_id": None, "last_error": None, "created_by": created_by,
                    "created": iso(now)}
        with self._store.transaction(write=True):
            self._store.records(SCHEDULES).insert_one({"_id": schedule_id, **schedule})
        return schedule

    def set_enabled(self, schedule_id: str, enabled: bool) -> Doc | None:
        """Enable or disable a schedule; None when there is none. Enabled again, it runs at
        its next occurrence from now, without making up the ones it missed."""
        schedule = self.get(schedule_id)
        if schedule is None:
            return None
        changes: Doc = {"enabled": enabled}
        if enabled:
            following = recurrence(schedule).next_run(self._clock(), inclusive=True)
            changes["next_run"] = iso(following) if following else None
        with self._store.transaction(write=True):
            self._store.records(SCHEDULES).update_one({"_id": schedule_id}, {"$set": changes})
        return {**schedule, **changes}

    def delete(self, schedule_id: str) -> bool:
        """False when there was no such schedule."""
        with self._store.transaction(write=True):
            records = self._store.records(SCHEDULES)
            if records.find_one({"_id": schedule_id}, {"_id": 1}) is None:
                return False
            records.bulk([DeleteOne({"_id": schedule_id})])
            return True

    # What schedulers do

    def due(self, now: datetime) -> list[Doc]:
        """Enabled schedules whose next run is now or past, the most overdue first."""
        with self._store.transaction(write=False):
            return self._store.records(SCHEDULES).find(
                {"enabled": True, "next_run": {"$lte": iso(now)}}, HIDDEN,
                sort=[("next_run", 1), ("id", 1)])

    def claim(self, schedule: Doc, now: datetime) -> Doc | None:
        """Take a due schedule's occurrence for this scheduler: its next run moves to the first
        occurrence after now. None when another scheduler took it first (or it changed)."""
        following = recurrence(schedule).next_run(now)
        with self._store.transaction(write=True):
            return self._store.records(SCHEDULES).find_one_and_update(
                {"_id": schedule["id"], "enabled": True, "next_run": schedule["next_run"]},
                {"$set": {"next_run": iso(following) if following else None}})

    def unclaim(self, claimed: Doc, next_run: str) -> None:
        """Give an occurrence back, due again (unless the schedule changed since the claim)."""
        with self._store.transaction(write=True):
            self._store.records(SCHEDULES).update_one(
                {"_id": claimed["id"], "next_run": claimed["next_run"]},
                {"$set": {"next_run": next_run}})

    def record(self, schedule_id: str, now: datetime, request_id: str | None = None,
               error: str | None = None) -> None:
        """What became of the occurrence claimed at `now`: the scan started, or why not."""
        with self._store.transaction(write=True):
            self._store.records(SCHEDULES).update_one(
                {"_id": schedule_id},
                {"$set": {"last_run": iso(now), "last_request_id": request_id,
                          "last_error": error}})
