"""Scans on demand and on schedule: what the API's scan and schedule routes and the
`calipso-scheduler` process call.

    scans = ScanService(store, {"lab": EnvironmentTarget(Path("inventories/lab/hosts.yml"))})
    request = scans.start("lab", "alice", focal_object="web-1")   # queued, runs in background
    scans.get(request["id"])["state"]                             # running, then succeeded
    Schedules(store, scans).create("lab", "FREQ=HOURLY;INTERVAL=6", "alice")
    Scheduler(store, scans).run_forever()

Modules: `requests` (a request's validation, record and run), `recurrence` (RRULEs),
`schedules` (schedule records and their claims), `scheduler` (the polling process),
`records` (reading both kinds of record),
`config` (its file), `errors` (what is refused, with stable codes), `clock`.
"""

from calipso_core.scans.config import ConfigError, ScanConfig, load_config
from calipso_core.scans.errors import (
    EnvironmentBusy,
    EnvironmentUnavailable,
    InvalidRequest,
    InvalidSchedule,
    ScanError,
    ScansPaused,
    UnknownEnvironment,
    UnknownFocalObject,
    UnknownHosts,
)
from calipso_core.scans.requests import EnvironmentTarget, ScanService, Scope
from calipso_core.scans.scheduler import Scheduler
from calipso_core.scans.schedules import Schedules

__all__ = [
    "ConfigError",
    "EnvironmentBusy",
    "EnvironmentTarget",
    "EnvironmentUnavailable",
    "InvalidRequest",
    "InvalidSchedule",
    "ScanConfig",
    "ScanError",
    "ScanService",
    "ScansPaused",
    "Scheduler",
    "Schedules",
    "Scope",
    "UnknownEnvironment",
    "UnknownFocalObject",
    "UnknownHosts",
    "load_config",
]
