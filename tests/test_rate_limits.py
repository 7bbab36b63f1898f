"""Client and deployment rate limits: shared by replicas through Redis, OpenAI's headers and 429."""

from __future__ import annotations

import httpx
import openai
import pytest

from router_config.wiring import Timing
from tests.conftest import BASE_CONFIG, ConfigFactory, Providers
from tests.failover_support import FakeClock

CLIENT_KEY = "sk-client-rate-limit-test-0001"


def limited(redis_url: str | None, *, rpm: int | None = None, team_tpm: int | None = None) -> str:
    key_limit = f"\n      rpm: {rpm}" if rpm else ""
    team = f"  rate_limits:\n    teams:\n      search: {{tpm: {team_tpm}}}\n" if team_tpm else ""
    text = (
        "router_plugins:\n"
        "  client_keys:\n"
        "    - key: os.environ/CLIENT_KEY\n      team: search\n"
        f"      alias: search-app{key_limit}\n" + team
    )
    return text + (f"router_settings:\n  redis_url: {redis_url}\n" if redis_url else "")


def chat(base_url: str, **extra: object) -> httpx.Response:
    return httpx.post(
        f"{base_url}/v1/chat/completions",
        headers={"authorization": f"Bearer {CLIENT_KEY}"},
        json={"model": "chat", "messages": [{"role": "user", "content": "hi"}], **extra},
        timeout=10,
    )


def test_requests_per_minute_are_shared_by_two_replicas(
    make_config: ConfigFactory, serve, providers: Providers, redis_url: str
) -> None:
    clock = FakeClock(start=6_000_000.0)  # the start of a one-minute window
    config = make_config(limited(redis_url, rpm=3), CLIENT_KEY=CLIENT_KEY)
    one, two = serve(config, timing=Timing(now=clock)), serve(config, timing=Timing(now=clock))

    remaining = [
        chat(gw.base_url).headers["x-ratelimit-remaining-requests"] for gw in (one, two, one)
    ]
    assert remaining == ["2", "1", "0"]

    refused = chat(two.base_url)
    assert refused.status_code == 429
    assert refused.json()["error"] == {
        "message": "Rate limit reached for key:search-app on requests per minute: limit 3, "
        "used 3. Please try again in 60s.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    assert refused.headers["retry-after"] == "60"
    assert refused.headers["x-ratelimit-limit-requests"] == "3"
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.headers["x-ratelimit-reset-requests"] == "1m0s"
    assert providers.openai.stats()["requests"] == 3  # the refused request reached no provider

    client = openai.OpenAI(base_url=one.openai_base, api_key=CLIENT_KEY, max_retries=0)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])

    clock.advance(60)  # the next window
    again = chat(one.base_url)
    assert again.status_code == 200 and again.headers["x-ratelimit-remaining-requests"] == "2"


def test_tokens_are_reserved_then_settled_to_real_usage(
    make_config: ConfigFactory, serve, redis_url: str
) -> None:
    clock = FakeClock(start=6_000_000.0)
    gateway = serve(
        make_config(limited(redis_url, team_tpm=50), CLIENT_KEY=CLIENT_KEY),
        timing=Timing(now=clock),
    )
    # "hi" is estimated at 5 prompt tokens; max_tokens 30 reserves 35 of the 50.
    first = chat(gateway.base_url, max_tokens=30)
    assert first.headers["x-ratelimit-limit-tokens"] == "50"
    assert first.headers["x-ratelimit-remaining-tokens"] == "15"
    # The fake provider reported 8 tokens: the reservation was settled to 8, so 35 more fit.
    second = chat(gateway.base_url, max_tokens=30)
    assert second.headers["x-ratelimit-remaining-tokens"] == "7"
    refused = chat(gateway.base_url, max_tokens=30)
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "tokens"
    assert "x-ratelimit-remaining-requests" not in refused.headers  # no request limit set


def test_limits_hold_in_memory_without_redis(make_config: ConfigFactory, serve) -> None:
    clock = FakeClock(start=6_000_000.0)
    gateway = serve(
        make_config(limited(None, rpm=1), CLIENT_KEY=CLIENT_KEY), timing=Timing(now=clock)
    )
    assert chat(gateway.base_url).status_code == 200
    assert chat(gateway.base_url).status_code == 429


