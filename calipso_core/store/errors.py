"""Errors of the inventory store, distinct so that callers (API, scanner) can answer each one
differently: retry later, report a conflict, or fix their configuration."""

from __future__ import annotations


class StoreError(Exception):
    """Any failure of the inventory store that is not a caller's programming error."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or opened (server down, bad URL, unreadable file).

    Messages never contain a password: they name the store with credentials masked."""


class ScanConflict(StoreError):
    """Another scan of the same environment holds a live lease, so this one may not start."""


class ScanLost(StoreError):
    """The scan lost its lease (it stalled longer than the lease and another scan took over), so
    it cannot commit; the inventory stays as the other scan leaves it."""
