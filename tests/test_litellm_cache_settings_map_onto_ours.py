"""LiteLLM's ``litellm_settings.cache`` / ``cache_params`` map onto router_plugins.cache: every
request cached (LiteLLM's meaning of ``cache: true``), in the Redis cache_params names, with
its ttl, namespace, call types and ``mode: default_off``."""

from __future__ import annotations

import httpx
import redis

from tests.conftest import TEST_REDIS_DB, ConfigFactory

CACHED = """litellm_settings:
  cache: true
  cache_params:
    type: redis
    host: 127.0.0.1
    port: 6379
    db: DB
    ttl: 600
    namespace: litellm.caching
"""


def ask(gateway, **extra) -> httpx.Response:  # type: ignore[no-untyped-def]
    body = {
        "model": "openai-only",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 1,
        **extra,
    }
    return httpx.post(f"{gateway.openai_base}/chat/completions", json=body, timeout=10)


def test_cache_true_caches_every_request_in_the_redis_cache_params_names(
    make_config: ConfigFactory, serve, redis_url: str
) -> None:
    config = make_config(CACHED.replace("DB", str(TEST_REDIS_DB)))
    assert config.plugins.cache.mode == "all" and config.plugins.cache.fresh_ttl_s == 600
    assert config.redis is not None
    assert (config.redis.host, config.redis.port, config.redis.db) == (
        "127.0.0.1",
        6379,
        TEST_REDIS_DB,
    )
    gateway = serve(config)
    assert ask(gateway).headers["x-router-cache"] == "miss"
    assert ask(gateway).headers["x-router-cache"] == "hit"  # temperature 1, cached all the same
    keys = redis.Redis.from_url(redis_url).keys("*")
    assert keys and all(k.startswith(b"llm-router:") for k in keys)
    assert any(k.startswith(b"llm-router:cache:litellm.caching:") for k in keys)


def test_chat_outside_supported_call_types_is_not_cached(make_config: ConfigFactory) -> None:
    config = make_config(
        "litellm_settings:\n  cache: true\n  cache_params:\n    supported_call_types: []\n"
    )
    assert config.plugins.cache.mode == "off"


def test_default_off_caches_only_requests_that_ask(make_config: ConfigFactory, serve) -> None:
    gateway = serve(
        make_config("litellm_settings:\n  cache: true\n  cache_params:\n    mode: default_off\n")
    )
    assert ask(gateway).headers["x-router-cache"] == "bypass"
    assert ask(gateway).headers["x-router-cache"] == "bypass"
    asked = {"cache": {"use-cache": True}}
    assert ask(gateway, **asked).headers["x-router-cache"] == "miss"
    assert ask(gateway, **asked).headers["x-router-cache"] == "hit"
    assert (
        ask(gateway, cache={"use-cache": True, "no-cache": True}).headers["x-router-cache"]
        == "bypass"
    )


def test_other_cache_types_and_our_own_section_are_named(make_config: ConfigFactory) -> None:
    config = make_config("litellm_settings:\n  cache: true\n  cache_params: {type: s3}\n")
    assert any("'s3' is not supported" in w for w in config.warnings)
    ours = make_config(
        "litellm_settings:\n  cache: true\nrouter_plugins:\n  cache: {mode: deterministic}\n"
    )
    assert ours.plugins.cache.mode == "deterministic"
    assert any("router_plugins.cache is set and wins" in w for w in ours.warnings)
