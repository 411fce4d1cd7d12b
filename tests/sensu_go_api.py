"""A fake Sensu Go backend REST API for tests, on a free loopback port in a thread of the test's
own process.

Sensu Go cannot be installed on these machines, so this serves the part of the backend API that
calipso.topology.sensu_go_resources uses, in the shapes and status codes the real one answers
with (Sensu Go's API reference and its apid routers):

- GET /auth with HTTP basic authentication: 200 {"access_token", "expires_at",
  "refresh_token"}; 401 with the text "Request unauthorized" otherwise, as for any request
  without a valid `Authorization: Bearer <token>` or `Authorization: Key <api key>`;
- /api/core/v2/namespaces/<namespace>/{checks,entities,handlers,filters}: GET lists (with
  `labelSelector` requirements `key == value` / `key != value` joined by `&&`, and pagination by
  `limit` and `continue`, the next page's token in the `Sensu-Continue` header);
- .../<name>: GET (404 when absent), PUT (create or replace; 201 with no body; 400 for a body
  that is not JSON, names another resource or namespace, or fails Sensu's validation, which
  `validate_go_resource` stands in for), DELETE (204; 404 when absent). Errors of these routes
  are {"message": ..., "code": ...}.

A GET serves what was stored the way the Go backend does: every field of the struct, zero values
included, empty lists and label maps as null, `metadata.created_by` set to the writer, and an
entity's `last_seen` filled in. The fake keeps exactly what was PUT, and every request's method
and path, for tests to assert on.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from calipso_core.monitoring.sensu_go import API_VERSION, validate_go_resource

Doc = dict[str, Any]
KIND_TYPES = {"checks": "CheckConfig", "entities": "Entity", "handlers": "Handler",
              "filters": "EventFilter"}
RESOURCE_PATH = re.compile(
    r"\A/api/core/v2/namespaces/([^/]+)/(checks|entities|handlers|filters)(?:/([^/]+))?\Z")
REQUIREMENT = re.compile(r'\A\s*([\w./-]+)\s*(==|!=)\s*(?:"([^"\\]*)"|([\w./:-]+))\s*\Z')
UNAUTHORIZED = "Request unauthorized"
# Sensu's error codes (backend/apid/actions): what a JSON error body's "code" holds.
INVALID_ARGUMENT = 1
NOT_FOUND = 2
# The fields of each Go struct with their zero values, as the API's GET examples show them.
SERVED_FIELDS: dict[str, Doc] = {
    "checks": {"command": "", "handlers": None, "high_flap_threshold": 0, "interval": 0,
               "low_flap_threshold": 0, "publish": False, "runtime_assets": None,
               "subscriptions": None, "proxy_entity_name": "", "check_hooks": None,
               "stdin": False, "subdue": None, "ttl": 0, "timeout": 0, "round_robin": False,
               "output_metric_format": "", "output_metric_handlers": None, "env_vars": None,
               "secrets": None, "pipelines": None},
    "entities": {"entity_class": "", "system": {"network": {"interfaces": None},
                                                "libc_type": "", "vm_system": "", "vm_role": "",
                                                "cloud_provider": "", "processes": None},
                 "subscriptions": None, "last_seen": 0, "deregister": False,
                 "deregistration": {}, "user": "", "redact": None, "sensu_agent_version": ""},
    "handlers": {"type": "", "command": "", "timeout": 0, "handlers": None, "filters": None,
                 "env_vars": None, "runtime_assets": None, "secrets": None},
    "filters": {"action": "", "expressions": None, "runtime_assets": None},
}


@dataclass
class Stored:
    body: Doc  # exactly as it was PUT (or seeded)
    created_by: str
    written_at: int


class BadSelector(ValueError):
    pass


def parse_selector(text: str) -> list[tuple[str, str, str]]:
    """(key, operator, value) requirements of a labelSelector."""
    requirements = []
    for part in text.split("&&"):
        match = REQUIREMENT.match(part)
        if match is None:
            raise BadSelector(text)
        key, operator, quoted, bare = match.groups()
        requirements.append((key, operator, quoted if quoted is not None else bare))
    return requirements


def selected(body: Doc, requirements: list[tuple[str, str, str]]) -> bool:
    labels = (body.get("metadata") or {}).get("labels") or {}
    return all((labels.get(key) == value) == (operator == "==")
               for key, operator, value in requirements)


class FakeSensuGo:
    """The backend's state, its credentials and what was asked of it."""

    def __init__(self, username: str, password: str, api_key: str,
                 honour_label_selector: bool = True) -> None:
        self.username = username
        self.password = password
        self.api_key = api_key
        # A backend without response filtering ignores labelSelector and lists everything.
        self.honour_label_selector = honour_label_selector
        self.url = ""
        self.resources: dict[tuple[str, str, str], Stored] = {}
        self.requests: list[tuple[str, str]] = []
        self.issued_tokens: list[str] = []
        self._valid_tokens: set[str] = set()
        self.lock = threading.Lock()

    def seed(self, kind: str, body: Doc, namespace: str = "default",
             created_by: str = "admin") -> None:
        """Put a resource in place directly, as someone else would have (no request logged)."""
        with self.lock:
            self.resources[(namespace, kind, body["metadata"]["name"])] = Stored(
                copy.deepcopy(body), created_by, int(time.time()))

    def body(self, kind: str, name: str, namespace: str = "default") -> Doc | None:
        stored = self.resources.get((namespace, kind, name))
        return copy.deepcopy(stored.body) if stored else None

    def names(self, kind: str, namespace: str = "default") -> list[str]:
        return sorted(n for ns, k, n in self.resources if (ns, k) == (namespace, kind))

    def writes(self) -> list[tuple[str, str]]:
        return [(method, path) for method, path in self.requests if method in ("PUT", "DELETE")]

    def expire_tokens(self) -> None:
        """Every access token issued so far stops working, as they do after 15 minutes."""
        with self.lock:
            self._valid_tokens.clear()

    def user_of(self, authorization: str) -> str | None:
        scheme, _, credential = authorization.partition(" ")
        if scheme == "Key" and secrets.compare_digest(credential, self.api_key):
            return self.username
        if scheme == "Bearer" and credential in self._valid_tokens:
            return self.username
        return None

    def login(self, authorization: str) -> Doc | None:
        scheme, _, encoded = authorization.partition(" ")
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        if scheme != "Basic" or (user, password) != (self.username, self.password):
            return None
        token = secrets.token_urlsafe(32)
        with self.lock:
            self._valid_tokens.add(token)
            self.issued_tokens.append(token)
        return {"access_token": token, "expires_at": int(time.time()) + 900,
                "refresh_token": secrets.token_urlsafe(32)}

    def served(self, kind: str, stored: Stored) -> Doc:
        view = copy.deepcopy(SERVED_FIELDS[kind])
        view.update(copy.deepcopy(stored.body))
        view = {key: None if value == [] else value for key, value in view.items()}
        metadata = dict(view.get("metadata") or {})
        for key in ("labels", "annotations"):
            metadata[key] = metadata.get(key) or None
        metadata["created_by"] = stored.created_by
        view["metadata"] = metadata
        if kind == "entities":
            # A proxy entity's last_seen moves with the events that name it.
            view["last_seen"] = stored.written_at
        return view


