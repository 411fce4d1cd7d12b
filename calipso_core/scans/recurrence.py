"""When scheduled scans run: an RFC 5545 recurrence rule, read with dateutil, checked before it
is stored, and its occurrences after a time.

A rule is one RRULE (`FREQ=HOURLY;INTERVAL=6`, or `RRULE:FREQ=...`), optionally after a DTSTART
line in UTC (`DTSTART:20260101T020000Z`) or in a named zone
(`DTSTART;TZID=Europe/Paris:20260101T020000`, which keeps 02:00 local across DST changes); an
UNTIL is in UTC (`UNTIL=20270101T000000Z`). Without DTSTART the series starts when the schedule
was created, so its first scan runs at the scheduler's next poll. A floating (zone-less) time is
refused: the scheduler's own zone would silently decide what it means.

Rules come from the network, so what evaluating one costs is bounded. dateutil loops forever on
INTERVAL=0 (refused before it iterates), and for a rule that matches nothing (February 30th) it
searches period by period up to the year 9999: seconds of CPU for one request, and an UNTIL does
not stop it. So rules are evaluated 400·k years ahead, where the Gregorian calendar repeats
exactly (dates, leap days and weekdays), as close to 9999 as leaves HORIZON_YEARS to search:
dateutil's own end of the calendar then ends every search within a few hundred years. And
DTSTART may lie at most a year in the past, as dateutil walks every occurrence since DTSTART to
find the next one.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import MAXYEAR, UTC, datetime, timedelta, tzinfo
from itertools import islice, pairwise
from typing import Final

from dateutil.rrule import rrule, rrulestr

from calipso_core.scans.errors import InvalidSchedule

MIN_SPACING: Final = timedelta(minutes=5)
"""No scan of a schedule starts less than this after its previous one."""
HORIZON_YEARS: Final = 30
"""Occurrences are searched for at least this many years ahead (up to 400 more, depending on
the current year): a rule that does not occur in that time never runs."""
CYCLE_YEARS: Final = 400
"""The Gregorian calendar's period, in years."""
MAX_PAST_START: Final = timedelta(days=366)
MAX_LENGTH: Final = 1000
SPACING_SAMPLE: Final = 100
"""Occurrences whose spacing is checked: a rule's pattern repeats within far fewer."""

_UTC_TIME = re.compile(r"(\d{8}T\d{6})Z", re.IGNORECASE)
_UTC_START = re.compile(r"DTSTART:(\d{8}T\d{6})Z", re.IGNORECASE)
_ZONED_START = re.compile(r"DTSTART;TZID=([A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+)*):(\d{8}T\d{6})",
                          re.IGNORECASE)
_ERRORS: Final = (ValueError, TypeError, KeyError, IndexError, OverflowError)
"""What dateutil raises for the many ways a rule can be malformed."""


def _time(text: str, zone: tzinfo = UTC) -> datetime:
    return datetime.strptime(text, "%Y%m%dT%H%M%S").replace(tzinfo=zone)


def _start(line: str) -> datetime:
    if match := _UTC_START.fullmatch(line):
        return _time(match[1])
    if match := _ZONED_START.fullmatch(line):
        try:
            return _time(match[2], zoneinfo.ZoneInfo(match[1]))
        except (ValueError, zoneinfo.ZoneInfoNotFoundError):
            raise InvalidSchedule(f"DTSTART: unknown time zone {match[1]!r}") from None
    raise InvalidSchedule("DTSTART must be in UTC (DTSTART:20260101T020000Z) or name its zone"
                          " (DTSTART;TZID=Europe/Paris:20260101T020000)")


