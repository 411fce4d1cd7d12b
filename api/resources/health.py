"""GET /health, for load balancers and supervisors: no token needed, and it says only whether
the API can reach its store (never why not: that is in the server's log)."""

from __future__ import annotations

import logging

import falcon
from pymongo.errors import ConnectionFailure

from calipso_api.query import parse_query
from calipso_core.store import MongoStore, StoreError

log = logging.getLogger(__name__)


class Health:
    auth_required = False

    def __init__(self, store: MongoStore) -> None:
        self._store = store

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        parse_query(req, ())
        try:
            self._store.environments()
        except (StoreError, ConnectionFailure) as exc:
            log.warning("health: the inventory store cannot be reached: %s", exc)
            resp.status = 503
            resp.media = {"status": "unavailable", "store": "unreachable"}
            return
        resp.media = {"status": "ok", "store": "reachable"}
