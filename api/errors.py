"""Every error the API answers is an RFC 9457 problem (`application/problem+json`) with a stable
`code`, so clients branch on the code, never on wording; nothing else ever leaves as an error.

`Problem` is what the routes raise. The handlers registered by `install` turn Falcon's own
errors (no such route, method not allowed), store failures and anything unexpected into
problems too: an unexpected exception is logged here with its traceback and answered as a bare
500, so no traceback, query or path of the server reaches a client.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import falcon
from pymongo.errors import ConnectionFailure

from calipso_core.scans.errors import (
    EnvironmentBusy,
    EnvironmentUnavailable,
    InvalidRequest,
    ScanError,
    ScansPaused,
    UnknownEnvironment,
    UnknownFocalObject,
)
from calipso_core.store import StoreError

log = logging.getLogger(__name__)

PROBLEM_JSON: Final = "application/problem+json"
TYPE_PREFIX: Final = "urn:calipso:problem:"
"""Problem types are URNs: stable names that nobody is tempted to dereference."""

TITLES: Final = {
    "invalid_parameter": "Invalid query or path parameter",
    "invalid_body": "Invalid request body",
    "unsupported_media_type": "Unsupported media type",
    "payload_too_large": "Request body too large",
    "unauthorized": "Authentication required",
    "login_failed": "Login failed",
    "forbidden": "Not allowed",
    "not_found": "Not found",
    "method_not_allowed": "Method not allowed",
    "directory_unavailable": "Directory unavailable",
    "store_unavailable": "Inventory store unavailable",
    "bad_request": "Bad request",
    "internal_error": "Internal error",
    "scans_unavailable": "Scans unavailable",
    # calipso_core.scans.errors: each refusal of a scan or schedule keeps its own code.
    "invalid_request": "Invalid scan request",
    "unknown_hosts": "Unknown hosts",
    "invalid_schedule": "Invalid schedule",
    "unknown_environment": "Environment not configured for scans",
    "unknown_focal_object": "Unknown focal object",
    "environment_busy": "Environment busy",
    "scans_paused": "Scans paused",
    "environment_unavailable": "Environment unavailable",
}
"""The stable codes, each with its one title (the OpenAPI document lists the same codes)."""

# Falcon's own errors (routing, its request parsing) by status, as one of the codes above.
FALCON_CODES: Final = {400: "bad_request", 404: "not_found", 405: "method_not_allowed",
                       413: "payload_too_large", 415: "unsupported_media_type"}
# The header of a Falcon error worth keeping: Allow, on a 405.
KEPT_HEADERS: Final = ("Allow",)


class Problem(Exception):
    """An answer that is an error: raised by routes and middleware, rendered by `install`."""

    def __init__(self, status: int, code: str, detail: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        if code not in TITLES:
            raise ValueError(f"unknown problem code {code!r}")
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}


def invalid_parameter(detail: str) -> Problem:
    return Problem(400, "invalid_parameter", detail)


def invalid_body(detail: str) -> Problem:
    return Problem(400, "invalid_body", detail)


def not_found(detail: str) -> Problem:
    return Problem(404, "not_found", detail)


def unauthorized(detail: str) -> Problem:
    return Problem(401, "unauthorized", detail, {"WWW-Authenticate": "Bearer"})


def forbidden(detail: str) -> Problem:
    return Problem(403, "forbidden", detail)


def _render(resp: falcon.Response, status: int, code: str, detail: str,
            headers: dict[str, str] | None = None) -> None:
    resp.status = status
    resp.content_type = PROBLEM_JSON
    resp.media = {"type": TYPE_PREFIX + code, "title": TITLES[code], "status": status,
                  "code": code, "detail": detail}
    for name, value in (headers or {}).items():
        resp.set_header(name, value)


def _on_problem(req: falcon.Request, resp: falcon.Response, ex: Problem,
                params: dict[str, Any]) -> None:
    _render(resp, ex.status, ex.code, ex.detail, ex.headers)


def _on_falcon_error(req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError,
                     params: dict[str, Any]) -> None:
    status = ex.status_code
    code = FALCON_CODES.get(status, "bad_request" if status < 500 else "internal_error")
    # Falcon's descriptions are generic ("Invalid header value"): nothing of ours is in them.
    detail = ex.description or {404: "no route matches this path",
                                405: f"this route does not take {req.method}"}.get(
                                    status, TITLES[code])
    headers = {name: value for name, value in (ex.headers or {}).items() if name in KEPT_HEADERS}
    _render(resp, status, code, detail, headers)


def _on_store_error(req: falcon.Request, resp: falcon.Response, ex: Exception,
                    params: dict[str, Any]) -> None:
    # The store's message may name a file or a server; the client learns only that it is down.
    log.warning("%s %s: inventory store failed: %s", req.method, req.path, ex)
    _render(resp, 503, "store_unavailable", "the inventory store cannot be reached; retry later",
            {"Retry-After": "5"})


SCAN_STATUSES: Final = ((UnknownEnvironment, 404), (UnknownFocalObject, 404),
                        (InvalidRequest, 400), (EnvironmentBusy, 409), (ScansPaused, 409),
                        (EnvironmentUnavailable, 503))
"""The status of each refusal of calipso_core.scans, most specific class first (an unknown focal
object is an invalid request too, but answers 404); the code is the exception's own."""


def _on_scan_error(req: falcon.Request, resp: falcon.Response, ex: ScanError,
                   params: dict[str, Any]) -> None:
    status = next(status for kind, status in SCAN_STATUSES if isinstance(ex, kind))
    if status == 503:
        # Its message names the server's inventory file: for the log, not for the client.
        log.warning("%s %s: %s", req.method, req.path, ex)
        _render(resp, 503, ex.code, "the environment's Ansible inventory cannot be read; the"
                " server's log says why", {"Retry-After": "60"})
        return
    _render(resp, status, ex.code, str(ex))


def _on_unexpected(req: falcon.Request, resp: falcon.Response, ex: Exception,
                   params: dict[str, Any]) -> None:
    log.exception("%s %s failed", req.method, req.path)
    _render(resp, 500, "internal_error", "the request failed on the server; it has been logged")


def install(app: falcon.App) -> None:
    """Register the problem handlers. Falcon picks the handler of the most specific class, so
    the catch-all for Exception never shadows the others."""
    app.add_error_handler(Exception, _on_unexpected)
    app.add_error_handler(falcon.HTTPError, _on_falcon_error)
    app.add_error_handler(StoreError, _on_store_error)
    # A MongoDB server gone away (other driver errors are bugs, answered as internal errors).
    app.add_error_handler(ConnectionFailure, _on_store_error)
    for kind, _ in SCAN_STATUSES:
        app.add_error_handler(kind, _on_scan_error)
    app.add_error_handler(Problem, _on_problem)
