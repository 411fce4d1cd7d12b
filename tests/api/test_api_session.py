"""Health, login and logout, and the token check every other route passes: what each way of
getting it wrong answers, and that no secret ever comes back."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import USERS


def login(client, username, password, **kwargs):
    return client.simulate_post("/auth/login", json={"username": username, "password": password},
                                **kwargs)


def test_health_needs_no_token_and_says_the_store_is_reachable(client):
    result = client.simulate_get("/health")
    assert result.status_code == 200
    assert result.json == {"status": "ok", "store": "reachable"}


def test_health_is_503_when_the_store_is_damaged(client, store):
    store.path.write_bytes(b"not an inventory")
    result = client.simulate_get("/health")
    assert result.status_code == 503
    assert result.json == {"status": "unavailable", "store": "unreachable"}
    assert str(store.path) not in result.text


def test_login_issues_a_token_that_opens_the_users_environments(client):
    result = login(client, "lab-viewer", USERS["lab-viewer"][0])
    assert result.status_code == 201
    body = result.json
    assert body["user"] == "lab-viewer" and body["roles"] == {"lab": "viewer"}
    assert body["token"] and body["token_id"] and body["expires"]
    assert result.headers["cache-control"] == "no-store"
    listed = client.simulate_get("/environments",
                                 headers={"Authorization": f"Bearer {body['token']}"})
    assert [e["name"] for e in listed.json["items"]] == ["lab"]


def test_wrong_password_and_unknown_user_get_the_same_answer(client):
    wrong = login(client, "lab-viewer", "not-the-password")
    unknown = login(client, "nobody", "whatever")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json
    assert wrong.json["code"] == "login_failed"
    assert "not-the-password" not in wrong.text


def test_a_directory_down_is_503_without_its_internals(client, authenticator):
    authenticator.available = False
    result = login(client, "admin", USERS["admin"][0])
    assert result.status_code == 503 and result.json["code"] == "directory_unavailable"
    assert "ldap://" not in result.text and "127.0.0.1" not in result.text


@pytest.mark.parametrize(("body", "content_type"), [
    (b"{not json", "application/json"),
    (b"[]", "application/json"),
    (b'"admin"', "application/json"),
    (json.dumps({"username": "admin"}).encode(), "application/json"),
    (json.dumps({"username": "admin", "password": ""}).encode(), "application/json"),
    (json.dumps({"username": "admin", "password": 1}).encode(), "application/json"),
    (json.dumps({"username": "admin", "password": "x", "role": "admin"}).encode(),
     "application/json"),
    (json.dumps({"username": "a" * 257, "password": "x"}).encode(), "application/json"),
    (b"\xff\xfe{}", "application/json"),
    (b"[" * 100_000, "application/json"),
])
def test_malformed_login_bodies_are_400_invalid_body(client, body, content_type):
    result = client.simulate_post("/auth/login", body=body,
                                  headers={"Content-Type": content_type})
    expected = 413 if len(body) > 64 * 1024 else 400
    assert result.status_code == expected
    assert result.json["code"] == ("payload_too_large" if expected == 413 else "invalid_body")


def test_deep_nesting_within_the_size_limit_is_400_not_a_crash(client):
    deep = b'{"username": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"
    assert len(deep) < 64 * 1024
    result = client.simulate_post("/auth/login", body=deep,
                                  headers={"Content-Type": "application/json"})
    assert result.status_code == 400 and result.json["code"] == "invalid_body"


def test_login_wants_json(client):
    result = client.simulate_post("/auth/login", body="username=admin&password=x",
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert result.status_code == 415 and result.json["code"] == "unsupported_media_type"
    result = client.simulate_post("/auth/login", body=b'{"username": "a", "password": "b"}')
    assert result.status_code == 415


def test_a_body_larger_than_allowed_is_413(client):
    body = json.dumps({"username": "admin", "password": "x" * 70_000})
    result = client.simulate_post("/auth/login", body=body,
                                  headers={"Content-Type": "application/json"})
    assert result.status_code == 413 and result.json["code"] == "payload_too_large"


def test_logout_revokes_the_token(client):
    token = login(client, "admin", USERS["admin"][0]).json["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.simulate_get("/environments", headers=headers).status_code == 200
    result = client.simulate_post("/auth/logout", headers=headers)
    assert result.status_code == 204 and not result.content
    again = client.simulate_get("/environments", headers=headers)
    assert again.status_code == 401 and again.json["code"] == "unauthorized"
    assert client.simulate_post("/auth/logout", headers=headers).status_code == 401


@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Bearer ", "Basic YWRtaW46YWRtaW4=", "Bearer not-a-token",
    "Bearer " + "a" * 5000, "Bearer a b", "Bearer <script>",
])
def test_routes_need_a_valid_bearer_token(client, header, unchanged):
    headers = {} if header is None else {"Authorization": header}
    with unchanged():
        for path in ("/environments", "/environments/lab", "/environments/lab/objects",
                     "/environments/nope/objects"):
            result = client.simulate_get(path, headers=headers)
            assert result.status_code == 401, path
            assert result.json["code"] == "unauthorized"
            assert result.headers["www-authenticate"] == "Bearer"
        result = client.simulate_put("/environments/lab/link_types/x", headers=headers,
                                     json={"definition": {}})
        assert result.status_code == 401


def test_an_expired_token_is_refused(client, tokens, auth):
    headers = auth("admin")
    tokens.expire(headers["Authorization"].removeprefix("Bearer "))
    result = client.simulate_get("/environments", headers=headers)
    assert result.status_code == 401 and result.json["code"] == "unauthorized"


def test_the_scheme_is_case_insensitive(client, auth):
    token = auth("admin")["Authorization"].removeprefix("Bearer ")
    result = client.simulate_get("/environments", headers={"Authorization": f"bearer {token}"})
    assert result.status_code == 200


def test_no_response_but_login_carries_a_token(client, auth):
    headers = auth("admin")
    token = headers["Authorization"].removeprefix("Bearer ")
    for path in ("/environments", "/environments/lab", "/environments/lab/objects?limit=5",
                 "/environments/lab/status", "/environments/lab/messages"):
        result = client.simulate_get(path, headers=headers)
        assert result.status_code == 200 and token not in result.text
