"""A request the caller got wrong is the caller's error: it never counts against a provider.

It never advances a breaker, never alerts, never fails over, and other tenants
never notice: a body nested too deep to encode (LiteLLM raises RecursionError
before anything is sent), and a caller's own deadline below the provider's
latency (``x-router-timeout-ms``, answered 504).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ConfigFactory, Providers
from tests.failover_support import WebhookReceiver

HI = [{"role": "user", "content": "hi"}]
DEEP = "[" * 1000 + '"x"' + "]" * 1000  # written out: json.dumps itself stops near 1,000


@pytest.fixture
def webhook() -> Any:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


def config(make_config: ConfigFactory, webhook: WebhookReceiver) -> Any:
    return make_config(
        f"router_plugins:\n  alerts:\n    sinks: [{{type: webhook, url: {webhook.url}}}]\n"
    )


def states(gateway: Any) -> set[str]:
    health = httpx.get(f"{gateway.base_url}/health/providers", timeout=5).json()
    return {d.get("state", "closed") for d in health["deployments"].values()}


@pytest.mark.parametrize("group", ["chat", "anthropic-only", "openai-only"])
def test_a_body_too_deep_to_encode_is_the_callers_400_and_moves_nothing(
    make_config: ConfigFactory,
    serve: Any,
    providers: Providers,
    webhook: WebhookReceiver,
    group: str,
) -> None:
    gateway = serve(config(make_config, webhook))
    body = (
        '{"model": "'
        + group
        + '", "messages": [{"role": "user", "content": "hi", "x": '
        + DEEP
        + "}]}"
    )
    for _ in range(3):  # two provider failures would open a breaker
        response = httpx.post(
            f"{gateway.openai_base}/chat/completions",
            content=body,
            headers={"content-type": "application/json"},
            timeout=10,
        )
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error" and error["code"] == "invalid_request"
        assert "Traceback" not in error["message"] and "nested too deeply" in error["message"]
    assert states(gateway) == {"closed"}
    assert webhook.kinds(wait_s=0.3) == []
    assert providers.anthropic.stats()["requests"] == 0  # never failed over
    ok = httpx.post(
        f"{gateway.openai_base}/chat/completions",
        json={"model": "chat", "messages": HI},
        timeout=10,
    )
    assert ok.headers["x-router-provider"] == "openai"  # another tenant, unaffected


def test_a_callers_deadline_below_the_providers_latency_is_its_504_and_moves_nothing(
    make_config: ConfigFactory, serve: Any, providers: Providers, webhook: WebhookReceiver
) -> None:
    gateway = serve(config(make_config, webhook))
    providers.openai.set_mode("latency:ttft=300,tokens=3")
    for _ in range(3):
        response = httpx.post(
            f"{gateway.openai_base}/chat/completions",
            json={"model": "chat", "messages": HI},
            headers={"x-router-timeout-ms": "100"},
            timeout=10,
        )
        assert response.status_code == 504
        assert response.json()["error"]["code"] == "deadline_exceeded"
    assert states(gateway) == {"closed"}
    assert webhook.kinds(wait_s=0.3) == []
    assert providers.anthropic.stats()["requests"] == 0
    ok = httpx.post(
        f"{gateway.openai_base}/chat/completions",
        json={"model": "chat", "messages": HI},
        timeout=10,
    )
    assert ok.status_code == 200 and ok.headers["x-router-provider"] == "openai"
