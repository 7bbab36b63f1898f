"""When every provider fails: a stale cached answer if there is one, else a clean abstain."""

from __future__ import annotations

import httpx
import openai

from tests.conftest import ConfigFactory, Providers
from tests.failover_support import FAST_FAILOVER

HI = [{"role": "user", "content": "summarise our refund policy"}]


def chat(gateway, **body: object) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.post(
        f"{gateway.openai_base}/chat/completions",
        timeout=10,
        json={"model": "chat", "messages": HI, **body},
    )


def all_down(providers: Providers) -> None:
    for fake in (providers.openai, providers.anthropic, providers.local):
        fake.set_mode("503")


STALE_SOON = FAST_FAILOVER + "  cache:\n    fresh_ttl_s: 0.001\n"


def test_a_stale_answer_is_served_when_every_provider_fails(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway = serve(make_config(STALE_SOON))
    original = chat(gateway, temperature=0).json()
    all_down(providers)
    stale = chat(gateway, temperature=0)
    assert stale.status_code == 200
    assert stale.headers["x-router-cache"] == "stale"
    assert stale.headers["x-router-degraded"] == "true"
    assert stale.json()["choices"] == original["choices"]


def test_a_stale_answer_is_replayed_to_a_streaming_request(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway = serve(make_config(STALE_SOON))
    expected = chat(gateway, temperature=0).json()["choices"][0]["message"]["content"]
    all_down(providers)
    with openai.OpenAI(base_url=gateway.openai_base, api_key="x", max_retries=0) as client:
        raw = client.chat.completions.with_raw_response.create(
            model="chat", messages=HI, temperature=0, stream=True
        )  # type: ignore[arg-type]
        text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    assert raw.headers["x-router-cache"] == "stale"
    assert text == expected


def test_without_a_cached_answer_the_caller_gets_a_clean_503_abstain(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    all_down(providers)
    gateway = serve(make_config(FAST_FAILOVER))
    response = chat(gateway)
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    error = response.json()["error"]
    assert error["code"] == "all_providers_failed" and error["type"] == "service_unavailable"
    assert "openai-primary (openai/gpt-4o-2024-08-06): server_error" in error["message"]
    assert "sk-test" not in response.text


def test_abstain_response_mode_answers_200_with_the_configured_refusal(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    all_down(providers)
    config = FAST_FAILOVER + "  abstain:\n    mode: response\n    message: Try again soon.\n"
    gateway = serve(make_config(config))
    response = chat(gateway)
    assert response.status_code == 200
    assert response.headers["x-router-abstained"] == "true"
    assert response.json()["choices"][0]["message"]["content"] == "Try again soon."