def _parts(rule_line: str) -> dict[str, str]:
    """The rule's parts, checked for what dateutil accepts but cannot evaluate safely."""
    parts: dict[str, str] = {}
    for part in rule_line.removeprefix("RRULE:").split(";"):
        name, equals, value = part.partition("=")
        if not equals:
            raise InvalidSchedule(f"malformed rule part {part!r}: expected NAME=VALUE")
        parts[name] = value
    if "FREQ" not in parts:
        raise InvalidSchedule("the rule has no FREQ")
    if "INTERVAL" in parts and not (parts["INTERVAL"].isdigit() and int(parts["INTERVAL"])):
        raise InvalidSchedule("INTERVAL must be a positive integer")
    if "COUNT" in parts and "UNTIL" in parts:
        raise InvalidSchedule("COUNT and UNTIL exclude each other (RFC 5545)")
    return parts


def _until(value: str | None) -> datetime | None:
    if value is None:
        return None
    if match := _UTC_TIME.fullmatch(value):
        return _time(match[1])
    raise InvalidSchedule("UNTIL must be in UTC, such as 20270101T000000Z")


def _shifted(moment: datetime, years: int) -> datetime:
    return moment.replace(year=moment.year + years)


class Recurrence:
    """A schedule's rule. `default_start` (time zone aware) stands for a missing DTSTART."""

    def __init__(self, text: str, default_start: datetime) -> None:
        if not isinstance(text, str) or len(text) > MAX_LENGTH:
            raise InvalidSchedule(f"the rule must be a text of at most {MAX_LENGTH} characters")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        starts = [line for line in lines if line.upper().startswith("DTSTART")]
        rules = [line.upper() for line in lines if not line.upper().startswith("DTSTART")]
        if len(rules) != 1 or len(starts) > 1 or (":" in rules[0]
                                                  and not rules[0].startswith("RRULE:")):
            raise InvalidSchedule("expected one RRULE, optionally after one DTSTART line")
        parts = _parts(rules[0])
        self.start = _start(starts[0]) if starts else default_start
        self.until = _until(parts.pop("UNTIL", None))
        self._rule_text = ";".join(f"{name}={value}" for name, value in parts.items())
        self._rule(0)  # refuses an unreadable rule now

    def _rule(self, years: int) -> rrule:
        """The rule with its DTSTART and UNTIL moved `years` ahead."""
        try:
            rule = rrulestr(self._rule_text, dtstart=_shifted(self.start, years))
            if self.until is None or self.until.year + years > MAXYEAR:
                return rule  # the calendar ends first
            return rule.replace(until=_shifted(self.until, years))
        except _ERRORS as exc:
            raise InvalidSchedule(f"unreadable rule: {exc}") from None

    def upcoming(self, after: datetime, count: int, inclusive: bool = False) -> list[datetime]:
        """Up to count occurrences after `after` (or at it, if inclusive)."""
        cycles = min((MAXYEAR - HORIZON_YEARS - after.year) // CYCLE_YEARS,
                     (MAXYEAR - self.start.year) // CYCLE_YEARS)
        years = CYCLE_YEARS * max(cycles, 0)
        try:
            found = list(islice(self._rule(years).xafter(_shifted(after, years),
                                                         inc=inclusive), count))
        except _ERRORS as exc:
            raise InvalidSchedule(f"the rule cannot be evaluated: {exc}") from None
        return [_shifted(moment, -years) for moment in found]

    def next_run(self, after: datetime, inclusive: bool = False) -> datetime | None:
        """The first occurrence after `after` (or at it, if inclusive); None when the series
        has ended."""
        found = self.upcoming(after, 1, inclusive)
        return found[0] if found else None


def validate(text: str, default_start: datetime, now: datetime) -> datetime:
    """Check a schedule's rule; returns its first run at or after now."""
    recurrence = Recurrence(text, default_start)
    if recurrence.start < now - MAX_PAST_START:
        raise InvalidSchedule("DTSTART lies more than a year in the past: give a later one")
    sample = recurrence.upcoming(now, SPACING_SAMPLE, inclusive=True)
    if not sample:
        raise InvalidSchedule("the rule has no occurrence from now on")
    for before, later in pairwise(sample):
        if later - before < MIN_SPACING:
            raise InvalidSchedule(f"the rule runs more often than every {MIN_SPACING}"
                                  f" ({before.isoformat()} then {later.isoformat()})")
    return sample[0]
