"""Property-based run over api/openapi.yaml (schemathesis, in process against the WSGI app): for
every operation, generated requests (valid ones, and invalid ones in negative mode) never get a
server error, and every answer conforms to the document: documented status, content type and
body; invalid input is refused with a 4xx.

Requests carry an admin's token (so that even the admin-only edits are exercised), except the
negative cases of the Authorization header itself, which send the malformed header generated;
they name the "lab" environment, so that they reach the inventory instead of stopping at a 404;
the other path parameters and all query strings and bodies are generated."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from calipso_api.app import create_app
from calipso_api.document import DOCUMENT_PATH
from calipso_api.security import Principal
from tests.api.conftest import LAB, USERS

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, negative_data_rejection]


@pytest.fixture
def app(store, authenticator, tokens, scans, schedules):
    # scans: the fake discovery of tests/api/conftest.py, so that no request runs Ansible.
    return create_app(store, authenticator, tokens, None, scans, schedules)


@pytest.fixture
def admin_header(tokens):
    return {"Authorization": f"Bearer {tokens.issue(Principal('admin', USERS['admin'][1])).token}"}


# One test per operation; each calls the app of its own fixtures (a store of its own) in process.
schema = schemathesis.openapi.from_path(DOCUMENT_PATH)


@schema.parametrize()
# derandomize: the same examples every run, so CI is repeatable; a wider random search is a
# manual run without it.
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_the_api_keeps_to_its_document(case, app, admin_header):
    if "environment" in (case.path_parameters or {}):
        case.path_parameters["environment"] = LAB
    headers = case.meta.components.get(ParameterLocation.HEADER) if case.meta else None
    # The only header parameter is the bearer scheme's Authorization: a case that malforms it
    # must keep it (replaced by the admin's valid token, it was answered 200 and failed
    # negative_data_rejection).
    bad_token = headers is not None and headers.mode is GenerationMode.NEGATIVE
    response = case.call(app=app, headers=None if bad_token else admin_header)
    case.validate_response(response, checks=CHECKS)
