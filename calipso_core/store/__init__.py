"""Calipso's inventory store: objects, links and cliques per environment, replaced scan by scan.

    store = open_store()                       # $CALIPSO_STORE, or the embedded default file
    with store.begin_scan("lab", scope={"host": ["compute1"]}) as scan:
        scan.write("objects", objects)
        scan.write("links", links)
    store.find("objects", "lab", {"type": "vnic"})

See `calipso_core.store.mongo` for the versioning that keeps the previous inventory intact until
a scan commits, and `calipso_core.store.embedded` for the server-less file store.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Final
from urllib.parse import unquote

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from calipso_core.store.embedded import EmbeddedStore
from calipso_core.store.errors import ScanConflict, ScanLost, StoreError, StoreUnavailable
from calipso_core.store.mongo import (
    DEFAULT_LEASE_SECONDS,
    KINDS,
    Doc,
    KindCounts,
    MongoStore,
    Scan,
    ScanSummary,
    Stats,
)

Store = MongoStore
"""The type callers hold: every backend is the MongoStore logic (one code path)."""

DEFAULT_STORE_PATH: Final = "/var/lib/calipso/inventory.db"
STORE_ENV: Final = "CALIPSO_STORE"
_USERINFO = re.compile(r"^(?P<scheme>[a-z+]+://)(?P<user>[^:@/]*)(?::(?P<password>[^@/]*))?@")

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "DEFAULT_STORE_PATH",
    "KINDS",
    "STORE_ENV",
    "EmbeddedStore",
    "KindCounts",
    "MongoStore",
    "Scan",
    "ScanConflict",
    "ScanLost",
    "ScanSummary",
    "Stats",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "open_store",
    "redact_url",
    "store_url",
]


def redact_url(url: str) -> str:
    """The URL with its password masked, fit for messages and logs."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@" if m["password"] is not None
                         else m[0], url)


def store_url(url: str | None = None) -> str:
    """The store a process uses: url, else $CALIPSO_STORE, else the default file."""
    return url or os.environ.get(STORE_ENV) or DEFAULT_STORE_PATH


def open_store(url: str | None = None, *, timeout: float = 5.0,
               lease_seconds: float = DEFAULT_LEASE_SECONDS) -> Store:
    """Open the inventory store named by url, else by $CALIPSO_STORE, else the default file.

    `mongodb://...` (or `mongodb+srv://`) is a MongoDB server, the database named in the URL or
    `calipso`; it must answer within timeout seconds (StoreUnavailable otherwise), and gets its
    indexes. `embedded:///path/file` or a plain path is the embedded store in that file."""
    url = store_url(url)
    if url.startswith(("mongodb://", "mongodb+srv://")):
        return _open_mongo(url, timeout, lease_seconds)
    if url.startswith("embedded://"):
        path = url.removeprefix("embedded://")
    elif "://" in url:
        raise ValueError(f"unsupported store URL {redact_url(url)!r}: expected mongodb://...,"
                         " embedded:///path or a file path")
    else:
        path = url
    if not path:
        raise ValueError(f"store URL {url!r} names no file")
    return EmbeddedStore(Path(path).expanduser(), lease_seconds=lease_seconds)


def _open_mongo(url: str, timeout: float, lease_seconds: float) -> MongoStore:
    match = _USERINFO.match(url)
    password = match["password"] if match else None
    client: MongoClient[Doc] | None = None
    try:
        client = MongoClient(url, serverSelectionTimeoutMS=int(timeout * 1000),
                             connectTimeoutMS=int(timeout * 1000), appname="calipso")
        client.admin.command("ping")
        store = MongoStore(client.get_default_database(default="calipso"),
                           lease_seconds=lease_seconds, owns_client=True)
        store.ensure_indexes()
    except PyMongoError as exc:
        if client is not None:
            client.close()
        reason = str(exc)
        for secret in {password, unquote(password)} if password else ():
            reason = reason.replace(secret, "***")
        # Not chained: the original exception may quote the URL with its password.
        raise StoreUnavailable(f"MongoDB at {redact_url(url)} is unavailable: {reason}") from None
    return store
