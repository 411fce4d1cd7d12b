"""Links of the inventory: the list's filters (the list and item routes are the inventory's)."""

from __future__ import annotations

from typing import Final

from calipso_api.query import Param, one_of, text
from calipso_api.resources.inventory import equal_filter

STATES: Final = ("up", "down", "unknown")
FILTERS: Final = (*(Param(name, text) for name in ("link_type", "source_id", "target_id", "host")),
                  Param("state", one_of(*STATES)))
link_filter = equal_filter({name: name for name in
                            ("link_type", "source_id", "target_id", "host", "state")})
