"""One deadline bounds every attempt and backoff sleep; no sleep that cannot be followed
by an attempt; a request may lower its deadline. Asserted on an injected clock."""

from __future__ import annotations

import httpx

from router_config.wiring import Timing
from tests.conftest import ConfigFactory, Providers
from tests.failover_support import FakeClock

HI = [{"role": "user", "content": "hi"}]


def chat_single(gateway, **headers: str) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.post(
        f"{gateway.openai_base}/chat/completions",
        timeout=10,
        headers=headers,
        json={"model": "openai-only", "messages": HI},
    )


def test_retry_after_that_fits_the_deadline_is_slept_then_retried(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    clock = FakeClock()
    providers.openai.set_mode("429:1")
    gateway = serve(make_config(), timing=Timing(clock=clock, now=clock, sleep=clock.sleep))
    response = chat_single(gateway)
    assert response.status_code == 503
    assert clock.sleeps == [1.0]
    assert providers.openai.stats()["requests"] == 2


def test_retry_that_cannot_finish_before_a_lowered_deadline_is_not_slept(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    clock = FakeClock()
    providers.openai.set_mode("429:1")
    gateway = serve(make_config(), timing=Timing(clock=clock, now=clock, sleep=clock.sleep))
    response = chat_single(gateway, **{"x-router-timeout-ms": "800"})
    assert response.status_code == 503
    assert clock.sleeps == []
    assert providers.openai.stats()["requests"] == 1


def test_retry_after_longer_than_the_deadline_fails_at_once(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    clock = FakeClock()
    providers.openai.set_mode("429:20")
    gateway = serve(make_config(), timing=Timing(clock=clock, now=clock, sleep=clock.sleep))
    assert chat_single(gateway).status_code == 503
    assert clock.sleeps == []


def test_server_errors_are_retried_with_full_jitter_backoff(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    clock = FakeClock()
    providers.openai.set_mode("500")
    timing = Timing(clock=clock, now=clock, sleep=clock.sleep, jitter=lambda: 0.5)
    gateway = serve(
        make_config(
            "\nrouter_plugins:\n  failover:\n    max_retries: 3\n"
            "  breaker:\n    failure_threshold: 10\n"
        ),
        timing=timing,
    )
    assert chat_single(gateway).status_code == 503
    assert clock.sleeps == [0.05, 0.1, 0.2]  # 0.5 x min(cap, 0.1 x 2^n)


def test_a_request_whose_own_deadline_has_passed_starts_no_attempt_and_gets_a_504(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway = serve(make_config())
    response = chat_single(gateway, **{"x-router-timeout-ms": "0.001"})
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "deadline_exceeded"
    assert providers.openai.stats()["requests"] == 0


def test_a_malformed_timeout_header_is_a_400_naming_it(make_config: ConfigFactory, serve) -> None:
    response = chat_single(serve(make_config()), **{"x-router-timeout-ms": "soon"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "x-router-timeout-ms"
