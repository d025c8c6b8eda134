"""Schemathesis against pgcube's own OpenAPI document (RELIABILITY F6, F7): for every
operation, generated requests — valid ones and ones that break the schema — from an
authenticated account never get a server error, and every answer conforms to the
documented schema (status, content type, headers, body).

The number of examples per operation is bounded (``PGCUBE_FUZZ_EXAMPLES``, default
8) so that the suite stays fast; raise it for a longer hunt.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.hardening.conftest import create_database
from tests.support.accounts import Account
from tests.support.live import LiveServer

EXAMPLES = int(os.environ.get("PGCUBE_FUZZ_EXAMPLES", "8"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Operations that end the session or the account's state for the rest of the run.
SKIPPED = {"logout", "passwordResetConfirm"}


def operations(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (operation["operationId"], method.upper(), path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if operation.get("operationId") not in SKIPPED
    ]


@pytest.fixture(scope="module")
def document(live_server: LiveServer) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(live_server.url + "/schema/openapi.json", timeout=30).json()
    return document


def test_no_server_error_and_answers_conform(
    live_server: LiveServer, client: httpx.Client, account: Account, document: dict[str, Any]
) -> None:
    database_id = create_database(client, account)
    schema = schemathesis.openapi.from_dict(document)
    headers = {**account.headers}
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.definition.raw.get("operationId") in SKIPPED:
            continue
        # Valid requests and invalid ones (wrong types, missing fields, extra fields).
        strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
            GenerationMode.NEGATIVE
        )

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case: Any) -> None:
            # Half the time a real database of the account, so that the op reaches the data layer.
            if case.path_parameters and "database_id" in case.path_parameters and len(str(case.body)) % 2:
                case.path_parameters["database_id"] = database_id
            case.call_and_validate(base_url=live_server.url, headers=headers, checks=CHECKS)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failures, report them all
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
