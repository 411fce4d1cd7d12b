"""The API's OpenAPI document (openapi.yaml, beside this module) as the server uses it: request
bodies are validated against the very schemas the document publishes, so that what it promises
clients about bodies is what the server enforces, and the code behind a route only ever sees a
body of the documented shape."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Final

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOCUMENT_PATH: Final = Path(__file__).with_name("openapi.yaml")
BASE: Final = "urn:calipso:openapi"
"""The document's URI as a schema resource: its "#/components/..." references resolve in it."""


@cache
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DOCUMENT_PATH.read_text(encoding="utf-8"))
    return loaded


@cache
def _registry() -> Registry:
    return Registry().with_resource(BASE, Resource.from_contents(
        document(), default_specification=DRAFT202012))


@cache
def validator(pointer: str) -> Draft202012Validator:
    """A validator (JSON Schema 2020-12, OpenAPI 3.1's dialect) for the schema at this JSON
    pointer of the document, e.g. "/components/schemas/LoginRequest"."""
    return Draft202012Validator({"$ref": f"{BASE}#{pointer}"}, registry=_registry())


def body_problem(body: Any, schema: str) -> str | None:
    """Why a body does not match the named schema of the document, or None."""
    error = best_match(validator(f"/components/schemas/{schema}").iter_errors(body))
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path) or "the body"
    return f"{where}: {error.message[:300]}"
