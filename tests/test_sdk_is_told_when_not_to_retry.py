"""When every provider is known down for longer than a retry could wait, the openai SDK is
told not to retry (``x-should-retry: false``) and given an honest Retry-After.

The openai SDKs obey ``x-should-retry`` before their own rules; without it their
default two retries, each waiting out our Retry-After, kept the caller 11 s.
"""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.conftest import ConfigFactory, Providers

HI = [{"role": "user", "content": "hi"}]
LONG_COOLDOWN = "router_plugins:\n  breaker: {cooldown_s: 30, probe_when_idle: false}\n"


def open_every_breaker(gateway: Any, providers: Providers) -> None:
    for fake in (providers.openai, providers.anthropic, providers.local):
        fake.set_mode("500")
    for _ in range(2):
        httpx.post(
            f"{gateway.openai_base}/chat/completions",
            json={"model": "chat", "messages": HI},
            timeout=10,
        )


def gateway_requests(gateway: Any) -> float:
    page = httpx.get(f"{gateway.base_url}/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in page.splitlines()
        if line.startswith("llm_router_requests_total{")
    )


def test_a_long_outage_is_refused_once_and_the_sdk_does_not_retry(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    gateway = serve(make_config(LONG_COOLDOWN))
    open_every_breaker(gateway, providers)
    response = httpx.post(
        f"{gateway.openai_base}/chat/completions",
        json={"model": "chat", "messages": HI},
        timeout=10,
    )
    assert response.status_code == 503
    assert response.headers["x-should-retry"] == "false"
    assert 25 <= int(response.headers["retry-after"]) <= 30  # until the first probe
    before = gateway_requests(gateway)
    with (
        openai.OpenAI(base_url=gateway.openai_base, api_key="x") as client,  # 2 retries
        pytest.raises(openai.InternalServerError),
    ):
        client.chat.completions.create(model="chat", messages=HI)  # type: ignore[arg-type]
    assert gateway_requests(gateway) == before + 1  # asked once, not three times


def test_a_fresh_outage_that_may_end_in_a_second_lets_the_sdk_retry(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    gateway = serve(make_config("router_plugins:\n  breaker: {probe_when_idle: false}\n"))
    open_every_breaker(gateway, providers)
    response = httpx.post(
        f"{gateway.openai_base}/chat/completions",
        json={"model": "chat", "messages": HI},
        timeout=10,
    )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.headers["x-should-retry"] == "true"
