"""Cost of one provider call split into Langfuse's buckets, and where prices come from.

We compute cost ourselves from usage and the deployment's prices: those declared
in the config, else those of LiteLLM's bundled price map (offline, the pinned
release's). LiteLLM prices models missing from its map at $0 without a word
(../shared/LITELLM_NOTES.md), so a billed deployment priced nowhere is refused at
load; LiteLLM's own figure is used only for a deployment priced nowhere that we
accepted (an OpenAI-compatible server of unknown billing, an Azure deployment
priced by the model Azure reports).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
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
    "input_cost_per_second",
    "output_cost_per_second",
)
# Providers of self-hosted servers: nothing is billed per token (their model_info may still
# declare prices, e.g. to account for GPU time).
LOCAL_PROVIDERS = frozenset(
    {"hosted_vllm", "vllm", "ollama", "ollama_chat", "lm_studio", "llamafile", "openai_like"}
)
# Langfuse's canonical usage and cost buckets (its OTel ingestion normalises provider usage
# to these names; its dashboards sum every key containing "input" as input and "output" as
# output), so each bucket is a disjoint share of the call and they add up to ``total``.
INPUT, CACHE_READ, CACHE_WRITE = "input", "input_cached_tokens", "input_cache_creation"
OUTPUT, REASONING = "output", "output_reasoning_tokens"


@dataclass(frozen=True)
class PriceSource:
    """Where a deployment's prices come from, as ``check`` shows it."""

    kind: str  # config | litellm-map | free | local | unpriced
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind} ({self.detail})" if self.detail else self.kind


def declared_prices(deployment: Deployment) -> dict[str, float]:
    """USD prices of a deployment: from its config (``model_info`` first, then
    ``litellm_params``), else from LiteLLM's bundled price map for its model (or
    ``model_info.base_model``), as the pinned LiteLLM release ships it (offline)."""
    config = _config_prices(deployment)
    if config:
        return config
    found = _map_prices(deployment.provider, deployment.pinned_model, _base_model(deployment))
    return dict(found[0]) if found is not None else {}


def price_source(deployment: Deployment) -> PriceSource:
    """Config, LiteLLM's map (and the key it was found under), free, local, or unpriced."""
    if _config_prices(deployment):
        return PriceSource("config")
    found = _map_prices(deployment.provider, deployment.pinned_model, _base_model(deployment))
    if found is not None:
        return PriceSource("litellm-map", found[1])
    if deployment.model_info.get("free") is True:
        return PriceSource("free", "model_info.free")
    if deployment.provider in LOCAL_PROVIDERS:
        return PriceSource("local", "self-hosted server: $0 per token")
    return PriceSource("unpriced")


def _config_prices(deployment: Deployment) -> dict[str, float]:
    out: dict[str, float] = {}
    for source in (deployment.litellm_params, deployment.model_info):
        for key in PRICE_KEYS:
            value = source.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[key] = float(value)
    return out


def _base_model(deployment: Deployment) -> str | None:
    value = deployment.model_info.get("base_model")
    return str(value) if value else None


@lru_cache(maxsize=4096)
def _map_prices(
    provider: str, model: str, base_model: str | None
) -> tuple[tuple[tuple[str, float], ...], str] | None:
    """Prices from LiteLLM's map and the key found, or None. A map entry whose prices are
    all zero is no price for a billed provider: LiteLLM ships such placeholders (seen:
    claude-sonnet-4-20250514), and counting them as $0 is the silent case we refuse."""
    candidates = [m for m in (base_model, model) if m]
    for candidate in candidates:
        try:
            info = litellm.get_model_info(model=candidate, custom_llm_provider=provider)
        except Exception:  # LiteLLM raises for names it has not mapped
            continue
        prices = tuple(
            (key, float(info[key])) for key in PRICE_KEYS if isinstance(info.get(key), int | float)
        )
        billed = any(v > 0 for _, v in prices)
        if billed or (prices and (provider in LOCAL_PROVIDERS or "free" in candidate)):
            return prices, str(info.get("key") or candidate)
    return None


def cost_usd(
    deployment: Deployment, usage: Usage, litellm_cost: float | None, duration_s: float = 0.0
) -> float:
    """USD for one call: uncached input, cache reads, cache writes, output and reasoning,
    each at its price (LiteLLM's defaults: cache prices fall back to the input price, the
    reasoning price to the output price), plus ``duration_s`` times the per-second prices
    (SageMaker-style deployments)."""
    prices = declared_prices(deployment)
    if not prices:
        return float(litellm_cost or 0.0)
    per_second = prices.get("input_cost_per_second", 0.0) + prices.get(
        "output_cost_per_second", 0.0
    )
    return sum(_bucket_costs(prices, usage).values()) + duration_s * per_second


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
