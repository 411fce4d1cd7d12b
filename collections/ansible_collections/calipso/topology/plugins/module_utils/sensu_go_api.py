# -*- coding: utf-8 -*-
# Copyright: Calipso developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""A small client for the Sensu Go backend REST API (core/v2), and what it takes to compare the
resources Calipso renders with the ones a backend holds.

Calipso renders wrapped documents, as `sensuctl create` reads them ({"type", "api_version",
"metadata", "spec"}); the REST API speaks the unwrapped form: the spec's fields at the top level
next to "metadata". Checks, entities, handlers and filters live under
/api/core/v2/namespaces/<namespace>/<kind>[/<name>]. Authentication is an API key
(`Authorization: Key ...`) or a username and password exchanged at GET /auth for an access token
(`Authorization: Bearer ...`, valid about 15 minutes: a 401 triggers one new login).

Runs on the controller, stdlib and ansible.module_utils only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
from urllib.error import HTTPError
from urllib.parse import quote, urlencode

from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import Request, make_context

API_VERSION = "core/v2"
# The order resources are written in: a check names its handlers (which name their filters) and
# its proxy entity, so those exist before it does. Deletions go the other way round.
KINDS = ("filters", "handlers", "entities", "checks")
KIND_OF_TYPE = {"EventFilter": "filters", "Handler": "handlers", "Entity": "entities",
                "CheckConfig": "checks"}
TYPE_OF_KIND = dict((kind, kind_type) for kind_type, kind in KIND_OF_TYPE.items())
WRAPPED_KEYS = frozenset(("type", "api_version", "metadata", "spec"))
# Set by the backend itself, never by whoever writes the resource: no reason to write it again.
# created_by: the user that last wrote it. scheduler: which scheduler runs a check. An entity's
# last_seen, system, sensu_agent_version and user are the state its agent (or, for a proxy
# entity, its events) report.
SERVER_METADATA = ("created_by",)
SERVER_FIELDS = {
    "checks": ("scheduler",),
    "entities": ("last_seen", "system", "sensu_agent_version", "user"),
}
# Agent entities register themselves (and carry the agent's labels, Calipso's among them): only
# their agent or its deregistration removes them.
AGENT_ENTITY_CLASS = "agent"
CONTINUE_HEADER = "Sensu-Continue"
LABEL_KEY = re.compile(r"\A[A-Za-z0-9_.\-/]+\Z")
USER_AGENT = "calipso-sensu-go-resources"
MASK = "********"


class SensuGoError(Exception):
    """Any failed request to the backend: the connection, the HTTP status, or the answer."""

    def __init__(self, message, method=None, path=None, status=None):
        super(SensuGoError, self).__init__(message)
        self.method = method
        self.path = path
        self.status = status


def resource_path(namespace, kind, name=None):
    path = "/api/core/v2/namespaces/%s/%s" % (quote(namespace, safe=""), kind)
    return path if name is None else "%s/%s" % (path, quote(name, safe=""))


def label_selector(key, value):
    """The labelSelector of the resources whose label key equals value."""
    if not LABEL_KEY.match(key or ""):
        raise ValueError("label %r may hold only letters, digits, '_', '.', '-' and '/'" % key)
    # Sensu's selector language quotes strings; it has no escapes to put these inside one.
    if not value or '"' in value or "\\" in value:
        raise ValueError("label value %r must be non-empty, without '\"' or '\\'" % value)
    return '%s == "%s"' % (key, value)


def has_label(body, key, value):
    labels = (body.get("metadata") or {}).get("labels") or {}
    return labels.get(key) == value


def prunable(kind, body, key, value):
    """Whether a resource the backend listed may be deleted as one of `key=value`'s: it carries
    that label (a backend that ignores labelSelector lists everything) and no agent owns it."""
    if not has_label(body, key, value):
        return False
    return not (kind == "entities" and body.get("entity_class") == AGENT_ENTITY_CLASS)


