"""Cost of one provider call, from the prices declared in the config.

We compute cost ourselves from usage and the deployment's declared prices,
because LiteLLM prices models missing from its map at $0 without a word
(../shared/LITELLM_NOTES.md). LiteLLM's own figure is used only when the
deployment declares no price at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import litellm

from router_config.config.schema import Deployment
from router_config.flow.hooks import Usage

PRICE_KEYS = (
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "output_cost_per_reasoning_token",
)


def declared_prices(deployment: Deployment) -> dict[str, float]:
    """Per-token USD prices from ``model_info`` (first) or ``litellm_params``."""
    out: dict[str, float] = {}
    for source in (deployment.litellm_params, deployment.model_info):
        for key in PRICE_KEYS:
            value = source.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[key] = float(value)
    return out


def cost_usd(deployment: Deployment, usage: Usage, litellm_cost: float | None) -> float:
    """USD for one call: uncached input + cached input + output (incl. reasoning)."""
    prices = declared_prices(deployment)
    if not prices:
        return float(litellm_cost or 0.0)
    price_in = prices.get("input_cost_per_token", 0.0)
    price_out = prices.get("output_cost_per_token", 0.0)
    price_cached = prices.get("cache_read_input_token_cost", price_in)
    price_reasoning = prices.get("output_cost_per_reasoning_token", price_out)
    uncached = max(usage.prompt_tokens - usage.cached_tokens, 0)
    visible_out = max(usage.completion_tokens - usage.reasoning_tokens, 0)
    return (
        uncached * price_in
        + usage.cached_tokens * price_cached
        + visible_out * price_out
        + usage.reasoning_tokens * price_reasoning
    )


def usage_from(raw: Mapping[str, Any] | None) -> Usage:
    """Read OpenAI-shaped usage (LiteLLM normalises Anthropic's into it)."""
    if not raw:
        return Usage()
    prompt_details = raw.get("prompt_tokens_details") or {}
    completion_details = raw.get("completion_tokens_details") or {}
    return Usage(
        prompt_tokens=int(raw.get("prompt_tokens") or 0),
        completion_tokens=int(raw.get("completion_tokens") or 0),
        cached_tokens=int(prompt_details.get("cached_tokens") or 0),
        reasoning_tokens=int(completion_details.get("reasoning_tokens") or 0),
    )


def counted_usage(deployment: Deployment, messages: list[Any], completion: str) -> Usage:
    """Usage counted with LiteLLM's tokenizer, for a stream whose provider reported none
    (as LiteLLM does itself): budgets and rate limits must never see a free answer."""
    model = deployment.pinned_model
    return Usage(
        prompt_tokens=int(litellm.token_counter(model=model, messages=messages)),
        completion_tokens=int(litellm.token_counter(model=model, text=completion)),
    )


def cost_split(deployment: Deployment, usage: Usage, total: float) -> dict[str, float]:
    """``{"input", "output", "total"}`` USD, for Langfuse's cost_details."""
    prices = declared_prices(deployment)
    if not prices:
        return {"total": total}
    price_out = prices.get("output_cost_per_token", 0.0)
    price_reasoning = prices.get("output_cost_per_reasoning_token", price_out)
    visible_out = max(usage.completion_tokens - usage.reasoning_tokens, 0)
    output = visible_out * price_out + usage.reasoning_tokens * price_reasoning
    return {"input": total - output, "output": output, "total": total}
