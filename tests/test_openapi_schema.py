"""Property-based run of schemathesis against our OpenAPI document, on a real server.

Bounded (a few dozen generated requests per operation and mode): no 5xx, every
status, header and body as documented, invalid input rejected with 4xx.
(schemathesis' pytest plugin does not support pytest 9 yet, so the operations
are driven through its Hypothesis strategies directly.)
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import ConfigFactory

EXAMPLES = 25


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=lambda m: m.value)
def test_every_operation_matches_the_schema(
    make_config: ConfigFactory, serve, mode: schemathesis.GenerationMode
) -> None:
    gateway = serve(make_config())
    schema = schemathesis.openapi.from_url(f"{gateway.base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 7
    if mode is schemathesis.GenerationMode.NEGATIVE:  # only inputs can be made invalid
        operations = [op for op in operations if len(op.query) or len(op.body)]
        # the bodies of chat, embeddings, completions, responses and messages; /admin/spend?period
        assert len(operations) == 7  # and count_tokens

    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            case.call_and_validate(timeout=15)

        check()
