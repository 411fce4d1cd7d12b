"""Request bodies read defensively: JSON only, bounded in size, an object at the top, of the
shape the OpenAPI document gives it.

The API parses bodies itself instead of through Falcon's media handlers so that each way a body
can be wrong has its own status and code: 415 `unsupported_media_type`, 413
`payload_too_large`, 400 `invalid_body` (not UTF-8 JSON, nested too deep, not an object, not
the documented shape).
"""

from __future__ import annotations

import json
from typing import Any

import falcon

from calipso_api.document import body_problem
from calipso_api.errors import Problem, invalid_body


def _too_large(limit: int) -> Problem:
    return Problem(413, "payload_too_large", f"the request body exceeds {limit} bytes")


def json_object(req: falcon.Request, limit: int) -> dict[str, Any]:
    """The request's body as a JSON object, at most `limit` bytes."""
    media_type = (req.content_type or "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise Problem(415, "unsupported_media_type", "the request body must be application/json")
    if req.content_length is not None and req.content_length > limit:
        raise _too_large(limit)
    # A body sent without a length (chunked) is read one byte past the limit to catch it too.
    data = req.bounded_stream.read(limit + 1)
    if len(data) > limit:
        raise _too_large(limit)
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python's stack
        raise invalid_body("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise invalid_body("the request body must be a JSON object")
    return body


def documented_body(req: falcon.Request, limit: int, schema: str) -> dict[str, Any]:
    """The request's JSON object body, which must match the document's schema of that name."""
    body = json_object(req, limit)
    problem = body_problem(body, schema)
    if problem:
        raise invalid_body(problem)
    return body
