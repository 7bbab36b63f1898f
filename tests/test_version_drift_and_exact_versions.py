"""The served version is checked on every response: drift is warned about, failed over or
rejected per policy; a demanded exact version is served or refused, never substituted."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ConfigFactory, Providers
from tests.failover_support import WebhookReceiver

HI = [{"role": "user", "content": "hi"}]
DRIFTED = "gpt-4o-2024-11-20"


def chat(gateway, model: str = "chat", **headers: str) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.post(
        f"{gateway.openai_base}/chat/completions",
        timeout=10,
        headers=headers,
        json={"model": model, "messages": HI},
    )


@pytest.fixture
def webhook():  # type: ignore[no-untyped-def]
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


def policy(name: str, url: str = "") -> str:
    sinks = f"  alerts:\n    sinks:\n      - type: webhook\n        url: {url}\n" if url else ""
    return f"\nrouter_plugins:\n  pinning:\n    on_drift: {name}\n{sinks}"


def test_warn_policy_answers_reports_the_served_version_and_alerts_once(
    make_config: ConfigFactory, serve, providers: Providers, webhook: WebhookReceiver
) -> None:
    providers.openai.set_served_model(DRIFTED)
    gateway = serve(make_config(policy("warn", webhook.url)))
    responses = [chat(gateway) for _ in range(3)]
    assert all(r.status_code == 200 for r in responses)
    assert responses[0].headers["x-router-model"] == DRIFTED
    assert responses[0].json()["model"] == DRIFTED
    assert webhook.kinds(expect=1) == ["version_drift"]
    assert webhook.received[0]["fields"] == {
        "deployment": "openai-primary",
        "pinned": "gpt-4o-2024-08-06",
        "served": DRIFTED,
    }


def test_fail_over_policy_answers_from_the_next_deployment(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    providers.openai.set_served_model(DRIFTED)
    response = chat(serve(make_config(policy("fail_over"))))
    assert response.status_code == 200
    assert response.headers["x-router-provider"] == "anthropic"
    assert response.headers["x-router-fallback"] == "true"


def test_reject_policy_is_a_502_naming_pinned_and_served(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    providers.openai.set_served_model(DRIFTED)
    response = chat(serve(make_config(policy("reject"))))
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "version_drift"
    assert "gpt-4o-2024-08-06" in error["message"] and DRIFTED in error["message"]


def test_an_exact_version_request_is_served_by_that_version_only(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway = serve(make_config())
    response = chat(gateway, "chat@claude-3-5-sonnet-20241022")
    assert response.status_code == 200
    assert response.headers["x-router-model"] == "claude-3-5-sonnet-20241022"
    assert providers.openai.stats()["requests"] == 0
    by_header = chat(gateway, **{"x-router-model-version": "gpt-4o-2024-08-06"})
    assert by_header.headers["x-router-provider"] == "openai"


def test_an_exact_version_no_deployment_pins_is_a_clear_404(
    make_config: ConfigFactory, serve
) -> None:
    response = chat(serve(make_config()), f"chat@{DRIFTED}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_version_not_found"
    assert "gpt-4o-2024-08-06" in response.json()["error"]["message"]


def test_an_exact_version_is_never_substituted_when_the_provider_drifts(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    providers.openai.set_served_model(DRIFTED)
    response = chat(serve(make_config()), "chat@gpt-4o-2024-08-06")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "version_drift"
    assert providers.anthropic.stats()["requests"] == 0


def test_no_fallback_header_refuses_an_answer_from_another_model(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    providers.openai.set_mode("500")
    gateway = serve(make_config())
    assert chat(gateway).headers["x-router-fallback"] == "true"
    strict = chat(gateway, **{"x-router-no-fallback": "true"})
    assert strict.status_code == 503
    assert providers.anthropic.stats()["requests"] == 1
