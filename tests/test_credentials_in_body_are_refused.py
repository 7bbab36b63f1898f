"""Clients cannot set provider endpoints or credentials through the request body:
LiteLLM would honour them as keyword arguments, so we refuse them by name."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ConfigFactory, Providers

HI = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    "param",
    [
        "api_base",
        "api_key",
        "base_url",
        "extra_headers",
        "custom_llm_provider",
        "mock_response",
        "api_version",
    ],
)
def test_credential_or_endpoint_param_is_refused_with_400(
    make_config: ConfigFactory, serve, providers: Providers, param: str
) -> None:
    gateway = serve(make_config())
    response = httpx.post(
        f"{gateway.openai_base}/chat/completions",
        json={"model": "chat", "messages": HI, param: "http://evil.example"},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == param
    assert "cannot be set by clients" in error["message"]
    assert providers.openai.stats()["requests"] == 0
