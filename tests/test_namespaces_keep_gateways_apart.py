"""``router_plugins.namespace`` prefixes every Redis key: two gateways sharing one Redis share
no spend, breakers, limits or cache; and ``serve --env-file`` makes rotated keys reach a
running gateway on reload."""

from __future__ import annotations

from pathlib import Path

import httpx
import redis

from router_config.cli.commands import config_environ
from router_config.config.loader import load_config
from tests.conftest import ConfigFactory, Providers

MASTER = {"Authorization": "Bearer sk-ns-master"}


def shared(redis_url: str, namespace: str) -> str:
    return (
        f"router_settings:\n  redis_url: {redis_url}\n"
        "general_settings:\n  master_key: sk-ns-master\n"
        f"router_plugins:\n  namespace: {namespace}\n"
        "  cache: {mode: all}\n"
        "  budgets:\n    providers:\n      openai: {monthly_usd: 100}\n"
    )


def ask(gateway, model: str = "chat", cache: str = "no-cache") -> httpx.Response:  # type: ignore[no-untyped-def]
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    headers = {**MASTER, "cache-control": cache}
    return httpx.post(
        f"{gateway.openai_base}/chat/completions", json=body, headers=headers, timeout=10
    )


def test_every_redis_key_is_under_the_gateways_namespace(
    make_config: ConfigFactory, serve, providers: Providers, redis_url: str
) -> None:
    team_a = serve(make_config(shared(redis_url, "team-a")))
    team_b = serve(make_config(shared(redis_url, "team-b")))
    providers.openai.set_mode("500")  # team-a's breaker opens; team-b's must not
    assert ask(team_a).headers["x-router-provider"] == "anthropic"
    assert ask(team_a).headers["x-router-provider"] == "anthropic"
    providers.openai.set_mode("ok")
    assert ask(team_b).headers["x-router-provider"] == "openai"  # its own breaker is closed
    assert ask(team_b, "openai-only", "").headers["x-router-cache"] == "miss"
    assert ask(team_b, "openai-only", "").headers["x-router-cache"] == "hit"
    assert ask(team_a, "openai-only", "").headers["x-router-cache"] == "miss"  # not b's entry
    spend_b = httpx.get(f"{team_b.base_url}/admin/spend", headers=MASTER).json()
    spend_a = httpx.get(f"{team_a.base_url}/admin/spend", headers=MASTER).json()
    assert spend_a["total_usd"] != spend_b["total_usd"]
    keys = [k.decode() for k in redis.Redis.from_url(redis_url).keys("*")]
    assert keys
    assert all(k.startswith(("team-a:", "team-b:")) for k in keys), keys
    assert {k.split(":")[0] for k in keys} == {"team-a", "team-b"}


def test_reload_rereads_the_env_file_so_rotated_keys_are_used(
    tmp_path: Path, providers: Providers, serve
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "model_list:\n  - model_name: chat\n    litellm_params:\n"
        "      model: openai/gpt-4o-2024-08-06\n      api_base: os.environ/OPENAI_BASE\n"
        "      api_key: os.environ/ROTATING_KEY\n"
        "general_settings:\n  master_key: sk-ns-master\n"
    )
    secrets = tmp_path / "secrets.env"
    secrets.write_text(
        f"OPENAI_BASE={providers.openai.openai_base}\nROTATING_KEY=sk-old-key-1111\n"
    )

    def load():  # type: ignore[no-untyped-def]
        return load_config(config, environ=config_environ(secrets))

    gateway = serve(load(), reload_from=load)
    assert ask(gateway).status_code == 200
    secrets.write_text(
        f"OPENAI_BASE={providers.openai.openai_base}\nROTATING_KEY=sk-new-key-2222\n"
    )
    assert httpx.post(f"{gateway.base_url}/admin/reload", headers=MASTER).status_code == 200
    assert ask(gateway).status_code == 200
    assert providers.openai.stats()["by_key"] == {"1111": 1, "2222": 1}
