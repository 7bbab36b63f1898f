"""The drill measures what callers see during a fault and judges it against the targets."""

from __future__ import annotations

from router_config.cli.drill import _run, table
from router_config.cli.drill_scenarios import Scenario
from router_config.testing import FakeProviderServer


def test_drill_scenario_with_a_failing_primary_passes_and_counts_the_alert() -> None:
    with FakeProviderServer("500") as p, FakeProviderServer() as f, FakeProviderServer() as loc:
        outcome = _run(Scenario("primary returns 500", primary="500", requests=4), p, f, loc)
    assert outcome.ok == 4 and outcome.failed == 0
    assert outcome.served_by == {"anthropic": 4}
    assert outcome.first_failover_ms is not None
    assert outcome.alerts == 1 and outcome.passed
    assert "| primary returns 500 | 4 | 4 | 0 | 0 | anthropic 4 |" in table([outcome])


def test_drill_fails_a_scenario_where_requests_failed_despite_a_healthy_fallback() -> None:
    with (
        FakeProviderServer("500") as p,
        FakeProviderServer("500") as f,
        FakeProviderServer("500") as loc,
    ):
        outcome = _run(Scenario("all down but claimed healthy", requests=2), p, f, loc)
    assert outcome.failed == 2
    assert not outcome.passed
