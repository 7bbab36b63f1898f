"""The breaker opens after repeated failures, skips the deployment at once, lets one
half-open probe through after the cool-down, and closes when the provider recovers;
gateways sharing Redis share its state, and each transition alerts exactly once."""

from __future__ import annotations

import httpx
import pytest

from router_config.wiring import Timing
from tests.conftest import ConfigFactory, Providers
from tests.failover_support import FAST_FAILOVER, FakeClock, WebhookReceiver, wait_for

HI = [{"role": "user", "content": "hi"}]


def chat(gateway) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.post(
        f"{gateway.openai_base}/chat/completions",
        timeout=10,
        json={"model": "chat", "messages": HI},
    )


def providers_health(gateway) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return httpx.get(f"{gateway.base_url}/health/providers").json()["deployments"]


@pytest.fixture
def webhook():  # type: ignore[no-untyped-def]
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


def alerting(url: str) -> str:
    return FAST_FAILOVER + f"  alerts:\n    sinks:\n      - type: webhook\n        url: {url}\n"


def test_breaker_opens_skips_half_opens_and_closes(
    make_config: ConfigFactory, serve, providers: Providers, webhook: WebhookReceiver
) -> None:
    now = FakeClock()
    providers.openai.set_mode("500")
    gateway = serve(make_config(alerting(webhook.url)), timing=Timing(now=now))
    assert [chat(gateway).headers["x-router-attempts"] for _ in range(2)] == ["2", "2"]
    assert providers_health(gateway)["openai-primary"]["state"] == "open"

    skipped = chat(gateway)  # open: the primary is not called at all
    assert skipped.headers["x-router-attempts"] == "1"
    assert skipped.headers["x-router-provider"] == "anthropic"
    assert providers.openai.stats()["requests"] == 2

    providers.openai.set_mode(None)
    now.advance(31)  # past the cool-down: the next request carries the half-open probe
    chat(gateway)  # raced against the fallback: either may serve it; the probe closes
    assert wait_for(lambda: providers_health(gateway)["openai-primary"]["state"] == "closed")
    assert chat(gateway).headers["x-router-provider"] == "openai"
    health = providers_health(gateway)["openai-primary"]
    assert health["state"] == "closed" and health["last_error"].startswith("server_error")
    assert webhook.kinds(expect=2) == ["breaker_open", "breaker_closed"]


def test_a_failed_half_open_probe_reopens_the_breaker(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    now = FakeClock()
    providers.openai.set_mode("503")
    # No idle probe: this test is about the probe a request carries, not a background one.
    no_idle = FAST_FAILOVER.replace("  breaker:\n", "  breaker:\n    probe_when_idle: false\n")
    gateway = serve(make_config(no_idle), timing=Timing(now=now))
    chat(gateway), chat(gateway)
    now.advance(31)
    assert chat(gateway).headers["x-router-attempts"] == "2"  # probe tried, failed
    assert providers_health(gateway)["openai-primary"]["state"] == "open"
    assert chat(gateway).headers["x-router-attempts"] == "1"


def test_two_gateways_sharing_redis_share_breaker_state_and_alert_once(
    make_config: ConfigFactory,
    serve,
    providers: Providers,
    redis_url: str,
    webhook: WebhookReceiver,
) -> None:
    shared = alerting(webhook.url) + f"router_settings:\n  redis_url: {redis_url}\n"
    first = serve(make_config(shared))
    second = serve(make_config(shared))
    providers.openai.set_mode("500")
    chat(first), chat(first)
    # Replica two reads breakers from a view refreshed in the background (no round trip per
    # request): it sees the opening within a quarter of a second.
    assert wait_for(lambda: providers_health(second)["openai-primary"]["state"] == "open", 2)
    calls_before = providers.openai.stats()["requests"]
    response = chat(second)
    assert response.headers["x-router-provider"] == "anthropic"
    assert providers.openai.stats()["requests"] == calls_before  # skipped on replica two
    chat(second), chat(first)
    assert webhook.kinds(expect=1) == ["breaker_open"]


def test_rate_limit_with_retry_after_opens_the_breaker_for_that_long(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    now = FakeClock()
    providers.openai.set_mode("429:120")
    gateway = serve(make_config(FAST_FAILOVER), timing=Timing(now=now))
    assert chat(gateway).headers["x-router-provider"] == "anthropic"
    assert providers_health(gateway)["openai-primary"]["open_for_s"] == 120
    now.advance(60)
    assert chat(gateway).headers["x-router-attempts"] == "1"


def test_all_providers_down_retry_after_is_the_earliest_half_open_time(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    now = FakeClock()
    for fake in (providers.openai, providers.anthropic, providers.local):
        fake.set_mode("500")
    gateway = serve(make_config(FAST_FAILOVER), timing=Timing(now=now))
    chat(gateway), chat(gateway)
    now.advance(12)
    response = chat(gateway)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "18"
