"""Every response the API tests see is checked against api/openapi.yaml: the status is documented
for the operation, the content type is one the response documents (or none when it documents no
body), required headers are there, and the body validates against the schema (JSON Schema
2020-12, OpenAPI 3.1's dialect, with the document's own $refs, as `calipso_api.document` loads
it). A request outside the document (no such path or method) must still be answered with a
problem.

The test client of tests/api/conftest.py calls `check_response` on each response, so the document
cannot drift from what the API does without a test failing."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any

from calipso_api.document import document, validator

# Path parameters that are ids may hold "/" (VPP interface names), as the document says.
GREEDY_PARAMETERS = {"object_id", "link_id", "clique_id"}


def _pointer(*parts: str) -> str:
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


@functools.cache
def _template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)  # literal, name, literal, name ... literal
    return re.compile("".join(
        re.escape(part) if index % 2 == 0
        else f"(?P<{part}>{'.+' if part in GREEDY_PARAMETERS else '[^/]+'})"
        for index, part in enumerate(parts)))


def find_template(path: str) -> str | None:
    """The documented path template a concrete path is an instance of: of several, the most
    literal one (`/objects/{id}/status` before `/objects/{id}`)."""
    matches = [t for t in document()["paths"] if _template_pattern(t).fullmatch(path)]
    return max(matches, key=lambda t: len(re.sub(r"\{\w+\}", "", t)), default=None)


def _resolve(node: Mapping[str, Any], pointer: str) -> tuple[Mapping[str, Any], str]:
    """A document node behind its $ref (local refs only), with its pointer."""
    while "$ref" in node:
        pointer = node["$ref"].removeprefix("#")
        node = document()
        for part in pointer.strip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node, pointer


def validate_body(body: Any, schema_pointer: str) -> None:
    """Validate against the schema at this pointer of the document (AssertionError if not)."""
    errors = sorted(validator(schema_pointer).iter_errors(body),
                    key=lambda e: list(e.absolute_path))
    assert not errors, "response body does not match the document:\n" + "\n".join(
        f"  at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:300]}"
        for e in errors[:5])


def check_response(method: str, path: str, status: int, headers: Mapping[str, str],
                   content: bytes) -> None:
    """Assert that a response conforms to the document (see the module doc)."""
    media_type = (headers.get("content-type") or "").partition(";")[0].strip()
    template = find_template(path)
    operation = document()["paths"].get(template, {}).get(method.lower()) if template else None
    if operation is None:
        assert media_type == "application/problem+json", \
            f"{method} {path}: undocumented request answered {status} {media_type}"
        validate_body(json.loads(content), _pointer("components", "schemas", "Problem"))
        return
    where = f"{method} {template}"
    assert str(status) in operation["responses"], f"{where}: status {status} is not documented"
    response, pointer = _resolve(operation["responses"][str(status)],
                                 _pointer("paths", template, method.lower(), "responses",
                                          str(status)))
    for name in response.get("headers", {}):
        assert name.lower() in {h.lower() for h in headers}, f"{where} {status}: no {name}"
    documented = response.get("content", {})
    if not documented:
        assert not content, f"{where} {status}: a body where the document has none"
        return
    assert media_type in documented, \
        f"{where} {status}: content type {media_type!r}, documented {sorted(documented)}"
    validate_body(json.loads(content), pointer + _pointer("content", media_type, "schema"))
