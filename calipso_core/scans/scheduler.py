"""The scheduler: starts the scans of due schedules, poll after poll (`calipso-scheduler`).

Several schedulers may poll the same store (one per API host, say): each occurrence is claimed
by compare-and-set (`Schedules.claim`), so it starts once. An occurrence whose environment is
being scanned is given back and starts at a later poll, once the environment is free; one whose
scan is refused (its focal object gone, a host left the inventory) is skipped, with the reason
in the schedule's last_error.

    calipso-scheduler --config /etc/calipso/scans.yml           # poll every 30 s until stopped
    calipso-scheduler --config /etc/calipso/scans.yml --once    # start what is due, wait, exit
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from types import FrameType

from pymongo.errors import PyMongoError

from calipso_core.scans.clock import Clock, utc_now
from calipso_core.scans.config import ConfigError, load_config
from calipso_core.scans.errors import EnvironmentBusy, ScanError
from calipso_core.scans.requests import ScanService
from calipso_core.scans.schedules import Schedules
from calipso_core.store import Doc, Store, StoreError, open_store

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, store: Store, scan_service: ScanService, clock: Clock = utc_now) -> None:
        self.scans = scan_service
        self._clock = clock
        self.schedules = Schedules(store, scan_service, clock)

    def run_due(self, now: datetime | None = None) -> list[Doc]:
        """Start a scan for each due schedule (once, however many occurrences it missed);
        returns the requests started."""
        now = now or self._clock()
        started = [self._run(schedule, now) for schedule in self.schedules.due(now)]
        return [request for request in started if request is not None]

    def _run(self, schedule: Doc, now: datetime) -> Doc | None:
        claimed = self.schedules.claim(schedule, now)
        if claimed is None:
            return None  # another scheduler took this occurrence
        scope = schedule["scope"]
        try:
            request = self.scans.start(schedule["environment"], f"schedule:{schedule['id']}",
                                       scope["hosts"], scope["focal_object"])
        except EnvironmentBusy as exc:
            log.info("schedule %s waits: %s", schedule["id"], exc)
            self.schedules.unclaim(claimed, schedule["next_run"])
            return None
        except ScanError as exc:
            log.warning("schedule %s: occurrence skipped: %s", schedule["id"], exc)
            self.schedules.record(schedule["id"], now, error=str(exc))
            return None
        log.info("schedule %s started scan request %s", schedule["id"], request["id"])
        self.schedules.record(schedule["id"], now, request_id=request["id"])
        return request

    def run_forever(self, poll_seconds: float = 30.0,
                    stop: threading.Event | None = None) -> None:
        """Poll until stop is set; a store that fails is tried again at the next poll."""
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                self.run_due()
            except (StoreError, PyMongoError) as exc:
                log.error("scheduler poll failed: %s", exc)
            stop.wait(poll_seconds)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="calipso-scheduler",
                                     description="Run Calipso's scheduled scans.")
    parser.add_argument("--config", type=Path, required=True,
                        help="YAML file: store and environments (see calipso_core.scans.config)")
    parser.add_argument("--once", action="store_true",
                        help="start the scans that are due, wait for them, print them, exit"
                             " (1 if any failed)")
    parser.add_argument("--poll", type=float, default=30.0, metavar="SECONDS",
                        help="seconds between polls (default 30)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        config = load_config(args.config)
        store = open_store(config.store)
    except (ConfigError, StoreError) as exc:
        print(f"calipso-scheduler: {exc}", file=sys.stderr)
        return 2
    scans = ScanService(store, config.environments, store_url=config.store)
    scheduler = Scheduler(store, scans)
    if args.once:
        finished = [scans.wait(request["id"]) or request for request in scheduler.run_due()]
        for request in finished:
            print(json.dumps({key: request[key] for key in (
                "id", "environment", "requested_by", "state", "generation", "error")}))
        return 0 if all(request["state"] == "succeeded" for request in finished) else 1
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    # Scans in flight finish before the process exits: their workers are not daemons.
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    scheduler.run_forever(args.poll, stop)
    return 0

