"""Optional background probes find an outage before a user request pays for it."""

from __future__ import annotations

import httpx

from tests.conftest import ConfigFactory, Providers
from tests.failover_support import wait_for

PROBING = "\nrouter_plugins:\n  breaker:\n    health_check_interval_s: 0.05\n"


def state(gateway, deployment: str) -> str:  # type: ignore[no-untyped-def]
    health = httpx.get(f"{gateway.base_url}/health/providers").json()["deployments"]
    return str(health[deployment]["state"])


def test_probes_open_the_breaker_of_a_failing_deployment_without_user_traffic(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    providers.openai.set_mode("500")
    gateway = serve(make_config(PROBING))
    assert wait_for(lambda: state(gateway, "openai-primary") == "open")
    response = httpx.post(
        f"{gateway.openai_base}/chat/completions",
        timeout=10,
        json={"model": "chat", "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.headers["x-router-attempts"] == "1"
    assert response.headers["x-router-provider"] == "anthropic"
    assert state(gateway, "anthropic-fallback") == "closed"
