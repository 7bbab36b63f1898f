"""GET /v1/models lists model groups; /health and /health/readiness report state."""

from __future__ import annotations

import httpx
import openai

from tests.conftest import ConfigFactory


def test_models_lists_every_model_group_once(make_config: ConfigFactory, serve) -> None:
    gateway = serve(make_config())
    with openai.OpenAI(base_url=gateway.openai_base, api_key="x", max_retries=0) as client:
        ids = [m.id for m in client.models.list()]
    assert ids == ["chat", "openai-only", "anthropic-only", "local-only"]


def test_liveness_answers_ok(make_config: ConfigFactory, serve) -> None:
    gateway = serve(make_config())
    assert httpx.get(f"{gateway.base_url}/health").json() == {"status": "ok"}


def test_readiness_checks_redis_when_configured(
    make_config: ConfigFactory, serve, redis_url: str
) -> None:
    gateway = serve(make_config(f"\nrouter_settings:\n  redis_url: {redis_url}\n"))
    response = httpx.get(f"{gateway.base_url}/health/readiness")
    assert response.status_code == 200
    assert response.json()["checks"] == {"config": "ok", "redis": "ok"}


def test_readiness_stays_ok_with_redis_unreachable_and_says_so(
    make_config: ConfigFactory, serve
) -> None:
    """Requests are still answered without Redis: a load balancer must keep the replica."""
    gateway = serve(make_config("\nrouter_settings:\n  redis_url: redis://127.0.0.1:1/0\n"))
    response = httpx.get(f"{gateway.base_url}/health/readiness")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"config": "ok", "redis": "unreachable"}}
    assert "llm_router_redis_up 0.0" in httpx.get(f"{gateway.base_url}/metrics").text
    shared = httpx.get(f"{gateway.base_url}/health/shared-state")
    assert shared.status_code == 503
    assert shared.json()["redis"]["reachable"] is False


def test_metrics_page_counts_requests(make_config: ConfigFactory, serve) -> None:
    gateway = serve(make_config())
    httpx.post(
        f"{gateway.openai_base}/chat/completions",
        timeout=10,
        json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
    )
    page = httpx.get(f"{gateway.base_url}/metrics").text
    assert 'llm_router_requests_total{model_group="chat",outcome="ok",status="200"} 1.0' in page
    assert 'llm_router_attempts_total{deployment="openai-primary"' in page