def unwrap(doc, namespace):
    """(kind, name, body) of a wrapped core/v2 document, the body as the API takes it, in
    namespace. ValueError says what makes doc something else."""
    if not isinstance(doc, dict):
        raise ValueError("not a wrapped Sensu Go resource (a JSON object)")
    unknown = sorted(set(doc) - WRAPPED_KEYS)
    if unknown:
        raise ValueError("not a wrapped Sensu Go resource: unexpected %s" % ", ".join(unknown))
    if doc.get("type") not in KIND_OF_TYPE:
        raise ValueError("type must be one of %s, not %r"
                         % (", ".join(sorted(KIND_OF_TYPE)), doc.get("type")))
    if doc.get("api_version") != API_VERSION:
        raise ValueError("api_version must be %s, not %r" % (API_VERSION, doc.get("api_version")))
    metadata, spec = doc.get("metadata"), doc.get("spec")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str) \
            or not metadata["name"]:
        raise ValueError("metadata must be an object with a name")
    if not isinstance(spec, dict):
        raise ValueError("spec must be an object")
    if "metadata" in spec:
        raise ValueError("spec must not hold metadata")
    if metadata.get("namespace", namespace) != namespace:
        raise ValueError("metadata.namespace is %r, not the namespace %r"
                         % (metadata["namespace"], namespace))
    body = dict(spec)
    body["metadata"] = dict(metadata, namespace=namespace)
    return KIND_OF_TYPE[doc["type"]], metadata["name"], body


def wrap(kind, body):
    """The wrapped document of an API body (the form sensuctl and Calipso's files use)."""
    spec = dict((key, value) for key, value in body.items() if key != "metadata")
    return {"type": TYPE_OF_KIND[kind], "api_version": API_VERSION,
            "metadata": body.get("metadata") or {}, "spec": spec}


def _is_zero(value):
    if value is None or value is False:
        return True
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value == 0
    return isinstance(value, (str, list, dict)) and not value


def _without_zero(value):
    # The backend is written in Go: an absent field, null, [], {}, "", 0 and false all read back
    # as the same zero value, and it serves them whichever way it pleases.
    if isinstance(value, dict):
        pruned = ((key, _without_zero(item)) for key, item in value.items())
        return dict((key, item) for key, item in pruned if not _is_zero(item))
    if isinstance(value, list):
        return [_without_zero(item) for item in value]
    return value


def comparable(kind, body):
    """An API body as far as the one who writes it decides it: without what the backend sets
    itself, and without zero values."""
    result = dict(body)
    metadata = dict(result.get("metadata") or {})
    for key in SERVER_METADATA:
        metadata.pop(key, None)
    result["metadata"] = metadata
    for key in SERVER_FIELDS.get(kind, ()):
        result.pop(key, None)
    if kind == "entities" and isinstance(result.get("subscriptions"), list):
        # The backend may give an entity its own "entity:<name>" subscription.
        own = "entity:%s" % metadata.get("name")
        result["subscriptions"] = [item for item in result["subscriptions"] if item != own]
    return _without_zero(result)


def differs(kind, current, desired):
    return comparable(kind, current) != comparable(kind, desired)


def _api_message(text):
    """The backend's own words from an error body: {"message": ..., "code": ...} or text."""
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("message"):
        message = str(parsed["message"])
        if parsed.get("code") is not None:
            message = "%s (code %s)" % (message, parsed["code"])
        return message
    return " ".join(text.split())[:300] or "no message"


