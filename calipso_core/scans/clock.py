"""Time for scan requests and schedules: an injectable clock (tests move time by hand) and the
stored form of a time, the store's fixed-width UTC ISO 8601, which sorts as a string: a query
`{"next_run": {"$lte": iso(now)}}` finds what is due."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

Clock = Callable[[], datetime]
"""Returns the current time, time zone aware."""

FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%fZ"


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(FORMAT)


def from_iso(text: str) -> datetime:
    return datetime.strptime(text, FORMAT).replace(tzinfo=UTC)