def test_a_deployment_at_its_rpm_is_skipped_on_every_replica(
    make_config: ConfigFactory, serve, providers: Providers, redis_url: str
) -> None:
    clock = FakeClock(start=6_000_000.0)
    config = make_config(
        f"router_settings:\n  redis_url: {redis_url}\n",
        text=BASE_CONFIG.replace("      order: 1\n", "      order: 1\n      rpm: 2\n", 1),
    )
    one, two = serve(config, timing=Timing(now=clock)), serve(config, timing=Timing(now=clock))
    providers_used = [
        httpx.post(
            f"{gw.base_url}/v1/chat/completions",
            json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
            timeout=10,
        ).headers["x-router-provider"]
        for gw in (one, two, one, two)
    ]
    assert providers_used == ["openai", "openai", "anthropic", "anthropic"]
    assert providers.openai.stats()["requests"] == 2
    metrics = httpx.get(f"{one.base_url}/metrics").text
    assert 'llm_router_rate_limited_total{scope="deployment"} 1.0' in metrics


def test_check_reports_the_limits_a_config_turns_on(make_config: ConfigFactory) -> None:
    from router_config.cli.report import summary

    text = BASE_CONFIG.replace("      order: 1\n", "      order: 1\n      rpm: 2\n", 1)
    report = summary(make_config(limited(None, rpm=3, team_tpm=50), text=text, CLIENT_KEY="k"))
    assert "outbound limit: openai-primary 2 rpm (shared by replicas)" in report
    assert "client limit: key search-app (team search) 3 rpm" in report
    assert "client limit: team search 50 tpm" in report


def test_an_image_counts_as_an_image_and_a_request_over_the_whole_limit_says_so(
    make_config: ConfigFactory, serve, redis_url: str
) -> None:
    clock = FakeClock(start=6_000_000.0)
    gateway = serve(
        make_config(limited(redis_url, team_tpm=2000), CLIENT_KEY=CLIENT_KEY),
        timing=Timing(now=clock),
    )
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 300_000}}
    content = [{"type": "text", "text": "what is this?"}, image]
    response = httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        headers={"authorization": f"Bearer {CLIENT_KEY}"},
        json={"model": "chat", "messages": [{"role": "user", "content": content}]},
        timeout=10,
    )
    assert response.status_code == 200  # ~1,100 tokens for the image, not 100,000 for its base64
    too_big = chat(gateway.base_url, max_tokens=5000)
    assert too_big.status_code == 429
    assert too_big.json()["error"]["message"].startswith("Request too large for team:search")
    assert "retry-after" not in too_big.headers


def test_a_deployment_tpm_counts_real_usage_not_the_reservation(
    make_config: ConfigFactory, serve, redis_url: str
) -> None:
    clock = FakeClock(start=6_000_000.0)
    config = make_config(
        f"router_settings:\n  redis_url: {redis_url}\n",
        text=BASE_CONFIG.replace("      order: 1\n", "      order: 1\n      tpm: 50\n", 1),
    )
    gateway = serve(config, timing=Timing(now=clock))
    served = [
        httpx.post(
            f"{gateway.base_url}/v1/chat/completions",
            json={
                "model": "chat",
                "messages": [{"role": "user", "content": "hi"}],
                "max_tokens": 30,
            },
            timeout=10,
        ).headers["x-router-provider"]
        for _ in range(3)
    ]
    # Each call reserves 35 tokens and really uses 8: 8 + 35 fits in 50, 16 + 35 does not.
    assert served == ["openai", "openai", "anthropic"]


def test_a_model_whose_only_deployment_is_at_its_rpm_says_when_to_retry(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    clock = FakeClock(start=6_000_000.0 + 45)  # 45 s into a one-minute window
    config = make_config(
        text=BASE_CONFIG.replace(
            "  - model_name: openai-only\n    litellm_params:\n",
            "  - model_name: openai-only\n    litellm_params:\n      rpm: 1\n",
        )
    )
    gateway = serve(config, timing=Timing(now=clock))
    body = {"model": "openai-only", "messages": [{"role": "user", "content": "hi"}]}
    url = f"{gateway.base_url}/v1/chat/completions"
    assert httpx.post(url, json=body, timeout=10).status_code == 200
    refused = httpx.post(url, json=body, timeout=10)
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "15"  # the window's reset, not a blind 1 s
    assert providers.openai.stats()["requests"] == 1


def test_each_of_n_choices_reserves_its_output_cap(
    make_config: ConfigFactory, serve, redis_url: str
) -> None:
    clock = FakeClock(start=6_000_000.0)
    gateway = serve(
        make_config(limited(redis_url, team_tpm=200), CLIENT_KEY=CLIENT_KEY),
        timing=Timing(now=clock),
    )
    # "hi" is 5 prompt tokens; n=3 answers of up to 30 tokens each: 5 + 3 x 30 reserved.
    before_settling = chat(gateway.base_url, n=3, max_completion_tokens=30)
    assert before_settling.headers["x-ratelimit-remaining-tokens"] == str(200 - 95)
