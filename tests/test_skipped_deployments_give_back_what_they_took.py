"""A deployment let through by one plugin and then skipped by a later one is given back
what the first took: the breaker's half-open probe, a rate-limit slot."""

from __future__ import annotations

import httpx

from router_config.wiring import Timing
from tests.conftest import BASE_CONFIG, ConfigFactory, Providers
from tests.failover_support import FAST_FAILOVER, FakeClock, wait_for
from tests.shared_state_support import shared_state

WINDOW_START = 6_000_000.0  # a multiple of 60: the start of a one-minute rate window
PRIMARY_RPM_2 = BASE_CONFIG.replace("      order: 1\n", "      order: 1\n      rpm: 2\n", 1)


def chat(gateway) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.post(
        f"{gateway.openai_base}/chat/completions",
        json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )


def test_a_probe_claimed_for_a_call_a_rate_limit_then_skipped_is_freed(
    make_config: ConfigFactory, serve, providers: Providers, redis_url: str
) -> None:
    clock = FakeClock(start=WINDOW_START)
    # No idle probing: this test is about the probe a request claims, not a background one.
    extra = FAST_FAILOVER.replace("  breaker:\n", "  breaker:\n    probe_when_idle: false\n")
    extra += f"router_settings:\n  redis_url: {redis_url}\n"
    gateway = serve(make_config(extra, text=PRIMARY_RPM_2), timing=Timing(now=clock))
    providers.openai.set_mode("500")
    assert [chat(gateway).headers["x-router-provider"] for _ in range(2)] == ["anthropic"] * 2
    # The breaker is open and both of this minute's calls to the primary are spent.
    providers.openai.set_mode(None)
    clock.advance(31)  # past the cool-down, same minute: the breaker lets a probe through,
    assert chat(gateway).headers["x-router-provider"] == "anthropic"  # the rpm skips it
    clock.advance(30)  # a new minute: the probe must be free to claim again at once
    chat(gateway)  # it carries the probe, raced against the fallback (either may serve)
    assert providers.openai.stats()["requests"] == 3
    assert wait_for(lambda: breaker(gateway, "openai-primary") == "closed")
    assert chat(gateway).headers["x-router-provider"] == "openai"


def breaker(gateway, deployment: str) -> str:  # type: ignore[no-untyped-def]
    health = httpx.get(f"{gateway.base_url}/health/providers", timeout=5).json()
    return str(health["deployments"][deployment]["state"])


def test_a_rate_limit_slot_taken_for_a_call_the_budget_then_skipped_is_given_back(
    make_config: ConfigFactory, serve, providers: Providers, redis_url: str
) -> None:
    clock = FakeClock(start=WINDOW_START)
    extra = (
        "router_plugins:\n  budgets:\n    providers:\n      openai: {monthly_usd: 0.00001}\n"
        f"router_settings:\n  redis_url: {redis_url}\n"
    )
    gateway = serve(make_config(extra, text=PRIMARY_RPM_2), timing=Timing(now=clock))
    served = [chat(gateway).headers["x-router-provider"] for _ in range(3)]
    assert served == ["anthropic"] * 3  # the budget skips the primary every time
    assert providers.openai.stats()["requests"] == 0
    (primary,) = [s for s in shared_state(gateway)["rate_slices"] if "openai-primary" in s["scope"]]
    assert primary["requests"]["used"] == 0  # no call went out, so none counts against its rpm
