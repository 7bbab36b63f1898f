"""LiteLLM's routing settings (``router_settings``) as the planner reads them.

``routing_strategy`` picks how deployments of one group and one ``order``
share traffic; ``routing_strategy_args`` tunes latency-based routing; tag
filtering and ``max_fallbacks`` are read as LiteLLM reads them.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from router_config.config.schema import RoutingSettings
from router_config.errors import ConfigIssue

STRATEGIES = (
    "simple-shuffle",
    "least-busy",
    "latency-based-routing",
    "usage-based-routing",
    "usage-based-routing-v2",
    "cost-based-routing",
)
# LiteLLM strategies llm-router does not apply, and what to use instead.
UNSUPPORTED = {
    "provider-budget-routing": "router_plugins.budgets skips a provider over its budget",
}


def routing_settings(
    settings: Mapping[str, Any], issues: list[ConfigIssue], warnings: list[str]
) -> RoutingSettings:
    """The planner's view of ``router_settings``; a misspelt strategy is an error."""
    strategy = str(settings.get("routing_strategy") or "simple-shuffle")
    if strategy in UNSUPPORTED:
        warnings.append(
            f"router_settings.routing_strategy: {strategy} is not applied "
            f"({UNSUPPORTED[strategy]}); simple-shuffle is used"
        )
        strategy = "simple-shuffle"
    elif strategy not in STRATEGIES:
        guess = difflib.get_close_matches(strategy, STRATEGIES, n=1)
        issues.append(
            ConfigIssue(
                "router_settings.routing_strategy",
                f"{strategy!r} is not a routing strategy",
                f"did you mean {guess[0]}?" if guess else f"use one of: {', '.join(STRATEGIES)}",
            )
        )
        strategy = "simple-shuffle"
    args = settings.get("routing_strategy_args") or {}
    args = args if isinstance(args, Mapping) else {}
    max_fallbacks = settings.get("max_fallbacks")
    return RoutingSettings(
        strategy=strategy,
        latency_ttl_s=float(args.get("ttl") or 3600.0),
        latency_buffer=float(args.get("lowest_latency_buffer") or 0.0),
        tag_filtering=bool(settings.get("enable_tag_filtering")),
        tag_match_any=settings.get("tag_filtering_match_any", True) is not False,
        max_fallbacks=int(max_fallbacks) if isinstance(max_fallbacks, int) else None,
    )
