"""Deterministic requests are answered from cache; Cache-Control is honoured; streaming
requests get cached answers replayed as SSE; replicas sharing Redis share the cache."""

from __future__ import annotations

import httpx
import openai

from tests.conftest import ConfigFactory, Providers

HI = [{"role": "user", "content": "what is the capital of France?"}]


def chat(gateway, headers: dict[str, str] | None = None, **body: object) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.post(
        f"{gateway.openai_base}/chat/completions",
        timeout=10,
        headers=headers,
        json={"model": "chat", "messages": HI, **body},
    )


def test_a_repeated_deterministic_request_is_a_miss_then_a_hit(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway = serve(make_config())
    first, second = chat(gateway, temperature=0), chat(gateway, temperature=0)
    assert first.headers["x-router-cache"] == "miss"
    assert second.headers["x-router-cache"] == "hit"
    assert second.json()["choices"] == first.json()["choices"]
    assert second.headers["x-router-model"] == "gpt-4o-2024-08-06"
    assert providers.openai.stats()["requests"] == 1


def test_a_request_with_a_seed_is_cacheable_and_one_with_temperature_is_not(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway = serve(make_config())
    chat(gateway, seed=7)
    assert chat(gateway, seed=7).headers["x-router-cache"] == "hit"
    assert chat(gateway, temperature=0.7).headers["x-router-cache"] == "bypass"


def test_no_cache_skips_the_read_and_no_store_skips_the_write(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway = serve(make_config())
    chat(gateway, temperature=0)
    fresh = chat(gateway, {"cache-control": "no-cache"}, temperature=0)
    assert fresh.headers["x-router-cache"] == "bypass"
    assert providers.openai.stats()["requests"] == 2
    chat(gateway, {"cache-control": "no-store"}, temperature=0, max_tokens=3)
    assert chat(gateway, temperature=0, max_tokens=3).headers["x-router-cache"] == "miss"


def test_a_streaming_request_is_served_from_cache_as_sse(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway = serve(make_config())
    expected = chat(gateway, temperature=0).json()["choices"][0]["message"]["content"]
    with openai.OpenAI(base_url=gateway.openai_base, api_key="x", max_retries=0) as client:
        raw = client.chat.completions.with_raw_response.create(
            model="chat",
            messages=HI,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )  # type: ignore[arg-type]
        chunks = list(raw.parse())
    assert raw.headers["x-router-cache"] == "hit"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == expected
    assert chunks[-1].usage is not None
    assert providers.openai.stats()["requests"] == 1


def test_a_streamed_answer_is_cached_for_the_next_request(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway = serve(make_config())
    with httpx.stream(
        "POST",
        f"{gateway.openai_base}/chat/completions",
        timeout=10,
        json={"model": "chat", "messages": HI, "temperature": 0, "stream": True},
    ) as response:
        list(response.iter_lines())
    hit = chat(gateway, temperature=0)
    assert hit.headers["x-router-cache"] == "hit"
    assert hit.json()["choices"][0]["message"]["content"].startswith("fake reply to: what")


def test_gateways_sharing_redis_share_the_cache(
    make_config: ConfigFactory, serve, providers: Providers, redis_url: str
) -> None:
    shared = f"\nrouter_settings:\n  redis_url: {redis_url}\n"
    first, second = serve(make_config(shared)), serve(make_config(shared))
    chat(first, temperature=0)
    assert chat(second, temperature=0).headers["x-router-cache"] == "hit"
    assert providers.openai.stats()["requests"] == 1
