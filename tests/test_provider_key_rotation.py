"""Provider key rotation: a refused key is quarantined and the next key answers the same request."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import BASE_CONFIG, ConfigFactory, Providers
from tests.failover_support import FAST_FAILOVER, WebhookReceiver

KEY_A = "sk-rotate-test-key-AAAA"
KEY_B = "sk-rotate-test-key-BBBB"
TWO_KEYS = BASE_CONFIG.replace(
    "      api_key: os.environ/OPENAI_API_KEY\n      order: 1",
    "      api_keys: [os.environ/OPENAI_KEY_A, os.environ/OPENAI_KEY_B]\n      order: 1",
    1,
)


@pytest.fixture
def webhook():  # type: ignore[no-untyped-def]
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


def rotating_config(make_config: ConfigFactory, webhook_url: str, redis_url: str):  # type: ignore[no-untyped-def]
    extra = FAST_FAILOVER + (
        f"  alerts:\n    sinks:\n      - type: webhook\n        url: {webhook_url}\n"
        f"router_settings:\n  redis_url: {redis_url}\n"
    )
    return make_config(extra, text=TWO_KEYS, OPENAI_KEY_A=KEY_A, OPENAI_KEY_B=KEY_B)


def chat(base_url: str) -> httpx.Response:
    response = httpx.post(
        f"{base_url}/v1/chat/completions",
        json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )
    response.raise_for_status()
    return response


def test_a_refused_key_is_replaced_by_the_next_in_the_same_request(
    make_config: ConfigFactory,
    serve,
    providers: Providers,
    webhook: WebhookReceiver,
    redis_url: str,
) -> None:
    providers.openai.revoke_key(KEY_A)
    gateway = serve(rotating_config(make_config, webhook.url, redis_url))

    first = chat(gateway.base_url)
    assert first.headers["x-router-deployment"] == "openai-primary"  # not a fallback
    assert first.headers["x-router-attempts"] == "2"
    second = chat(gateway.base_url)  # the refused key is not tried again
    assert second.headers["x-router-attempts"] == "1"
    assert providers.openai.stats()["by_key"] == {"AAAA": 1, "BBBB": 2}
    assert webhook.kinds(expect=1) == ["key_quarantined"]
    assert "...AAAA" in webhook.received[0]["message"] and KEY_A not in str(webhook.received)

    health = httpx.get(f"{gateway.base_url}/health/providers").json()["deployments"]
    assert health["openai-primary"]["keys"] == [
        {"key": "...AAAA", "state": "quarantined", "quarantined_for_s": 3600},
        {"key": "...BBBB", "state": "ok"},
    ]
    assert KEY_A not in str(health) and KEY_B not in str(health)
    metrics = httpx.get(f"{gateway.base_url}/metrics").text
    assert 'llm_router_key_quarantined_total{deployment="openai-primary"} 1.0' in metrics
    assert "AAAA" not in metrics  # /metrics needs no key: not even a fingerprint there


def test_quarantine_is_shared_by_replicas_through_redis(
    make_config: ConfigFactory,
    serve,
    providers: Providers,
    webhook: WebhookReceiver,
    redis_url: str,
) -> None:
    providers.openai.revoke_key(KEY_A)
    config = rotating_config(make_config, webhook.url, redis_url)
    one, two = serve(config), serve(config)
    assert chat(one.base_url).headers["x-router-attempts"] == "2"
    assert chat(two.base_url).headers["x-router-attempts"] == "1"  # knew from Redis
    assert providers.openai.stats()["by_key"] == {"AAAA": 1, "BBBB": 2}
    assert webhook.kinds(expect=1, wait_s=0.3) == ["key_quarantined"]


def test_every_key_refused_falls_back_to_the_next_deployment(
    make_config: ConfigFactory,
    serve,
    providers: Providers,
    webhook: WebhookReceiver,
    redis_url: str,
) -> None:
    providers.openai.revoke_key(KEY_A)
    providers.openai.revoke_key(KEY_B)
    gateway = serve(rotating_config(make_config, webhook.url, redis_url))
    first = chat(gateway.base_url)
    assert first.headers["x-router-provider"] == "anthropic"
    assert first.headers["x-router-attempts"] == "3"
    assert chat(gateway.base_url).headers["x-router-attempts"] == "1"  # both keys skipped
    assert sorted(webhook.kinds(expect=2)) == ["key_quarantined", "key_quarantined"]


def test_api_key_and_api_keys_together_is_a_config_error(make_config: ConfigFactory) -> None:
    from router_config.errors import ConfigError

    text = TWO_KEYS.replace(
        "      api_keys:", "      api_key: os.environ/OPENAI_API_KEY\n      api_keys:", 1
    )
    with pytest.raises(ConfigError) as caught:
        make_config(text=text, OPENAI_KEY_A=KEY_A, OPENAI_KEY_B=KEY_B)
    assert "model_list[0].litellm_params.api_keys: api_key and api_keys are both set" in str(
        caught.value
    )
    assert KEY_A not in str(caught.value)
