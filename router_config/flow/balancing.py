"""How deployments of one group and one ``order`` are ranked for a request.

LiteLLM's ``routing_strategy`` values, each a pure function of the tier and
the shared statistics the load-balancing plugin gathers (in-flight requests,
latency, tokens this minute). The first deployment of a ranking is the one
the request goes to; the rest follow as failover within the tier.

``simple-shuffle`` shares traffic by ``weight``, else ``rpm``, else ``tpm``
(the first of these any deployment sets; one that sets none gets no share
and serves only as failover), else equally, as LiteLLM does. LiteLLM draws
at random; we use a smooth weighted round robin, which gives the same shares
exactly over any window instead of on average, and needs no shared state: each
replica keeps exact shares, so together they do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from router_config.config.schema import Deployment
from router_config.providers.pricing import declared_prices


def shares(tier: Sequence[Deployment]) -> list[float]:
    """Each deployment's weight: ``weight``, else ``rpm``, else ``tpm``, else 1 each."""
    for metric in ("weight", "rpm", "tpm"):
        values = [float(getattr(d, metric) or 0) for d in tier]
        if max(values, default=0) > 0:
            return values
    return [1.0] * len(tier)


@dataclass
class RoundRobin:
    """Smooth weighted round robin (nginx's): each pick goes to the deployment furthest
    behind its share, so any window of N picks is within one pick of the weights."""

    current: dict[str, float] = field(default_factory=dict)

    def rank(self, tier: Sequence[Deployment]) -> list[str]:
        weights = shares(tier)
        total = sum(weights)
        for dep, weight in zip(tier, weights, strict=True):
            self.current[dep.id] = self.current.get(dep.id, 0.0) + weight
        chosen = max(
            (d for d, w in zip(tier, weights, strict=True) if w > 0),
            key=lambda d: self.current[d.id],
        )
        self.current[chosen.id] -= total
        rest = sorted(
            (d for d in tier if d is not chosen),
            key=lambda d: -weights[tier.index(d)],
        )
        return [chosen.id, *(d.id for d in rest)]


def by_value(
    tier: Sequence[Deployment], values: Mapping[str, float], tie_break: Sequence[str]
) -> list[str]:
    """Ascending ``values`` (missing ones first: no data yet, so try them); ties keep the
    order of ``tie_break`` (the round robin's), so equal deployments still share."""
    position = {dep_id: n for n, dep_id in enumerate(tie_break)}
    ordered = sorted(
        tier,
        key=lambda d: (values.get(d.id, -1.0), position.get(d.id, len(position))),
    )
    return [d.id for d in ordered]


def least_busy(tier: Sequence[Deployment], busy: Mapping[str, int], rr: Sequence[str]) -> list[str]:
    """Fewest requests in flight first (``least-busy``)."""
    return by_value(tier, {d.id: float(busy.get(d.id, 0)) for d in tier}, rr)


def lowest_latency(
    tier: Sequence[Deployment], latency_ms: Mapping[str, float], buffer: float, rr: Sequence[str]
) -> list[str]:
    """Lowest latency first (``latency-based-routing``); deployments within ``buffer`` (a
    fraction, LiteLLM's ``lowest_latency_buffer``) of the fastest count as equally fast."""
    known = [latency_ms[d.id] for d in tier if d.id in latency_ms]
    if known and buffer > 0:
        fastest = min(known)
        latency_ms = {
            dep_id: (fastest if ms <= fastest * (1 + buffer) else ms)
            for dep_id, ms in latency_ms.items()
        }
    return by_value(tier, latency_ms, rr)


def lowest_usage(
    tier: Sequence[Deployment], tokens: Mapping[str, int], rr: Sequence[str]
) -> list[str]:
    """Fewest tokens this minute first, relative to ``tpm`` where set (``usage-based-routing``)."""
    return by_value(tier, {d.id: tokens.get(d.id, 0) / (d.tpm or 1) for d in tier}, rr)


def lowest_cost(tier: Sequence[Deployment], rr: Sequence[str]) -> list[str]:
    """Cheapest per input plus output token first (``cost-based-routing``)."""
    costs = {}
    for dep in tier:
        prices = declared_prices(dep)
        costs[dep.id] = prices.get("input_cost_per_token", 0.0) + prices.get(
            "output_cost_per_token", 0.0
        )
    return by_value(tier, costs, rr)
