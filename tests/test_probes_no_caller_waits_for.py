"""A half-open breaker is probed without making a caller wait for the probe.

A request that carries the probe races it against the next deployment from the
start and is served by whichever answers first; the probe's own result decides
the breaker. With no traffic, a background call probes. The cool-down is 1 s
for the first opening and the first failed probe, then doubles (up to 60 s).
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from router_config.wiring import Timing
from tests.conftest import ConfigFactory, Providers
from tests.failover_support import FakeClock, wait_for

HI = [{"role": "user", "content": "hi"}]
NO_IDLE_PROBES = "router_plugins:\n  breaker: {probe_when_idle: false}\n"


def chat(gateway: Any) -> httpx.Response:
    return httpx.post(
        f"{gateway.openai_base}/chat/completions",
        json={"model": "chat", "messages": HI},
        timeout=30,
    )


def primary(gateway: Any) -> dict[str, Any]:
    health = httpx.get(f"{gateway.base_url}/health/providers", timeout=5).json()
    return dict(health["deployments"]["openai-primary"])


def test_a_probe_into_a_still_hung_primary_costs_the_caller_nothing(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    gateway = serve(make_config(NO_IDLE_PROBES))
    providers.openai.set_mode("500")
    assert [chat(gateway).headers["x-router-provider"] for _ in range(2)] == ["anthropic"] * 2
    assert primary(gateway)["state"] == "open"
    providers.openai.set_mode("hang")
    time.sleep(1.1)  # the first cool-down is 1 s
    started = time.monotonic()
    response = chat(gateway)  # carries the probe
    waited = time.monotonic() - started
    assert response.headers["x-router-provider"] == "anthropic"
    assert waited < 1.9  # not the probe's own 2 s first-token limit
    # The probe goes on alone until its limit, then re-opens the breaker.
    assert wait_for(lambda: primary(gateway)["state"] == "open", seconds=5)
    assert providers.openai.stats()["requests"] == 3


def test_a_recovered_primary_is_probed_back_with_no_traffic_at_all(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    gateway = serve(make_config())
    providers.openai.set_mode("500")
    for _ in range(2):
        chat(gateway)
    assert primary(gateway)["state"] == "open"
    providers.openai.set_mode(None)
    assert wait_for(lambda: primary(gateway)["state"] == "closed", seconds=5)
    assert chat(gateway).headers["x-router-provider"] == "openai"


def test_the_cool_down_doubles_only_while_probes_keep_failing(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    clock = FakeClock()
    gateway = serve(make_config(NO_IDLE_PROBES), timing=Timing(now=clock))
    providers.openai.set_mode("500")
    for _ in range(2):
        chat(gateway)
    cooldowns = [primary(gateway)["open_for_s"]]
    for _ in range(3):
        clock.advance(cooldowns[-1] + 0.1)
        chat(gateway)  # the probe fails at once (500)
        assert wait_for(lambda: primary(gateway)["state"] == "open")
        cooldowns.append(primary(gateway)["open_for_s"])
    assert cooldowns == [1.0, 1.0, 2.0, 4.0]
    providers.openai.set_mode(None)
    clock.advance(4.1)
    chat(gateway)
    assert wait_for(lambda: primary(gateway)["state"] == "closed")
    providers.openai.set_mode("500")
    chat(gateway)
    chat(gateway)
    assert primary(gateway)["open_for_s"] == 1.0  # a new outage starts short again
