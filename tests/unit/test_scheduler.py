"""Scheduled scans: RRULEs checked before they are stored (unreadable, never occurring, too
frequent, costly), next runs computed from them, and schedulers that start each due occurrence
once: missed windows run once, two schedulers on one store never start the same occurrence, a
busy environment defers the occurrence, a refused one is skipped with its reason."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from calipso_core.environment_settings import update_settings
from calipso_core.scans import (
    ConfigError,
    EnvironmentTarget,
    InvalidSchedule,
    ScanService,
    Scheduler,
    load_config,
)
from calipso_core.scans.clock import iso
from calipso_core.scans.recurrence import Recurrence, validate
from calipso_core.store import EmbeddedStore, StoreUnavailable
from tests.unit.test_scan_requests import T0, FakeClock, FakeDiscovery, write_inventory

ENVIRONMENTS = ("lab", "east", "west", "north", "south")


@pytest.fixture
def discovery():
    fake = FakeDiscovery()
    yield fake
    fake.release.set()


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def scheduler_for(tmp_path, discovery, clock):
    """A scheduler with its own ScanService and store object on one store file: each call is
    another scheduler process."""
    environments = {name: EnvironmentTarget(write_inventory(tmp_path / f"{name}.yml"))
                    for name in ENVIRONMENTS}

    def make() -> Scheduler:
        store = EmbeddedStore(tmp_path / "inventory.db")
        scans = ScanService(store, environments, discovery=discovery, clock=clock)
        return Scheduler(store, scans, clock)
    return make


@pytest.fixture
def scheduler(scheduler_for) -> Scheduler:
    return scheduler_for()


def wait_all(scheduler: Scheduler, requests: list[dict]) -> list[dict]:
    return [scheduler.scans.wait(r["id"], timeout=10) for r in requests]


# -- the rules ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "first"), [
    ("FREQ=HOURLY;INTERVAL=6", T0),  # no DTSTART: the series starts now
    ("RRULE:FREQ=MINUTELY;INTERVAL=5", T0),
    ("FREQ=SECONDLY;INTERVAL=300", T0),
    ("DTSTART:20261101T013000Z\nRRULE:FREQ=HOURLY;INTERVAL=6", datetime(2026, 11, 21, 13, 30,
                                                                       tzinfo=UTC)),
    ("FREQ=DAILY;BYHOUR=2;BYMINUTE=0;BYSECOND=0", datetime(2026, 11, 22, 2, tzinfo=UTC)),
    ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYHOUR=0;BYMINUTE=0;BYSECOND=0",
     datetime(2028, 2, 29, tzinfo=UTC)),
    ("DTSTART:20270101T000000Z\nRRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20270201T000000Z",
     datetime(2027, 1, 4, tzinfo=UTC)),
])
def test_valid_rules_give_their_first_run(text, first):
    assert validate(text, T0, T0) == first


@pytest.mark.parametrize(("text", "message"), [
    ("FREQ=FORTNIGHTLY", "unreadable rule"),
    ("garbage", "malformed rule part"),
    ("INTERVAL=6", "no FREQ"),
    ("", "one RRULE"),
    ("FREQ=DAILY\nRDATE:20270101T000000Z", "one RRULE"),
    ("FREQ=DAILY;INTERVAL=0", "positive integer"),  # dateutil would loop forever
    ("FREQ=DAILY;COUNT=2;UNTIL=20270101T000000Z", "COUNT and UNTIL"),
    ("FREQ=DAILY;UNTIL=20270101", "UNTIL must be in UTC"),
    ("DTSTART:20261201T020000\nRRULE:FREQ=DAILY", "DTSTART must be in UTC"),  # floating time
    ("DTSTART;TZID=Mars/Olympus:20261201T020000\nRRULE:FREQ=DAILY", "unknown time zone"),
    ("DTSTART;TZID=../../etc/passwd:20261201T020000\nRRULE:FREQ=DAILY", "DTSTART must be"),
    ("DTSTART:20250101T000000Z\nRRULE:FREQ=DAILY", "more than a year in the past"),
    ("FREQ=DAILY;UNTIL=20260101T000000Z", "no occurrence from now on"),
    ("DTSTART:20261101T000000Z\nRRULE:FREQ=DAILY;COUNT=3", "no occurrence from now on"),
    ("FREQ=MONTHLY;BYDAY=+6MO", "no occurrence from now on"),
    ("FREQ=MINUTELY;INTERVAL=4", "more often than every 0:05:00"),
    ("FREQ=SECONDLY", "more often than every 0:05:00"),
    ("FREQ=HOURLY;BYMINUTE=0,2", "more often than every 0:05:00"),  # hourly, yet 2 min apart
    ("FREQ=DAILY;" + "BYHOUR=1;" * 200, "at most 1000 characters"),
])
def test_bad_rules_are_refused(text, message):
    with pytest.raises(InvalidSchedule, match=message) as refused:
        validate(text, T0, T0)
    assert isinstance(refused.value, ValueError) and refused.value.code == "invalid_schedule"


@pytest.mark.parametrize("text", [
    "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30",  # February 30th, searched hour by hour
    "FREQ=MINUTELY;INTERVAL=5;BYMONTH=4;BYMONTHDAY=31",
])
def test_a_rule_that_never_matches_is_refused_quickly(text):
    # dateutil alone searches up to the year 9999: several seconds for each of these
    started = time.monotonic()
    with pytest.raises(InvalidSchedule, match="no occurrence"):
        validate(text, T0, T0)
    assert time.monotonic() - started < 2


def test_a_zoned_start_keeps_its_local_time_across_daylight_saving():
    recurrence = Recurrence("DTSTART;TZID=Europe/Paris:20261101T020000\nRRULE:FREQ=MONTHLY", T0)
    runs = recurrence.upcoming(T0, 8)
    assert {(run.hour, run.minute) for run in runs} == {(2, 0)}
    assert {run.utcoffset() for run in runs} == {timedelta(hours=1), timedelta(hours=2)}


def test_the_series_ends_with_its_count():
    recurrence = Recurrence("DTSTART:20261121T110000Z\nRRULE:FREQ=HOURLY;COUNT=3", T0)
    assert recurrence.upcoming(T0, 10) == [T0 + timedelta(hours=1)]
    assert recurrence.next_run(T0 + timedelta(hours=1)) is None


# -- schedules and the scheduler ----------------------------------------------------------------

def test_a_new_schedule_records_its_first_run(scheduler):
    schedule = scheduler.schedules.create("lab", "FREQ=HOURLY;INTERVAL=6", "alice",
                                          hosts=["compute2", "compute1"])
    assert schedule["next_run"] == iso(T0) and schedule["enabled"]
    assert schedule["scope"] == {"hosts": ["compute1", "compute2"], "focal_object": None}
    assert (schedule["last_run"], schedule["last_request_id"], schedule["created_by"]) == \
        (None, None, "alice")
    assert scheduler.schedules.get(schedule["id"]) == schedule


def test_creating_a_schedule_validates_its_scope_and_rule(scheduler):
    with pytest.raises(InvalidSchedule):
        scheduler.schedules.create("lab", "FREQ=MINUTELY", "alice")
    with pytest.raises(ValueError, match="compute7"):
        scheduler.schedules.create("lab", "FREQ=DAILY", "alice", hosts=["compute7"])
    with pytest.raises(ValueError, match="no environment"):
        scheduler.schedules.create("nowhere", "FREQ=DAILY", "alice")
    with pytest.raises(ValueError, match="created_by"):
        scheduler.schedules.create("lab", "FREQ=DAILY", "")
    assert scheduler.schedules.count() == 0


def test_a_due_schedule_starts_one_scan_and_moves_to_its_next_run(scheduler, discovery,
                                                                   clock):
    schedule = scheduler.schedules.create("lab", "FREQ=HOURLY;INTERVAL=6", "alice",
                                          hosts=["compute1"])
    [request] = scheduler.run_due()
    assert request["requested_by"] == f"schedule:{schedule['id']}"
    assert request["scope"]["hosts"] == ["compute1"]
    after = scheduler.schedules.get(schedule["id"])
    assert after["next_run"] == iso(T0 + timedelta(hours=6))
    assert (after["last_run"], after["last_request_id"], after["last_error"]) == \
        (iso(T0), request["id"], None)
    assert [r["state"] for r in wait_all(scheduler, [request])] == ["succeeded"]
    # nothing more until the next occurrence
    clock.now = T0 + timedelta(hours=5, minutes=59)
    assert scheduler.run_due() == []
    clock.now = T0 + timedelta(hours=6)
    assert len(wait_all(scheduler, scheduler.run_due())) == 1
    assert len(discovery.calls) == 2


def test_missed_windows_run_once_not_in_a_burst(scheduler, discovery, clock):
    schedule = scheduler.schedules.create("lab", "FREQ=HOURLY;INTERVAL=6", "alice")
    clock.now = T0 + timedelta(hours=20)  # the scheduler was down for three occurrences
    assert len(wait_all(scheduler, scheduler.run_due())) == 1
    assert scheduler.schedules.get(schedule["id"])["next_run"] == iso(T0 + timedelta(hours=24))
    assert scheduler.run_due() == []
    assert len(discovery.calls) == 1


def test_two_schedulers_never_start_the_same_occurrence(scheduler_for, discovery):
    first, second = scheduler_for(), scheduler_for()
    schedule = first.schedules.create("lab", "FREQ=DAILY", "alice")
    # both see it due before either claims it: the compare-and-set picks one
    [seen_by_first], [seen_by_second] = first.schedules.due(T0), second.schedules.due(T0)
    claims = [first.schedules.claim(seen_by_first, T0),
              second.schedules.claim(seen_by_second, T0)]
    assert [claim is not None for claim in claims] == [True, False]
    assert second.schedules.get(schedule["id"])["next_run"] == iso(T0 + timedelta(days=1))


def test_schedulers_polling_together_start_each_occurrence_once(scheduler_for, discovery):
    schedulers = [scheduler_for() for _ in range(3)]
    ids = [schedulers[0].schedules.create(name, "FREQ=DAILY", "alice")["id"]
           for name in ENVIRONMENTS]
    started: list[dict] = []
    barrier = threading.Barrier(len(schedulers))

    def poll(scheduler: Scheduler) -> None:
        barrier.wait()
        started.extend(wait_all(scheduler, scheduler.run_due()))

    threads = [threading.Thread(target=poll, args=(s,)) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(r["requested_by"] for r in started) == sorted(f"schedule:{i}" for i in ids)
    assert len(discovery.calls) == len(ENVIRONMENTS)
    assert all(r["state"] == "succeeded" for r in started)


def test_a_busy_environment_defers_the_occurrence_to_a_later_poll(scheduler, discovery, clock):
    discovery.hold = True
    manual = scheduler.scans.start("lab", "bob")  # a scan asked for through the API
    schedule = scheduler.schedules.create("lab", "FREQ=DAILY", "alice")
    assert scheduler.run_due() == []
    waiting = scheduler.schedules.get(schedule["id"])
    assert (waiting["next_run"], waiting["last_run"], waiting["last_error"]) == \
        (iso(T0), None, None)
    discovery.release.set()
    wait_all(scheduler, [manual])
    clock.now = T0 + timedelta(minutes=1)
    [request] = scheduler.run_due()
    assert request["requested_by"] == f"schedule:{schedule['id']}"
    assert scheduler.schedules.get(schedule["id"])["next_run"] == iso(T0 + timedelta(days=1))


def test_a_refused_occurrence_is_skipped_with_its_reason(scheduler, tmp_path):
    with EmbeddedStore(tmp_path / "inventory.db").begin_scan("lab") as scan:
        scan.write("objects", [{"id": "vm-1", "type": "instance", "name": "web-1",
                                "host": "compute1"}])
    schedule = scheduler.schedules.create("lab", "FREQ=DAILY", "alice", focal_object="web-1")
    assert schedule["scope"] == {"hosts": None, "focal_object": "vm-1"}
    with EmbeddedStore(tmp_path / "inventory.db").begin_scan("lab") as scan:
        scan.write("objects", [])  # the VM was deleted
    assert scheduler.run_due() == []
    skipped = scheduler.schedules.get(schedule["id"])
    assert "no object 'vm-1'" in skipped["last_error"]
    assert (skipped["last_run"], skipped["last_request_id"]) == (iso(T0), None)
    assert skipped["next_run"] == iso(T0 + timedelta(days=1))


def test_paused_scans_skip_the_occurrence_with_the_reason(scheduler, tmp_path, clock):
    store = EmbeddedStore(tmp_path / "inventory.db")
    schedule = scheduler.schedules.create("lab", "FREQ=DAILY", "alice")
    update_settings(store, "lab", {"scans_paused": True}, "admin")
    assert scheduler.run_due() == []
    skipped = scheduler.schedules.get(schedule["id"])
    assert "paused" in skipped["last_error"] and skipped["last_request_id"] is None
    update_settings(store, "lab", {"scans_paused": False}, "admin")
    clock.now = T0 + timedelta(days=1)
    assert len(scheduler.run_due()) == 1


def test_a_finished_series_is_never_due_again(scheduler, clock):
    schedule = scheduler.schedules.create("lab", "FREQ=DAILY;COUNT=1", "alice")
    assert len(scheduler.run_due()) == 1
    assert scheduler.schedules.get(schedule["id"])["next_run"] is None
    clock.now = T0 + timedelta(days=30)
    assert scheduler.run_due() == []


def test_a_disabled_schedule_does_not_run_and_skips_what_it_missed(scheduler, clock):
    schedule = scheduler.schedules.create("lab", "FREQ=HOURLY", "alice", enabled=False)
    assert scheduler.run_due() == []
    clock.now = T0 + timedelta(hours=5, minutes=30)
    enabled = scheduler.schedules.set_enabled(schedule["id"], True)
    assert enabled["next_run"] == iso(T0 + timedelta(hours=6))
    assert scheduler.run_due() == []
    assert scheduler.schedules.set_enabled("nope", True) is None


def test_schedules_are_listed_counted_and_deleted(scheduler, clock):
    ids = []
    for minute, environment in enumerate(["lab", "east", "lab"]):
        clock.now = T0 + timedelta(minutes=minute)
        ids.append(scheduler.schedules.create(environment, "FREQ=DAILY", "alice")["id"])
    assert [s["id"] for s in scheduler.schedules.list(limit=2)] == ids[:2]
    assert [s["id"] for s in scheduler.schedules.list("lab", offset=1)] == [ids[2]]
    assert (scheduler.schedules.count(), scheduler.schedules.count("lab")) == (3, 2)
    assert scheduler.schedules.delete(ids[0]) and not scheduler.schedules.delete(ids[0])
    assert scheduler.schedules.get(ids[0]) is None and scheduler.schedules.count() == 2


def test_run_forever_polls_until_stopped_through_store_failures(scheduler):
    stop = threading.Event()
    polls = []

    def run_due():
        polls.append(time.monotonic())
        if len(polls) == 1:
            raise StoreUnavailable("the database is down")
        if len(polls) == 3:
            stop.set()
        return []

    scheduler.run_due = run_due
    scheduler.run_forever(poll_seconds=0.01, stop=stop)
    assert len(polls) == 3


# -- the configuration --------------------------------------------------------------------------

def test_the_configuration_names_the_store_and_the_environments(tmp_path):
    config = tmp_path / "scans.yml"
    config.write_text("store: /srv/inventory.db\nenvironments:\n  lab:\n"
                      "    inventory: inventories/lab.yml\n"
                      "    extravars: {calipso_cloud: lab-cloud}\n")
    loaded = load_config(config)
    assert loaded.store == "/srv/inventory.db"
    assert loaded.environments == {"lab": EnvironmentTarget(
        tmp_path / "inventories" / "lab.yml", {"calipso_cloud": "lab-cloud"})}


@pytest.mark.parametrize(("text", "message"), [
    ("stores: x\nenvironments: {lab: {inventory: a.yml}}\n", "unknown key.*stores"),
    ("environments: {lab: {inventory: a.yml, extravar: {}}}\n", "unknown key.*extravar"),
    ("environments: {lab: {}}\n", "inventory"),
    ("environments: {lab: {inventory: a.yml, extravars: [1]}}\n", "extravars: expected a map"),
    ("environments: {}\n", "no environments"),
    ("environments: [lab]\n", "expected a mapping"),
    ("store: [x]\nenvironments: {lab: {inventory: a.yml}}\n", "store"),
    ("{unclosed\n", "scans.yml"),
])
def test_a_wrong_configuration_is_refused(tmp_path, text, message):
    config = tmp_path / "scans.yml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(config)


def test_config_file_missing(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"missing\.yml"):
        load_config(tmp_path / "missing.yml")
