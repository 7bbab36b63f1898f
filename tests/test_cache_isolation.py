"""The cache never carries one tenant's answer to another, unless ``scope: global`` says so,
and a hit is charged to the caller's team as ``charge_hits`` says, logged either way."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ConfigFactory, Providers

MASTER = "sk-master-cache-iso-5a1f"
ALPHA, ALPHA_2, BETA = "sk-alpha-cache-0001", "sk-alpha-cache-0002", "sk-beta-cache-0003"
HI = [{"role": "user", "content": "what did the other team ask?"}]


def keys(scope: str = "team", charge: str = "original") -> str:
    return (
        "general_settings:\n  master_key: os.environ/MASTER\n"
        "router_plugins:\n"
        f"  cache:\n    scope: {scope}\n    charge_hits: {charge}\n"
        "  client_keys:\n"
        "    - {key: os.environ/ALPHA, team: alpha, alias: alpha-app}\n"
        "    - {key: os.environ/ALPHA_2, team: alpha, alias: alpha-batch}\n"
        "    - {key: os.environ/BETA, team: beta, alias: beta-app}\n"
    )


def gateway_for(make_config: ConfigFactory, serve: Any, extra: str, redis_url: str) -> Any:
    config = make_config(
        extra + f"router_settings:\n  redis_url: {redis_url}\n",
        MASTER=MASTER,
        ALPHA=ALPHA,
        ALPHA_2=ALPHA_2,
        BETA=BETA,
    )
    return serve(config)


def ask(gateway: Any, key: str, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{gateway.openai_base}/chat/completions",
        headers={"authorization": f"Bearer {key}", **headers},
        json={"model": "chat", "messages": HI, "temperature": 0},
        timeout=10,
    )


def spend(gateway: Any) -> dict[str, Any]:
    response = httpx.get(
        f"{gateway.base_url}/admin/spend?period=day",
        headers={"authorization": f"Bearer {MASTER}"},
        timeout=10,
    )
    report: dict[str, Any] = response.json()
    return report


@pytest.fixture
def log_lines(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The gateway's JSON log events, as records with their ``fields``."""
    logger = logging.getLogger("llm_router")
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


def logged(caplog: pytest.LogCaptureFixture, event: str) -> list[dict[str, Any]]:
    fields = [getattr(r, "fields", None) for r in caplog.records]
    return [f for f in fields if isinstance(f, dict) and f.get("event") == event]


def test_another_team_never_gets_a_teams_cached_answer(
    make_config: ConfigFactory, serve, providers: Providers, redis_url: str
) -> None:
    gateway = gateway_for(make_config, serve, keys(), redis_url)
    alpha = ask(gateway, ALPHA)
    beta = ask(gateway, BETA)
    assert (alpha.headers["x-router-cache"], beta.headers["x-router-cache"]) == ("miss", "miss")
    assert beta.json()["id"] != alpha.json()["id"]
    assert providers.openai.stats()["requests"] == 2  # beta's request went to the provider

    again = ask(gateway, ALPHA_2)  # the same team, another key: shares the team's entry
    assert again.headers["x-router-cache"] == "hit"
    assert again.json()["id"] == alpha.json()["id"]
    beta_again = ask(gateway, BETA)
    assert beta_again.json()["id"] == beta.json()["id"]  # beta's own entry, never alpha's


def test_scope_key_keeps_even_a_teams_keys_apart(
    make_config: ConfigFactory, serve, providers: Providers, redis_url: str
) -> None:
    gateway = gateway_for(make_config, serve, keys("key"), redis_url)
    first = ask(gateway, ALPHA)
    other_key = ask(gateway, ALPHA_2)
    assert other_key.headers["x-router-cache"] == "miss"
    assert other_key.json()["id"] != first.json()["id"]
    assert ask(gateway, ALPHA).headers["x-router-cache"] == "hit"


def test_scope_global_shares_answers_between_every_caller(
    make_config: ConfigFactory, serve, providers: Providers, redis_url: str
) -> None:
    gateway = gateway_for(make_config, serve, keys("global"), redis_url)
    alpha = ask(gateway, ALPHA)
    beta = ask(gateway, BETA)
    assert beta.headers["x-router-cache"] == "hit"
    assert beta.json()["id"] == alpha.json()["id"]


def test_a_stale_copy_is_never_served_to_another_team(
    make_config: ConfigFactory, serve, providers: Providers, redis_url: str
) -> None:
    gateway = gateway_for(make_config, serve, keys(), redis_url)
    ask(gateway, ALPHA)
    for fake in (providers.openai, providers.anthropic, providers.local):
        fake.set_mode("500")
    beta = ask(gateway, BETA)  # every provider fails: only beta's own copy could answer
    assert beta.status_code == 503
    assert beta.headers.get("x-router-cache") != "stale"
    assert ask(gateway, ALPHA).headers["x-router-cache"] == "hit"


def test_a_hit_is_charged_the_original_cost_to_the_callers_team_and_logged(
    make_config: ConfigFactory,
    serve,
    providers: Providers,
    redis_url: str,
    log_lines: pytest.LogCaptureFixture,
) -> None:
    gateway = gateway_for(make_config, serve, keys(), redis_url)
    first = ask(gateway, ALPHA)
    cost = float(first.headers["x-router-cost-usd"])
    assert cost > 0
    hit = ask(gateway, ALPHA_2)
    assert hit.headers["x-router-cache"] == "hit"
    assert float(hit.headers["x-router-cost-usd"]) == pytest.approx(cost, abs=1e-9)
    report = spend(gateway)
    assert report["teams"]["alpha"] == pytest.approx(2 * cost, abs=1e-9)
    assert report["providers"]["openai"] == pytest.approx(cost, abs=1e-9)  # billed once
    (line,) = logged(log_lines, "cache_hit")
    assert line["team"] == "alpha" and line["key_alias"] == "alpha-batch"
    assert line["charge"] == "original" and line["charged_usd"] == pytest.approx(cost)
    assert line["original_cost_usd"] == pytest.approx(cost)


def test_with_charge_hits_zero_a_hit_costs_nothing_and_is_still_logged(
    make_config: ConfigFactory,
    serve,
    providers: Providers,
    redis_url: str,
    log_lines: pytest.LogCaptureFixture,
) -> None:
    gateway = gateway_for(make_config, serve, keys(charge="zero"), redis_url)
    cost = float(ask(gateway, ALPHA).headers["x-router-cost-usd"])
    hit = ask(gateway, ALPHA)
    assert float(hit.headers["x-router-cost-usd"]) == 0
    assert spend(gateway)["teams"]["alpha"] == pytest.approx(cost, abs=1e-9)
    (line,) = logged(log_lines, "cache_hit")
    assert line["charge"] == "zero" and line["charged_usd"] == 0
    assert line["original_cost_usd"] == pytest.approx(cost)
