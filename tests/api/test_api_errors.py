"""Errors are problems (RFC 9457) with stable codes, whatever fails: routing, the method, the
store, or the server's own code; and none of them carries a traceback, a path or a secret."""

from __future__ import annotations

import logging

import mongomock
import pytest
from pymongo import MongoClient

from calipso_api.app import create_app
from calipso_core.store import MongoStore
from tests.api.conftest import CheckedClient


def test_an_unknown_route_is_a_404_problem(client, auth):
    result = client.simulate_get("/nothing/here", headers=auth("admin"))
    assert result.status_code == 404
    assert result.headers["content-type"] == "application/problem+json"
    assert result.json["type"] == "urn:calipso:problem:not_found"
    assert result.json["status"] == 404 and result.json["detail"] == "no route matches this path"


def test_a_method_a_route_does_not_take_is_405_with_allow(client, auth):
    result = client.simulate_delete("/environments/lab/objects", headers=auth("admin"))
    assert result.status_code == 405 and result.json["code"] == "method_not_allowed"
    assert "GET" in result.headers["allow"]
    put = client.simulate_put("/environments/lab/objects/x", headers=auth("admin"))
    assert put.status_code == 405


def test_every_answer_forbids_caching_and_sniffing(client, auth):
    for result in (client.simulate_get("/health"),
                   client.simulate_get("/environments", headers=auth("admin")),
                   client.simulate_get("/environments")):
        assert result.headers["cache-control"] == "no-store"
        assert result.headers["x-content-type-options"] == "nosniff"


def test_a_damaged_store_file_is_503_without_its_path(client, auth, store):
    headers = auth("admin")
    store.path.write_bytes(b"\x00garbage")
    result = client.simulate_get("/environments/lab/objects", headers=headers)
    assert result.status_code == 503 and result.json["code"] == "store_unavailable"
    assert str(store.path.parent) not in result.text and "damaged" not in result.text
    assert result.headers["retry-after"]


def test_a_mongodb_server_gone_is_503(authenticator, tokens, auth):
    """The real pymongo code path against a port nothing listens on (loopback only)."""
    dead = MongoClient("mongodb://127.0.0.1:9/", serverSelectionTimeoutMS=200,
                       connectTimeoutMS=200)
    try:
        client = CheckedClient(create_app(MongoStore(dead.calipso), authenticator, tokens))
        result = client.simulate_get("/environments", headers=auth("admin"))
        assert result.status_code == 503 and result.json["code"] == "store_unavailable"
        assert "127.0.0.1:9" not in result.text
        health = client.simulate_get("/health")
        assert health.status_code == 503 and health.json["store"] == "unreachable"
    finally:
        dead.close()


class Failing:
    def on_get(self, req, resp):
        raise RuntimeError("password=hunter2 in /etc/calipso/api.yaml")


def test_a_bug_is_a_bare_500_problem_and_a_logged_traceback(authenticator, tokens, auth,
                                                            caplog):
    app = create_app(MongoStore(mongomock.MongoClient().calipso), authenticator, tokens)
    app.add_route("/failing", Failing())
    with caplog.at_level(logging.ERROR, logger="calipso_api.errors"):
        result = CheckedClient(app).simulate_get("/failing", headers=auth("admin"))
    assert result.status_code == 500 and result.json["code"] == "internal_error"
    assert "hunter2" not in result.text and "Traceback" not in result.text
    assert "hunter2" in caplog.text and "Traceback" in caplog.text


@pytest.mark.parametrize("path", ["/environments/lab/objects", "/environments/lab/messages",
                                  "/health", "/environments"])
def test_problems_validate_for_any_bad_parameter(client, auth, path):
    result = client.simulate_get(path, headers=auth("admin"), query_string="nope=1")
    assert result.status_code == 400
    assert set(result.json) == {"type", "title", "status", "code", "detail"}
