"""Failures after a provider started answering, and providers that cannot stream.

A caller that wants one body has been sent nothing yet when the provider stalls
or breaks mid-answer, so the next deployment answers instead. A streaming
caller has had chunks already: its stream ends with an error event, never a
silent truncation. A deployment that refuses to stream is called whole from
then on, and a streaming caller still gets a stream.
"""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.conftest import BASE_CONFIG, ConfigFactory, Providers

HI = [{"role": "user", "content": "hi"}]
SHORT_IDLE = "router_plugins:\n  failover: {idle_timeout_s: 0.5}\n"


def chat(gateway: Any, model: str = "chat", **body: Any) -> httpx.Response:
    return httpx.post(
        f"{gateway.openai_base}/chat/completions",
        json={"model": model, "messages": HI, **body},
        timeout=30,
    )


@pytest.mark.parametrize("mode", ["hangafter:2", "break:2"], ids=["stalls", "breaks"])
def test_a_provider_failing_mid_answer_fails_over_for_a_caller_that_wants_one_body(
    make_config: ConfigFactory, serve: Any, providers: Providers, mode: str
) -> None:
    gateway = serve(make_config(SHORT_IDLE))
    providers.openai.set_mode(mode)
    response = chat(gateway)
    assert response.status_code == 200
    assert response.headers["x-router-provider"] == "anthropic"
    assert response.json()["choices"][0]["message"]["content"] == "fake reply to: hi"


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_an_answer_longer_than_the_idle_limit_is_whole_while_its_tokens_keep_coming(
    make_config: ConfigFactory, serve: Any, providers: Providers, stream: bool
) -> None:
    """The idle limit is per gap between chunks, not per answer: 1.6 s of tokens 20 ms
    apart, three times the 0.5 s idle limit, is one whole answer from the primary, as one
    body or relayed as a stream (one timer serves each; it must re-arm, not fire)."""
    gateway = serve(make_config(SHORT_IDLE))
    providers.openai.set_mode("latency:ttft=100,tps=50,tokens=75")
    if not stream:
        response = chat(gateway)
        assert response.status_code == 200
        assert response.headers["x-router-provider"] == "openai"
        assert response.headers["x-router-attempts"] == "1"
        text = response.json()["choices"][0]["message"]["content"]
    else:
        with openai.OpenAI(base_url=gateway.openai_base, api_key="x", max_retries=0) as client:
            chunks = list(
                client.chat.completions.create(model="chat", messages=HI, stream=True)  # type: ignore[arg-type]
            )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert chunks[-1].choices[0].finish_reason == "stop"
    assert text.endswith(" w70")  # all 75 tokens


def test_a_stream_that_stalls_after_it_started_ends_with_an_error_the_sdk_raises(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    gateway = serve(make_config(SHORT_IDLE))
    providers.openai.set_mode("hangafter:2")
    with openai.OpenAI(base_url=gateway.openai_base, api_key="x", max_retries=0) as client:
        stream = client.chat.completions.create(model="chat", messages=HI, stream=True)  # type: ignore[arg-type]
        received = []
        with pytest.raises(openai.APIError, match="incomplete"):
            for chunk in stream:
                received.append(chunk)
    assert any(c.choices and c.choices[0].delta.content for c in received)


def test_a_deployment_that_cannot_stream_is_called_whole_from_then_on(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    gateway = serve(make_config())
    providers.openai.set_mode("nostream")
    whole = chat(gateway, "openai-only")
    assert whole.status_code == 200 and whole.headers["x-router-provider"] == "openai"
    streamed = chat(gateway, "openai-only", stream=True)
    assert streamed.status_code == 200 and "data: [DONE]" in streamed.text
    assert '"content":"fake reply to: hi"' in streamed.text
    # One refused stream, then whole calls only: the refusal was remembered.
    assert providers.openai.stats()["requests"] == 3
    assert providers.openai.last_request()["body"].get("stream") is not True


def test_a_deployment_declared_unable_to_stream_is_never_asked_to(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    marker = "  - model_name: openai-only\n    litellm_params:\n"
    head, tail = BASE_CONFIG.split(marker)
    tail = tail.replace(
        "    model_info:\n", "    model_info:\n      supports_native_streaming: false\n", 1
    )
    gateway = serve(make_config(text=head + marker + tail))
    response = chat(gateway, "openai-only", stream=True)
    assert response.status_code == 200 and "data: [DONE]" in response.text
    assert providers.openai.stats()["requests"] == 1
    assert providers.openai.last_request()["body"].get("stream") is not True
