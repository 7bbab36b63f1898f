"""Bearer-key auth: master key, client keys with a team, 401 and 403 as OpenAI sends them."""

from __future__ import annotations

import hashlib

import httpx
import openai
import pytest

from tests.conftest import ConfigFactory

KEYS = """
general_settings:
  master_key: os.environ/MASTER_KEY
router_plugins:
  client_keys:
    - team: search
      key: os.environ/SEARCH_KEY
    - team: support
      key_sha256: {support_sha}
      models: [openai-only]
"""
ENV = {"MASTER_KEY": "sk-master-123456", "SEARCH_KEY": "sk-search-abcdef"}
SUPPORT_KEY = "sk-support-zyxwvu"
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def gateway(make_config: ConfigFactory, serve):  # type: ignore[no-untyped-def]
    sha = hashlib.sha256(SUPPORT_KEY.encode()).hexdigest()
    return serve(make_config(KEYS.format(support_sha=sha), **ENV))


def chat(gateway, key: str, model: str = "chat"):  # type: ignore[no-untyped-def]
    with openai.OpenAI(base_url=gateway.openai_base, api_key=key, max_retries=0) as client:
        return client.chat.completions.create(model=model, messages=MESSAGES)


def test_request_without_a_key_is_401(gateway) -> None:  # type: ignore[no-untyped-def]
    response = httpx.post(
        f"{gateway.openai_base}/chat/completions", json={"model": "chat", "messages": MESSAGES}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_wrong_key_is_401_authentication_error(gateway) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(openai.AuthenticationError) as caught:
        chat(gateway, "sk-wrong")
    assert caught.value.status_code == 401


def test_master_key_and_client_keys_are_served(gateway) -> None:  # type: ignore[no-untyped-def]
    assert chat(gateway, ENV["MASTER_KEY"]).choices[0].message.content
    assert chat(gateway, ENV["SEARCH_KEY"]).choices[0].message.content
    assert chat(gateway, SUPPORT_KEY, "openai-only").choices[0].message.content


def test_client_key_limited_to_some_models_gets_403_for_others(
    gateway,  # type: ignore[no-untyped-def]
) -> None:
    with pytest.raises(openai.PermissionDeniedError) as caught:
        chat(gateway, SUPPORT_KEY, "chat")
    assert caught.value.status_code == 403


def test_models_endpoint_needs_a_key_too(gateway) -> None:  # type: ignore[no-untyped-def]
    assert httpx.get(f"{gateway.openai_base}/models").status_code == 401
    ok = httpx.get(
        f"{gateway.openai_base}/models", headers={"Authorization": f"Bearer {ENV['SEARCH_KEY']}"}
    )
    assert ok.status_code == 200
