"""Cost = usage x declared price, including cached and reasoning tokens, exact to 1e-9 USD,
for OpenAI- and Anthropic-shaped usage."""

from __future__ import annotations

from decimal import Decimal

import httpx
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