class SensuGoClient:
    """The backend's core/v2 checks, entities, handlers and filters, one request each."""

    def __init__(self, url, username=None, password=None, api_key=None, validate_certs=True,
                 ca_path=None, timeout=30, page_size=500):
        if not re.match(r"\Ahttps?://[^/]", url or ""):
            raise ValueError("url must be the backend API's http:// or https:// URL, not %r" % url)
        if bool(api_key) == bool(username and password):
            raise ValueError("give either api_key or username and password")
        self.url = url.rstrip("/")
        self.username = username
        self._password = password
        self._api_key = api_key
        self._token = None
        self.page_size = page_size
        # open_url's own Request, made once: open_url builds a TLS context for every request,
        # reading the system's CA certificates each time (some 40 ms a request, minutes for a
        # site's thousands of resources).
        try:
            context = make_context(cafile=ca_path, validate_certs=validate_certs)
        except OSError as exc:  # an unreadable or malformed ca_path
            raise ValueError("cannot use the CA certificates in %s: %s" % (ca_path, exc))
        self._http = Request(
            timeout=timeout, http_agent=USER_AGENT, context=context,
            # No redirects (they would carry the credentials elsewhere), no ~/.netrc (it would
            # replace the Authorization header).
            follow_redirects="none", use_netrc=False)

    def list(self, namespace, kind, selector=None):
        """Every resource of kind in namespace (those selector names, if the backend filters),
        following the backend's pages."""
        query = {"limit": self.page_size}
        if selector:
            query["labelSelector"] = selector
        items = []
        while True:
            _status, body, headers = self._call("GET", resource_path(namespace, kind), query)
            if body is not None and not isinstance(body, list):
                raise SensuGoError("GET %s%s: expected a list, got %s"
                                   % (self.url, resource_path(namespace, kind),
                                      type(body).__name__),
                                   "GET", resource_path(namespace, kind))
            items.extend(body or [])
            token = headers.get(CONTINUE_HEADER)
            if not token:
                return items
            query["continue"] = token

    def get(self, namespace, kind, name):
        """The resource, or None when the backend has none of that name (404)."""
        status, body, _headers = self._call("GET", resource_path(namespace, kind, name),
                                            missing_ok=True)
        if status == 404:
            return None
        if not isinstance(body, dict):
            raise SensuGoError("GET %s%s: expected an object"
                               % (self.url, resource_path(namespace, kind, name)),
                               "GET", resource_path(namespace, kind, name), status)
        return body

    def put(self, namespace, kind, name, body):
        """Create or replace the resource (201 Created)."""
        self._call("PUT", resource_path(namespace, kind, name), body=body)

    def delete(self, namespace, kind, name):
        """Delete the resource; False when it was already gone (404)."""
        status, _body, _headers = self._call("DELETE", resource_path(namespace, kind, name),
                                             missing_ok=True)
        return status != 404

    def _call(self, method, path, query=None, body=None, missing_ok=False):
        logged_in_now = False
        if self._api_key is None and self._token is None:
            self._login()
            logged_in_now = True
        try:
            return self._send(method, path, query, body, missing_ok)
        except SensuGoError as exc:
            # An access token lives about 15 minutes: one new login, then the same request.
            if exc.status != 401 or self._api_key is not None or logged_in_now:
                raise
        self._login()
        return self._send(method, path, query, body, missing_ok)

    def _login(self):
        self._token = None
        _status, body, _headers = self._request("GET", "/auth", basic_auth=True)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise SensuGoError("GET %s/auth: the backend answered without an access_token"
                               % self.url,
                               "GET", "/auth", 200)
        self._token = token

    def _send(self, method, path, query, body, missing_ok):
        headers = {"Authorization": "Key %s" % self._api_key if self._api_key is not None
                   else "Bearer %s" % self._token}
        return self._request(method, path, query, body, headers=headers, missing_ok=missing_ok)

    def _request(self, method, path, query=None, body=None, headers=None, basic_auth=False,
                 missing_ok=False):
        url = self.url + path + ("?" + urlencode(query) if query else "")
        headers = dict(headers or {}, Accept="application/json")
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        where = "%s %s%s" % (method, self.url, path)
        try:
            response = self._http.open(
                method, url, data=data, headers=headers,
                url_username=self.username if basic_auth else None,
                url_password=self._password if basic_auth else None,
                force_basic_auth=basic_auth)
            status, text, response_headers = response.status, response.read(), response.headers
        except HTTPError as exc:
            status, response_headers = exc.code, exc.headers
            text = exc.read() if exc.fp is not None else b""
            if not (missing_ok and status == 404):
                raise SensuGoError("%s failed: HTTP %s%s: %s" % (
                    where, status, self._refused(status, basic_auth),
                    self._scrub(_api_message(text.decode("utf-8", "replace")))),
                    method, path, status)
        except (OSError, UrlsConnectionError, ValueError) as exc:
            # URLError (refused, unresolved), TLS failures and timeouts are all OSErrors.
            reason = getattr(exc, "reason", exc)
            raise SensuGoError("%s failed: cannot reach the Sensu Go API at %s: %s"
                               % (where, self.url, self._scrub(str(reason))), method, path)
        if status == 404 and missing_ok:
            return status, None, response_headers
        if not text.strip():
            return status, None, response_headers
        try:
            return status, json.loads(text.decode("utf-8")), response_headers
        except ValueError:
            raise SensuGoError("%s: HTTP %s with a body that is not JSON" % (where, status),
                               method, path, status) from None

    def _refused(self, status, basic_auth):
        if status != 401:
            return ""
        if basic_auth:
            return " (the username or password was refused)"
        return " (the API key was refused)" if self._api_key is not None else \
            " (the access token was refused)"

    def _scrub(self, message):
        # Whatever the backend or the network stack says, no credential goes into a message
        # (only their words are scrubbed: a short secret must not mangle the path).
        for secret in (self._password, self._api_key, self._token):
            if secret:
                message = message.replace(secret, MASK)
        return message