class _Reply(Exception):
    """Ends a request with this status and body (a JSON document, text, or nothing)."""

    def __init__(self, status: int, body: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def _error(status: int, message: str, code: int) -> _Reply:
    return _Reply(status, {"message": message, "code": code})


def _handler_for(fake: FakeSensuGo) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._handle("GET")

        def do_PUT(self) -> None:
            self._handle("PUT")

        def do_DELETE(self) -> None:
            self._handle("DELETE")

        def do_POST(self) -> None:
            self._handle("POST")

        def log_message(self, *args: Any) -> None:
            pass  # the tests assert on fake.requests; stderr noise helps nobody

        def _handle(self, method: str) -> None:
            split = urlsplit(self.path)
            with fake.lock:
                fake.requests.append((method, split.path))
            try:
                self._route(method, split.path, parse_qs(split.query))
            except _Reply as reply:
                self._send(reply)

        def _route(self, method: str, path: str, query: dict[str, list[str]]) -> None:
            authorization = self.headers.get("Authorization", "")
            if path == "/auth":
                if method != "GET":
                    raise _Reply(405, "Method Not Allowed")
                tokens = fake.login(authorization)
                raise _Reply(200, tokens) if tokens else _Reply(401, UNAUTHORIZED)
            if fake.user_of(authorization) is None:
                raise _Reply(401, UNAUTHORIZED)
            match = RESOURCE_PATH.match(path)
            if match is None:
                raise _Reply(404, "404 page not found")
            namespace, kind, name = (unquote(g) if g else g for g in match.groups())
            if name is None and method == "GET":
                self._list(namespace, kind, query)
            elif name is not None and method == "GET":
                self._get(namespace, kind, name)
            elif name is not None and method == "PUT":
                self._put(namespace, kind, name, fake.user_of(authorization) or "")
            elif name is not None and method == "DELETE":
                with fake.lock:
                    if fake.resources.pop((namespace, kind, name), None) is None:
                        raise _error(404, "not found", NOT_FOUND)
                raise _Reply(204)
            raise _Reply(405, "Method Not Allowed")

        def _list(self, namespace: str, kind: str, query: dict[str, list[str]]) -> None:
            try:
                requirements = [r for text in query.get("labelSelector", [])
                                for r in parse_selector(text)]
            except BadSelector:
                raise _Reply(400, {"message": "failed to parse labelSelector"}) from None
            with fake.lock:
                items = [(name, fake.served(kind, stored))
                         for (ns, k, name), stored in sorted(fake.resources.items())
                         if (ns, k) == (namespace, kind)]
            if fake.honour_label_selector:
                items = [(name, body) for name, body in items if selected(body, requirements)]
            after = query.get("continue", [""])[0]
            if after:
                start = base64.urlsafe_b64decode(after.encode()).decode()
                items = [(name, body) for name, body in items if name > start]
            limit = int(query.get("limit", ["0"])[0] or 0)
            headers = {}
            if 0 < limit < len(items):
                items = items[:limit]
                headers["Sensu-Continue"] = base64.urlsafe_b64encode(
                    items[-1][0].encode()).decode()
            raise _Reply(200, [body for _, body in items], headers)

        def _get(self, namespace: str, kind: str, name: str) -> None:
            with fake.lock:
                stored = fake.resources.get((namespace, kind, name))
                if stored is None:
                    raise _error(404, "not found", NOT_FOUND)
                raise _Reply(200, fake.served(kind, stored))

        def _put(self, namespace: str, kind: str, name: str, user: str) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            try:
                body = json.loads(self.rfile.read(length) or b"null")
            except ValueError as exc:
                raise _error(400, str(exc), INVALID_ARGUMENT) from None
            if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict):
                raise _error(400, "the body must be a resource with metadata", INVALID_ARGUMENT)
            metadata = body["metadata"]
            if metadata.get("name") != name:
                raise _error(400, f"the name of the resource ({metadata.get('name')}) does not "
                                  f"match the name in the URI ({name})", INVALID_ARGUMENT)
            if metadata.setdefault("namespace", namespace) != namespace:
                raise _error(400, f"the namespace of the resource ({metadata['namespace']}) does "
                                  f"not match the namespace in the URI ({namespace})",
                             INVALID_ARGUMENT)
            wrapped = {"type": KIND_TYPES[kind], "api_version": API_VERSION,
                       "metadata": metadata,
                       "spec": {k: v for k, v in body.items() if k != "metadata"}}
            problems = validate_go_resource(wrapped)
            if problems:
                raise _error(400, "; ".join(problems), INVALID_ARGUMENT)
            with fake.lock:
                fake.resources[(namespace, kind, name)] = Stored(body, user, int(time.time()))
            raise _Reply(201)

        def _send(self, reply: _Reply) -> None:
            if reply.body is None:
                payload, content_type = b"", "application/json"
            elif isinstance(reply.body, str):
                # Go's http.Error: plain text and a newline.
                payload, content_type = (reply.body + "\n").encode(), "text/plain; charset=utf-8"
            else:
                payload, content_type = json.dumps(reply.body).encode(), "application/json"
            self.send_response(reply.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for header, value in reply.headers.items():
                self.send_header(header, value)
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@contextmanager
def running_sensu_go_api(username: str = "calipso", password: str | None = None,
                         api_key: str | None = None,
                         honour_label_selector: bool = True) -> Iterator[FakeSensuGo]:
    """Serve a fake backend until the block ends. Without a password or an API key given,
    random ones are made (fake.password, fake.api_key)."""
    fake = FakeSensuGo(username, password or secrets.token_urlsafe(16),
                       api_key or secrets.token_hex(16), honour_label_selector)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(fake))
    server.daemon_threads = True
    # A short poll interval: shutdown() waits for the loop to notice, once per test.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="fake-sensu-go", daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
