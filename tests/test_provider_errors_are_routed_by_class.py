"""A provider's 400 goes back to the caller without failover; a 5xx fails over."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.conftest import ConfigFactory, Providers

HI = [{"role": "user", "content": "hi"}]


def test_caller_error_from_the_provider_is_returned_as_400_without_failover(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    providers.openai.set_mode("400")
    gateway = serve(make_config())
    with (
        openai.OpenAI(base_url=gateway.openai_base, api_key="x", max_retries=0) as client,
        pytest.raises(openai.BadRequestError) as caught,
    ):
        client.chat.completions.create(model="chat", messages=HI)
    assert caught.value.status_code == 400
    assert providers.anthropic.stats()["requests"] == 0


def test_server_error_on_the_primary_is_answered_by_the_next_deployment(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    providers.openai.set_mode("500")
    gateway = serve(make_config())
    response = httpx.post(
        f"{gateway.openai_base}/chat/completions",
        timeout=10,
        json={"model": "chat", "messages": HI},
    )
    assert response.status_code == 200
    assert response.headers["x-router-provider"] == "anthropic"
    assert response.headers["x-router-attempts"] == "2"


def test_every_provider_down_is_a_503_listing_each_attempt(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    for fake in (providers.openai, providers.anthropic, providers.local):
        fake.set_mode("503")
    gateway = serve(make_config())
    response = httpx.post(
        f"{gateway.openai_base}/chat/completions",
        timeout=10,
        json={"model": "chat", "messages": HI},
    )
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "all_providers_failed"
    for deployment in ("openai-primary", "anthropic-fallback", "local-last"):
        assert deployment in error["message"]
    assert "sk-test" not in response.text
    assert response.headers["retry-after"]
