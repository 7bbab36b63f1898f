"""Spend is counted per provider, group and team; budget thresholds alert exactly once per
period across replicas, before the limit; reservations keep spend under the limit even
under concurrency; route_away and reject policies; /admin/spend needs the master key."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest
import redis

from router_config.wiring import Timing
from tests.conftest import ConfigFactory, Providers
from tests.failover_support import FakeClock, MidPeriodClock, WebhookReceiver, wait_for
from tests.shared_state_support import shared_state

CHEAP = """
model_list:
  - model_name: chat
    litellm_params: {model: openai/gpt-4o-2024-08-06, api_base: os.environ/OPENAI_BASE, api_key: k, order: 1}
    model_info: {id: openai-primary, input_cost_per_token: 0.001, output_cost_per_token: 0.001}
  - model_name: chat
    litellm_params: {model: anthropic/claude-3-5-sonnet-20241022, api_base: os.environ/ANTHROPIC_BASE, api_key: k, order: 2}
    model_info: {id: anthropic-fallback, free: true}
general_settings:
  master_key: sk-master-for-spend
router_plugins:
  cache: {mode: "off"}
  alerts:
    sinks: [{type: webhook, url: WEBHOOK}]
  budgets:
    on_exceeded: POLICY
    providers:
      openai: {monthly_usd: 1.0}
