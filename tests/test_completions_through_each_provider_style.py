"""Non-streaming and streaming completions through OpenAI-, Anthropic- and local-style
deployments, with the openai SDK as the client and LiteLLM's real adapters in between."""

from __future__ import annotations

import openai
import pytest

from tests.conftest import ConfigFactory

STYLES = [
    ("openai-only", "openai", "gpt-4o-2024-08-06"),
    ("anthropic-only", "anthropic", "claude-3-5-sonnet-20241022"),
    ("local-only", "hosted_vllm", "llama-3.1-8b-instruct"),
]
MESSAGES = [{"role": "user", "content": "Say hello to the gateway"}]


def client_for(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=10)


@pytest.mark.parametrize(("group", "provider", "model"), STYLES)
def test_non_streaming_completion_is_answered_with_router_headers(
    make_config: ConfigFactory, serve, group: str, provider: str, model: str
) -> None:
    gateway = serve(make_config())
    with client_for(gateway.openai_base) as client:
        raw = client.chat.completions.with_raw_response.create(model=group, messages=MESSAGES)
    completion = raw.parse()
    assert completion.choices[0].message.content.startswith("fake reply to: Say hello")
    assert completion.model == model
    assert completion.usage is not None and completion.usage.prompt_tokens > 0
    assert raw.headers["x-router-provider"] == provider
    assert raw.headers["x-router-model"] == model
    assert raw.headers["x-router-attempts"] == "1"
    assert raw.headers["x-request-id"]
    assert float(raw.headers["x-router-cost-usd"]) >= 0


@pytest.mark.parametrize(("group", "provider", "model"), STYLES)
def test_streaming_completion_relays_chunks_and_a_usage_chunk(
    make_config: ConfigFactory, serve, group: str, provider: str, model: str
) -> None:
    gateway = serve(make_config())
    with client_for(gateway.openai_base) as client:
        stream = client.chat.completions.create(
            model=group, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("fake reply to: Say hello")
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert {c.model for c in chunks} == {model}


def test_streaming_without_include_usage_sends_no_usage_chunk(
    make_config: ConfigFactory, serve
) -> None:
    gateway = serve(make_config())
    with client_for(gateway.openai_base) as client:
        chunks = list(client.chat.completions.create(model="chat", messages=MESSAGES, stream=True))
    assert chunks and all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)


def test_streaming_response_is_server_sent_events_ending_with_done(
    make_config: ConfigFactory, serve
) -> None:
    import httpx

    gateway = serve(make_config())
    with httpx.stream(
        "POST",
        f"{gateway.openai_base}/chat/completions",
        timeout=10,
        json={"model": "chat", "messages": MESSAGES, "stream": True},
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-router-provider"] == "openai"
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
