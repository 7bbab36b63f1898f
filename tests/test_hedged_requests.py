"""A late deployment is raced by the next one: the first token wins, the other is cancelled.

The hedge point is the deployment's learned p99 time to first token (1 s before
anything is learned); a token bucket per deployment bounds the extra calls.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import ConfigFactory, Providers
from tests.failover_support import wait_for

HI = [{"role": "user", "content": "hi"}]


def chat(gateway: Any, **body: Any) -> httpx.Response:
    return httpx.post(
        f"{gateway.openai_base}/chat/completions",
        json={"model": "chat", "messages": HI, **body},
        timeout=30,
    )


def metric(gateway: Any, name: str, **labels: str) -> float:
    """The sum of a counter's samples whose labels include ``labels``."""
    total = 0.0
    for line in httpx.get(f"{gateway.base_url}/metrics", timeout=5).text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def states(gateway: Any) -> dict[str, str]:
    health = httpx.get(f"{gateway.base_url}/health/providers", timeout=5).json()
    return {dep: d.get("state", "closed") for dep, d in health["deployments"].items()}


def test_a_late_primary_is_raced_and_the_first_token_wins(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    gateway = serve(make_config())
    providers.openai.set_mode("latency:ttft=5000,tokens=3")  # still silent at the 1 s hedge
    response = chat(gateway)
    assert response.status_code == 200
    assert response.headers["x-router-provider"] == "anthropic"
    assert response.headers["x-router-attempts"] == "2"
    assert metric(gateway, "llm_router_hedges_total", result="won") == 1
    # The late call goes on alone until its own first-token limit (2 s before anything is
    # learned): a lost race says nothing about health, a time-out does.
    assert wait_for(lambda: metric(gateway, "llm_router_attempts_total", reason="timeout") == 1)
    assert states(gateway)["openai-primary"] == "closed"  # one time-out is no outage


def test_a_hedge_the_fallback_loses_is_cancelled_and_counts_against_nobody(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    gateway = serve(make_config())
    providers.openai.set_mode("latency:ttft=1300,tokens=3")  # late, but first
    providers.anthropic.set_mode("latency:ttft=4000,tokens=3")
    response = chat(gateway)
    assert response.headers["x-router-provider"] == "openai"
    assert providers.anthropic.stats()["requests"] == 1  # it was started...
    assert metric(gateway, "llm_router_hedges_total", result="hedge_lost") == 1  # ...and lost
    assert set(states(gateway).values()) == {"closed"}


def test_without_hedge_budget_a_late_primary_is_waited_for(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    gateway = serve(make_config("router_plugins:\n  failover: {hedge_burst: 0}\n"))
    providers.openai.set_mode("latency:ttft=1500,tokens=3")  # past the hedge point, in time
    response = chat(gateway)
    assert response.headers["x-router-provider"] == "openai"
    assert providers.anthropic.stats()["requests"] == 0


def test_a_hung_primary_opens_its_breaker_while_hedges_serve_every_caller(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    """Its late calls go on alone and time out at its own limit: two open the breaker."""
    gateway = serve(make_config("router_plugins:\n  failover: {hedge_after_s: 0.2}\n"))
    providers.openai.set_mode("hang")
    served = [chat(gateway).headers["x-router-provider"] for _ in range(2)]
    assert served == ["anthropic"] * 2
    assert wait_for(lambda: states(gateway)["openai-primary"] == "open")
    before = providers.openai.stats()["requests"]
    assert chat(gateway).headers["x-router-provider"] == "anthropic"
    assert providers.openai.stats()["requests"] == before  # skipped, not raced again


def test_hedging_can_be_turned_off(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    gateway = serve(make_config("router_plugins:\n  failover: {hedge: false}\n"))
    providers.openai.set_mode("latency:ttft=1500,tokens=3")
    assert chat(gateway).headers["x-router-provider"] == "openai"
    assert providers.anthropic.stats()["requests"] == 0
