"""Whatever the primary does wrong, the caller gets a valid answer from the fallback."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.conftest import BASE_CONFIG, ConfigFactory, Providers
from tests.failover_support import FAST_FAILOVER

HI = [{"role": "user", "content": "hi"}]


def chat(gateway, **body: object) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.post(
        f"{gateway.openai_base}/chat/completions",
        timeout=10,
        json={"model": "chat", "messages": HI, **body},
    )


@pytest.mark.parametrize("mode", ["500", "503", "429:20", "hang", "garbage", "401", "403"])
def test_primary_fault_is_answered_by_the_fallback(
    make_config: ConfigFactory, serve, providers: Providers, mode: str
) -> None:
    providers.openai.set_mode(mode)
    gateway = serve(make_config(FAST_FAILOVER))
    response = chat(gateway)
    assert response.status_code == 200, response.text
    assert response.headers["x-router-provider"] == "anthropic"
    assert response.headers["x-router-model"] == "claude-3-5-sonnet-20241022"
    assert response.json()["choices"][0]["message"]["content"].startswith("fake reply")


def test_refused_connection_on_the_primary_is_answered_by_the_fallback(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    gateway = serve(make_config(FAST_FAILOVER, OPENAI_BASE=dead))
    response = chat(gateway)
    assert response.status_code == 200
    assert response.headers["x-router-provider"] == "anthropic"


def test_stream_fails_over_before_the_first_chunk(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    providers.openai.set_mode("500")
    gateway = serve(make_config(FAST_FAILOVER))
    with httpx.stream(
        "POST",
        f"{gateway.openai_base}/chat/completions",
        timeout=10,
        json={"model": "chat", "messages": HI, "stream": True},
    ) as response:
        assert response.headers["x-router-provider"] == "anthropic"
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"


def test_stream_broken_after_the_first_chunk_ends_with_an_error_event(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    import openai

    providers.openai.set_mode("break:2")
    gateway = serve(make_config(FAST_FAILOVER))
    received: list[str] = []
    with (
        openai.OpenAI(base_url=gateway.openai_base, api_key="x", max_retries=0) as client,
        pytest.raises(openai.APIError, match="failed after the stream started"),
    ):
        for chunk in client.chat.completions.create(model="chat", messages=HI, stream=True):
            received.append(chunk.choices[0].delta.content or "" if chunk.choices else "")
    assert "".join(received).strip()  # the caller saw the start, then an explicit error
    assert providers.anthropic.stats()["requests"] == 0


def test_a_hung_primary_on_a_streaming_request_fails_over_at_the_first_token_timeout(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    providers.openai.set_mode("hang")
    gateway = serve(make_config(FAST_FAILOVER))
    response = chat(gateway, stream=True)
    assert response.status_code == 200
    assert response.headers["x-router-provider"] == "anthropic"
    assert BASE_CONFIG  # the plan is the shared three-provider config