"""  # noqa: E501
ADMIN = {"Authorization": "Bearer sk-master-for-spend"}
BODY = {"model": "chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10}


@pytest.fixture
def webhook():  # type: ignore[no-untyped-def]
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


def config_text(webhook: WebhookReceiver, policy: str = "route_away", redis_url: str = "") -> str:
    text = CHEAP.replace("WEBHOOK", webhook.url).replace("POLICY", policy)
    return text + (f"router_settings:\n  redis_url: {redis_url}\n" if redis_url else "")


def post(gateway) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.post(
        f"{gateway.openai_base}/chat/completions", json=BODY, headers=ADMIN, timeout=20
    )


def test_concurrent_requests_on_two_replicas_alert_once_per_threshold_and_never_overshoot(
    make_config: ConfigFactory,
    serve,
    providers: Providers,
    redis_url: str,
    webhook: WebhookReceiver,
) -> None:
    text = config_text(webhook, redis_url=redis_url)
    timing = Timing(now=MidPeriodClock())  # one budget month for the whole test
    first = serve(make_config(text=text), timing=timing)
    second = serve(make_config(text=text), timing=timing)
    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(post, [first, second] * 100))
    assert all(r.status_code == 200 for r in responses)
    served = {r.headers["x-router-provider"] for r in responses}
    assert served == {"openai", "anthropic"}  # routed away once the budget was spent
    report = httpx.get(f"{first.base_url}/admin/spend", headers=ADMIN).json()
    assert report["providers"]["openai"] <= 1.0
    header_sum = sum(Decimal(r.headers.get("x-router-cost-usd", "0")) for r in responses)
    assert abs(Decimal(str(report["total_usd"])) - header_sum) < Decimal("1e-6")
    kinds = webhook.kinds(wait_s=3, expect=4)
    shares = sorted(
        r["fields"]["share"] for r in webhook.received if r["kind"] == "budget_threshold"
    )
    assert shares == [0.5, 0.8, 0.95]
    assert kinds.count("budget_exhausted") == 1
    assert kinds.index("budget_threshold") < kinds.index("budget_exhausted")


def test_reject_policy_answers_429_budget_exceeded(
    make_config: ConfigFactory, serve, providers: Providers, webhook: WebhookReceiver
) -> None:
    gateway = serve(
        make_config(text=config_text(webhook, "reject")), timing=Timing(now=MidPeriodClock())
    )
    statuses = [post(gateway).status_code for _ in range(140)]
    assert statuses[0] == 200 and statuses[-1] == 429
    last = post(gateway).json()["error"]
    assert last["code"] == "budget_exceeded"


def test_admin_spend_needs_the_master_key_and_reports_by_group_and_team(
    make_config: ConfigFactory, serve, providers: Providers, webhook: WebhookReceiver
) -> None:
    gateway = serve(make_config(text=config_text(webhook)), timing=Timing(now=MidPeriodClock()))
    cost = Decimal(post(gateway).headers["x-router-cost-usd"])
    assert httpx.get(f"{gateway.base_url}/admin/spend").status_code == 401
    report = httpx.get(f"{gateway.base_url}/admin/spend?period=day", headers=ADMIN).json()
    assert report["period"].startswith("day:")
    assert Decimal(str(report["groups"]["chat"])) == cost
    assert Decimal(str(report["teams"]["admin"])) == cost
    assert report["attempts"] == {"openai": 1}
    metrics = httpx.get(f"{gateway.base_url}/metrics", headers=ADMIN).text
    assert 'llm_router_budget_utilisation{period="month",scope="provider:openai"}' in metrics
    assert 'llm_router_cost_usd_total{deployment="openai-primary"' in metrics


def test_a_burn_rate_that_would_spend_the_budget_early_is_forecast(
    make_config: ConfigFactory, serve, providers: Providers, webhook: WebhookReceiver
) -> None:
    tenth_of_month = dt.datetime(2026, 11, 4, tzinfo=dt.UTC).timestamp()
    gateway = serve(
        make_config(text=config_text(webhook)), timing=Timing(now=FakeClock(tenth_of_month))
    )
    for _ in range(20):  # ~$0.16 spent in 10% of the month: on track for ~$1.6
        post(gateway)
    assert "budget_forecast" in webhook.kinds(wait_s=2, expect=2)


def test_spend_command_prints_the_shared_ledger_as_csv(
    make_config: ConfigFactory,
    serve,
    providers: Providers,
    redis_url: str,
    webhook: WebhookReceiver,
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    from typer.testing import CliRunner

    from router_config.cli.commands import app

    text = config_text(webhook, redis_url=redis_url)
    gateway = serve(make_config(text=text))
    cost = post(gateway).headers["x-router-cost-usd"]
    # Settled costs reach Redis in batches (router_plugins.shared_state.flush_interval_s).
    assert wait_for(lambda: shared_state(gateway)["journal"]["pending"] == 0)
    path = tmp_path / "spend.yaml"
    path.write_text(text)
    for name, value in providers.env().items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["spend", str(path), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "by,name,usd" in result.output
    assert f"provider,openai,{cost}" in result.output


def test_the_worst_case_reserved_counts_every_one_of_n_choices(
    make_config: ConfigFactory, serve, providers: Providers, webhook: WebhookReceiver
) -> None:
    text = config_text(webhook, "reject").replace("monthly_usd: 1.0", "monthly_usd: 0.03")
    gateway = serve(make_config(text=text))
    url = f"{gateway.openai_base}/chat/completions"
    # At $0.001 a token: 5 prompt + 10 output = $0.015 fits in $0.03; 5 + 3 x 10 does not.
    three = httpx.post(url, json={**BODY, "n": 3}, headers=ADMIN, timeout=20)
    assert three.status_code == 429 and three.json()["error"]["code"] == "budget_exceeded"
    assert post(gateway).status_code == 200


def test_a_replica_that_shuts_down_gives_its_budget_lease_back(
    make_config: ConfigFactory,
    serve,
    providers: Providers,
    redis_url: str,
    webhook: WebhookReceiver,
) -> None:
    gateway = serve(make_config(text=config_text(webhook, redis_url=redis_url)))
    assert post(gateway).status_code == 200
    (lease,) = shared_state(gateway)["budget_leases"]
    assert lease["held_usd"] > 0
    key = f"llm-router:{{ledger}}:lease:{lease['period']}:provider:openai"
    client = redis.Redis.from_url(redis_url)
    assert client.hlen(key) == 2  # this replica's slice and its expiry
    gateway.stop()
    assert client.hlen(key) == 0  # free for the other replicas at once, not after the TTL
