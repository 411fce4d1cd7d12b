"""Time for scan requests and schedules: an injectable clock (tests move time by hand) and the
stored form of a time, the store's fixed-width UTC ISO 8601, which sorts as a string: a query
`{"next_run": {"$lte": iso(now)}}` finds what is due."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from calipso_core.store.mongo import TIME_FORMAT, iso

__all__ = ["Clock", "from_iso", "iso", "utc_now"]

Clock = Callable[[], datetime]
"""Returns the current time, time zone aware."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def from_iso(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)
