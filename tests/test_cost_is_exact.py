"""Cost = usage x declared price, including cached and reasoning tokens, exact to 1e-9 USD,
for OpenAI- and Anthropic-shaped usage."""

from __future__ import annotations

from decimal import Decimal

import httpx
import orjson
import pytest

from tests.conftest import ConfigFactory, Providers

PRICED = """
model_list:
  - model_name: gpt
    litellm_params: {model: openai/gpt-4o-2024-08-06, api_base: os.environ/OPENAI_BASE, api_key: k}
    model_info: {input_cost_per_token: 0.0000025, output_cost_per_token: 0.00001,
                 cache_read_input_token_cost: 0.00000125}
  - model_name: claude
    litellm_params: {model: anthropic/claude-3-5-sonnet-20241022, api_base: os.environ/ANTHROPIC_BASE, api_key: k}
    model_info: {input_cost_per_token: 0.000003, output_cost_per_token: 0.000015,
                 cache_read_input_token_cost: 0.0000003}
"""  # noqa: E501
PRICES = {
    "gpt": ("0.0000025", "0.00001", "0.00000125"),
    "claude": ("0.000003", "0.000015", "0.0000003"),
}
LONG = [{"role": "user", "content": "please summarise the quarterly report " * 8}]


@pytest.mark.parametrize("group", ["gpt", "claude"])
def test_cost_header_matches_a_hand_computation_with_cached_tokens(
    make_config: ConfigFactory, serve, providers: Providers, group: str
) -> None:
    providers.openai.set_usage(cached_tokens=40)
    providers.anthropic.set_usage(cached_tokens=40)
    gateway = serve(make_config(text=PRICED))
    response = httpx.post(
        f"{gateway.openai_base}/chat/completions",
        timeout=10,
        json={"model": group, "messages": LONG},
    )
    usage = response.json()["usage"]
    cached = usage["prompt_tokens_details"]["cached_tokens"]
    assert cached == 40
    price_in, price_out, price_cached = (Decimal(p) for p in PRICES[group])
    expected = (
        (usage["prompt_tokens"] - cached) * price_in
        + cached * price_cached
        + usage["completion_tokens"] * price_out
    )
    assert abs(Decimal(response.headers["x-router-cost-usd"]) - expected) < Decimal("1e-9")


def test_reasoning_tokens_are_billed_as_output(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    providers.openai.set_usage(reasoning_tokens=100)
    gateway = serve(make_config(text=PRICED))
    response = httpx.post(
        f"{gateway.openai_base}/chat/completions",
        timeout=10,
        json={"model": "gpt", "messages": LONG},
    )
    usage = response.json()["usage"]
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 100
    expected = usage["prompt_tokens"] * Decimal("0.0000025") + usage["completion_tokens"] * Decimal(
        "0.00001"
    )
    assert abs(Decimal(response.headers["x-router-cost-usd"]) - expected) < Decimal("1e-9")


WRITES = """
model_list:
  - model_name: claude
    litellm_params: {model: anthropic/claude-3-5-sonnet-20241022, api_base: os.environ/ANTHROPIC_BASE, api_key: k}
    model_info: {input_cost_per_token: 0.000003, output_cost_per_token: 0.000015,
                 cache_read_input_token_cost: 0.0000003, cache_creation_input_token_cost: 0.00000375}
  - model_name: o-series
    litellm_params: {model: openai/o3-mini-2025-01-31, api_base: os.environ/OPENAI_BASE, api_key: k}
    model_info: {input_cost_per_token: 0.0000011, output_cost_per_token: 0.0000044,
                 output_cost_per_reasoning_token: 0.000006}
general_settings: {master_key: sk-master-cost-test}
"""  # noqa: E501
MASTER = {"authorization": "Bearer sk-master-cost-test"}


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_cache_writes_are_billed_at_their_own_price_in_the_ledger_too(
    make_config: ConfigFactory, serve, providers: Providers, stream: bool
) -> None:
    providers.anthropic.set_usage(cached_tokens=20, cache_creation_tokens=30)
    gateway = serve(make_config(text=WRITES))
    body = {"model": "claude", "messages": LONG, "stream": stream}
    if stream:
        body["stream_options"] = {"include_usage": True}
    response = httpx.post(
        f"{gateway.openai_base}/chat/completions", timeout=10, json=body, headers=MASTER
    )
    assert response.status_code == 200, response.text
    usage = (
        response.json()["usage"]
        if not stream
        else next(
            orjson.loads(line[6:])["usage"]
            for line in response.text.splitlines()
            if line.startswith("data: {") and '"usage"' in line
        )
    )
    prompt, completion = usage["prompt_tokens"], usage["completion_tokens"]
    expected = (
        (prompt - 20 - 30) * Decimal("0.000003")
        + 20 * Decimal("0.0000003")
        + 30 * Decimal("0.00000375")
        + completion * Decimal("0.000015")
    )
    spend = httpx.get(f"{gateway.base_url}/admin/spend", headers=MASTER, timeout=10).json()
    assert abs(Decimal(str(spend["providers"]["anthropic"])) - expected) < Decimal("1e-9")
    if not stream:
        assert abs(Decimal(response.headers["x-router-cost-usd"]) - expected) < Decimal("1e-9")


def test_reasoning_tokens_are_billed_at_the_reasoning_price_when_one_is_declared(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    providers.openai.set_usage(reasoning_tokens=100)
    gateway = serve(make_config(text=WRITES))
    response = httpx.post(
        f"{gateway.openai_base}/chat/completions",
        timeout=10,
        json={"model": "o-series", "messages": LONG},
        headers=MASTER,
    )
    usage = response.json()["usage"]
    visible = usage["completion_tokens"] - 100
    expected = (
        usage["prompt_tokens"] * Decimal("0.0000011")
        + visible * Decimal("0.0000044")
        + 100 * Decimal("0.000006")
    )
    assert abs(Decimal(response.headers["x-router-cost-usd"]) - expected) < Decimal("1e-9")
