"""schemathesis against the cloud's own OpenAPI document, over a real socket: for every
operation, generated requests (path ids pinned to the caller's own car, household, drive… so the
deep paths are reached) never get a 5xx, and every response matches the document — its status
code is declared, its body fits the declared schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.cloud.server import running_cloud
from tests.cloud.test_tenant_isolation import log_in, make_tenant

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_every_operation_keeps_its_contract(db_url: str, tmp_path: Path) -> None:
    examples = 12 if "sqlite" in db_url else 4
    with running_cloud(db_url, tmp_path) as cloud:
        owner = make_tenant(cloud, "owner@example.com", "CAR-OWN-0001", "kid@example.com")
        document: dict[str, Any] = cloud.client().get("/openapi.json").json()
        schema = schemathesis.openapi.from_dict(document)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 5
        failures: list[str] = []
        profile: dict[str, Any] = {
            "max_examples": examples,
            "deadline": None,
            "derandomize": True,
            "database": None,
            "suppress_health_check": list(HealthCheck),
        }

        calls: list[int] = []

        def call_and_check(case: schemathesis.Case) -> None:
            calls.append(1)
            headers = {"Authorization": f"Bearer {log_in(cloud, owner.email)}"}
            response = case.call(base_url=cloud.base_url, headers=headers)
            case.validate_response(response, checks=CHECKS)

        for operation in operations:
            pinned = {
                name: owner.ids[name]
                for name in (p.name for p in operation.path_parameters)
                if name in owner.ids
            }
            strategy = operation.as_strategy(path_parameters=pinned or None)

            def run(case: schemathesis.Case) -> None:
                call_and_check(case)

            exercise = settings(**profile)(given(case=strategy)(run))

            try:
                exercise()
            except Exception as exc:  # collected, so one run reports every broken operation
                failures.append(f"{operation.label}: {str(exc)[:1500]}")
        if failures:
            pytest.fail("\n\n".join(failures))
        assert len(calls) >= 2 * len(operations)
