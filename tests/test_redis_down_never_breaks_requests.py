"""With Redis unreachable, requests are still answered; shared state degrades to local."""

from __future__ import annotations

import httpx

from tests.conftest import ConfigFactory, Providers

NO_REDIS = "\nrouter_settings:\n  redis_url: redis://127.0.0.1:1/0\n"


def test_requests_are_answered_and_cached_locally_when_redis_is_down(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway = serve(make_config(NO_REDIS))
    body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}
    url = f"{gateway.openai_base}/chat/completions"
    first, second = httpx.post(url, json=body, timeout=10), httpx.post(url, json=body, timeout=10)
    assert first.status_code == second.status_code == 200
    assert second.headers["x-router-cache"] == "hit"
    assert "llm_router_redis_up 0.0" in httpx.get(f"{gateway.base_url}/metrics").text


def test_breaker_still_works_per_replica_when_redis_is_down(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    providers.openai.set_mode("500")
    gateway = serve(make_config(NO_REDIS))
    url = f"{gateway.openai_base}/chat/completions"
    body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
    attempts = [
        httpx.post(url, json=body, timeout=10).headers["x-router-attempts"] for _ in range(3)
    ]
    assert attempts == ["2", "2", "1"]
