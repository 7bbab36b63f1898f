"""A healthy provider is judged by when it starts answering, never by how long the answer is.

Real answers take 10-20 s for 1,000 tokens and a long prompt takes seconds to a
first token. Each of these is served by the provider that was asked, with no
fallback, no breaker change and no alert: the fake provider streams at a real
pace (first token, then tokens a second) instead of answering at once.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ConfigFactory, Providers
from tests.failover_support import WebhookReceiver

HI = [{"role": "user", "content": "hi"}]
# A 3.3 s answer: 300 ms to the first token, then 150 tokens at 50 a second. The old limit,
# "the whole answer within 2 s" for a non-streaming call, cut this off.
SLOW_ANSWER = "latency:ttft=300,tps=50,tokens=150"


@pytest.fixture
def webhook() -> Any:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


def _alerting(url: str) -> str:
    return f"router_plugins:\n  alerts:\n    sinks: [{{type: webhook, url: {url}}}]\n"


def _states(gateway: Any) -> set[str]:
    health = httpx.get(f"{gateway.base_url}/health/providers", timeout=5).json()
    return {d["state"] for d in health["deployments"].values() if "state" in d}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_long_healthy_answer_is_served_by_the_primary_without_alarm(
    make_config: ConfigFactory,
    serve: Any,
    providers: Providers,
    webhook: WebhookReceiver,
    stream: bool,
) -> None:
    gateway = serve(make_config(_alerting(webhook.url)))
    providers.openai.set_mode(SLOW_ANSWER)
    with httpx.stream(
        "POST",
        f"{gateway.openai_base}/chat/completions",
        json={"model": "chat", "messages": HI, "stream": stream},
        timeout=30,
    ) as response:
        body = response.read().decode()
    assert response.status_code == 200
    assert response.headers["x-router-provider"] == "openai"
    assert response.headers["x-router-attempts"] == "1"
    assert body.count("w145") == 1  # the last of its 150 tokens arrived
    assert providers.anthropic.stats()["requests"] == 0  # no hedge, no fallback
    assert _states(gateway) == {"closed"}
    assert webhook.kinds(wait_s=0.5) == []


def test_a_single_deployment_waits_for_a_late_first_token_instead_of_failing(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    """Nothing comes after it, so it is not cut at the first-token limit (2 s by default):
    there is nowhere to go, and a late answer beats a 503."""
    providers.openai.set_mode("latency:ttft=2500,tokens=3")
    response = httpx.post(
        f"{serve(make_config()).openai_base}/chat/completions",
        json={"model": "openai-only", "messages": HI, "stream": True},
        timeout=30,
    )
    assert response.status_code == 200
    assert "data: [DONE]" in response.text


def test_a_long_prompt_gets_its_prefill_time_before_anything_is_judged_late(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    """About 16,000 prompt tokens at 150 ms per 1,000 is 2.4 s to a first token: past the
    default 1 s hedge point and 2 s limit, but not past those grown by the default prefill
    allowance (0.25 s per 1,000 tokens)."""
    providers.openai.set_mode("latency:prefill=150,tokens=3")
    long = [{"role": "user", "content": "context " * 8000}]
    response = httpx.post(
        f"{serve(make_config()).openai_base}/chat/completions",
        json={"model": "chat", "messages": long},
        timeout=30,
    )
    assert response.status_code == 200
    assert response.headers["x-router-provider"] == "openai"
    assert providers.anthropic.stats()["requests"] == 0
