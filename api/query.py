"""Query strings read strictly: each route declares its parameters, and anything else (an unknown
or repeated parameter, an empty value, a bad number or date) is a 400 `invalid_parameter`.

Strictness is what keeps filters literal: `type[$ne]=x` is an unknown parameter, not an
operator, and every accepted value is a plain string, number or date that the routes place as a
value (never as a key) in a store query.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import falcon

from calipso_api.errors import invalid_parameter
from calipso_core.store.mongo import iso

MAX_TEXT: Final = 256
"""Longest accepted filter value: ids and names are far shorter."""
INTEGER: Final = re.compile(r"-?[0-9]{1,12}")


@dataclass(frozen=True)
class Param:
    """A query parameter: its name and how its text becomes a value (raising ValueError with
    the reason when it cannot)."""

    name: str
    parse: Callable[[str], Any]


def text(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    if len(value) > MAX_TEXT:
        raise ValueError(f"is longer than {MAX_TEXT} characters")
    return value


def integer(minimum: int, maximum: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        # ASCII digits only: int() would also take " 1", "1_0" and other scripts' digits.
        if not INTEGER.fullmatch(value):
            raise ValueError("is not an integer")
        number = int(value)
        if not minimum <= number <= maximum:
            raise ValueError(f"must be between {minimum} and {maximum}")
        return number
    return parse


def one_of(*choices: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value
    return parse


def timestamp(value: str) -> str:
    """An ISO 8601 date-time (a time without offset is UTC) as the store writes times: fixed-width
    UTC with microseconds, so that it compares with stored times as a string."""
    try:
        # RFC 3339 allows lower-case t and z, which fromisoformat does not.
        moment = datetime.fromisoformat(value.upper())
    except ValueError:
        raise ValueError("is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return iso(moment)
    except OverflowError:  # a valid time whose UTC equivalent leaves year 1..9999
        raise ValueError("is out of range") from None


def parse_query(req: falcon.Request, params: Sequence[Param]) -> dict[str, Any]:
    """The declared parameters present in the query string, parsed; 400 for anything else."""
    declared = {param.name: param for param in params}
    values: dict[str, Any] = {}
    for name, raw in req.params.items():
        param = declared.get(name)
        if param is None:
            allowed = ", ".join(sorted(declared)) or "none"
            raise invalid_parameter(f"unknown query parameter {name[:100]!r} (allowed: {allowed})")
        if not isinstance(raw, str):
            raise invalid_parameter(f"query parameter {name!r} is given more than once")
        try:
            values[name] = param.parse(raw)
        except ValueError as exc:
            raise invalid_parameter(f"query parameter {name!r} {exc}") from None
    return values
