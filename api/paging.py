"""Paging of every list: `limit` and `offset` in, `{items, total, limit, offset}` out.

Offsets, not cursors: the inventory changes only when a scan commits, lists are sorted on a
unique key (ids), and a client wants "page 3 of 40" with the total; the total comes from the
store's count, never from reading everything. An empty page is an empty list, never a 404.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from calipso_api.query import Param, integer

LIMIT_DEFAULT: Final = 100
LIMIT_MAX: Final = 1000
OFFSET_MAX: Final = 2**31 - 1
"""Far beyond any inventory, and within what every MongoDB skip accepts."""

PAGING: Final = (Param("limit", integer(1, LIMIT_MAX)), Param("offset", integer(0, OFFSET_MAX)))
"""The paging parameters, for a route's parameter list."""


@dataclass(frozen=True)
class Window:
    limit: int
    offset: int


def window(query: Mapping[str, Any]) -> Window:
    """The page a parsed query asks for (see PAGING)."""
    return Window(query.get("limit", LIMIT_DEFAULT), query.get("offset", 0))


def page(items: Sequence[Any], total: int, at: Window) -> dict[str, Any]:
    return {"items": list(items), "total": total, "limit": at.limit, "offset": at.offset}


def counted_page(total: int, read: Callable[[int, int], Sequence[Any]],
                 at: Window) -> dict[str, Any]:
    """The page at `at` of `total` items, which read(offset, limit) reads; past the end the
    count alone answers: no read for an empty page."""
    return page(read(at.offset, at.limit) if at.offset < total else [], total, at)


def page_of(items: Sequence[Any], at: Window) -> dict[str, Any]:
    """A page cut from a complete list held in memory (short lists: types, environments)."""
    return page(items[at.offset:at.offset + at.limit], len(items), at)
