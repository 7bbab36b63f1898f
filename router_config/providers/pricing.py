"""Cost of one provider call, from the prices declared in the config, split into buckets.

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
    "cache_creation_input_token_cost",
    "output_cost_per_reasoning_token",
)
# Langfuse's canonical usage and cost buckets (its OTel ingestion normalises provider usage
# to these names; its dashboards sum every key containing "input" as input and "output" as
# output), so each bucket is a disjoint share of the call and they add up to ``total``.
INPUT, CACHE_READ, CACHE_WRITE = "input", "input_cached_tokens", "input_cache_creation"
OUTPUT, REASONING = "output", "output_reasoning_tokens"


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
    """USD for one call: uncached input, cache reads, cache writes, output and reasoning,
    each at its declared price (LiteLLM's defaults: cache prices fall back to the input
    price, the reasoning price to the output price)."""
    prices = declared_prices(deployment)
    if not prices:
        return float(litellm_cost or 0.0)
    return sum(_bucket_costs(prices, usage).values())


def _bucket_costs(prices: Mapping[str, float], usage: Usage) -> dict[str, float]:
    price_in = prices.get("input_cost_per_token", 0.0)
    price_out = prices.get("output_cost_per_token", 0.0)
    tokens = usage_buckets(usage)
    rate = {
        INPUT: price_in,
        CACHE_READ: prices.get("cache_read_input_token_cost", price_in),
        CACHE_WRITE: prices.get("cache_creation_input_token_cost", price_in),
        OUTPUT: price_out,
        REASONING: prices.get("output_cost_per_reasoning_token", price_out),
    }
    return {bucket: count * rate[bucket] for bucket, count in tokens.items() if bucket in rate}


def usage_buckets(usage: Usage) -> dict[str, int]:
    """Disjoint token buckets that add up to ``total``: ``input`` (uncached), ``output``
    (without reasoning) and ``total`` always; cache reads, cache writes and reasoning only
    when the provider reported some."""
    cached, written = usage.cached_tokens, usage.cache_creation_tokens
    out = {
        INPUT: max(usage.prompt_tokens - cached - written, 0),
        OUTPUT: max(usage.completion_tokens - usage.reasoning_tokens, 0),
    }
    for bucket, count in ((CACHE_READ, cached), (CACHE_WRITE, written)):
        if count:
            out[bucket] = count
    if usage.reasoning_tokens:
        out[REASONING] = usage.reasoning_tokens
    out["total"] = usage.total_tokens
    return out


def usage_from(raw: Mapping[str, Any] | None) -> Usage:
    """Read OpenAI-shaped usage (LiteLLM normalises Anthropic's into it)."""
    if not raw:
        return Usage()
    prompt_details = raw.get("prompt_tokens_details") or {}
    completion_details = raw.get("completion_tokens_details") or {}
    # LiteLLM (AnthropicConfig.calculate_usage) adds Anthropic's cache writes to
    # prompt_tokens and reports them both as prompt_tokens_details.cache_creation_tokens
    # and as a top-level cache_creation_input_tokens.
    written = prompt_details.get("cache_creation_tokens") or raw.get("cache_creation_input_tokens")
    return Usage(
        prompt_tokens=int(raw.get("prompt_tokens") or 0),
        completion_tokens=int(raw.get("completion_tokens") or 0),
        cached_tokens=int(prompt_details.get("cached_tokens") or 0),
        reasoning_tokens=int(completion_details.get("reasoning_tokens") or 0),
        cache_creation_tokens=int(written or 0),
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
    """USD per bucket of ``usage_buckets`` plus ``total``, for Langfuse's ``cost_details``.

    Always carries ``total`` (0 included): Langfuse prices a generation itself only when it
    arrives with no cost at all. Without declared prices (LiteLLM's own figure) the split is
    unknown and only ``total`` is sent.
    """
    prices = declared_prices(deployment)
    if not prices:
        return {"total": total}
    return {**_bucket_costs(prices, usage), "total": total}
