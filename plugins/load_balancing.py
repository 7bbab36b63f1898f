"""``LoadBalancing``: shares traffic among deployments of one group and one ``order``.

Per request, before any attempt, each tier of the plan with more than one
deployment is ranked by ``router_settings.routing_strategy`` (``flow/balancing``)
and the ranking is left on the request for the planner (``ctx.routing``). The
figures the strategies read (requests in flight, latency, tokens this minute)
are gathered here on every attempt and shared through Redis (``BalanceStats``),
only for the strategy configured. Breaker, budget and rate-limit skips still
apply afterwards: a skipped deployment gives its turn to the next in the ranking.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from plugins.balance_stats import BalanceStats
from router_config.config.schema import Deployment, RouterConfig
from router_config.flow.balancing import (
    RoundRobin,
    least_busy,
    lowest_cost,
    lowest_latency,
    lowest_usage,
)
from router_config.flow.hooks import Attempt, GatewayPlugin, RequestContext
from router_config.flow.planner import Planner


class LoadBalancing(GatewayPlugin):
    """Ranks each shared tier per request; keeps the shared figures its strategy needs."""

    name = "load_balancing"

    def __init__(self, config: RouterConfig, stats: BalanceStats) -> None:
        self._config = config
        self._planner = Planner(config)
        self._stats = stats
        self._strategy = config.routing.strategy
        self._rr: dict[tuple[str, ...], RoundRobin] = {}
        self._begun: dict[int, list[tuple[str, str]]] = {}
        self._timed: set[tuple[int, int]] = set()  # (request, attempt) latencies recorded
        self._replica = uuid.uuid4().hex[:12]

    @staticmethod
    def needed(config: RouterConfig) -> bool:
        """Off when no group has two deployments of one order (and no wildcard route)."""
        planner = Planner(config)
        return bool(config.wildcards) or any(
            len(tier) > 1 for group in config.groups for tier in planner.tiers(group)
        )

    async def on_request(self, ctx: RequestContext) -> Mapping[str, Any] | None:
        for group in self._planner.groups_of(ctx.group):
            tiers = self._planner.tiers(group, ctx)
            if all(len(tier) < 2 for tier in tiers):
                continue
            ranking: list[str] = []
            for tier in tiers:
                ranking += await self._rank(tier) if len(tier) > 1 else [tier[0].id]
            ctx.routing[group] = ranking
        return None

    async def _rank(self, tier: Sequence[Deployment]) -> list[str]:
        ids = tuple(d.id for d in tier)
        rr = self._rr.setdefault(ids, RoundRobin()).rank(tier)
        strategy = self._strategy
        if strategy == "least-busy":
            return least_busy(tier, await self._stats.busy(ids), rr)
        if strategy == "latency-based-routing":
            routing = self._config.routing
            latency = await self._stats.latencies(ids, routing.latency_ttl_s)
            return lowest_latency(tier, latency, routing.latency_buffer, rr)
        if strategy.startswith("usage-based-routing"):
            return lowest_usage(tier, await self._stats.tokens(ids), rr)
        if strategy == "cost-based-routing":
            return lowest_cost(tier, rr)
        return rr

    async def before_attempt(self, ctx: RequestContext, deployment: Deployment) -> None:
        if self._strategy == "least-busy":
            token = f"{self._replica}:{ctx.state_key}:{deployment.id}"
            self._begun.setdefault(ctx.state_key, []).append((deployment.id, token))
            await self._stats.begin(deployment.id, token)

    async def on_skipped(self, ctx: RequestContext, deployment: Deployment, reason: str) -> None:
        begun = self._begun.get(ctx.state_key, [])
        for entry in [e for e in begun if e[0] == deployment.id]:
            begun.remove(entry)
            await self._stats.end(*entry)

    async def after_attempt(self, ctx: RequestContext, attempt: Attempt) -> None:
        if self._strategy != "latency-based-routing":
            return
        # A stream's latency is its time to first token (its first after_attempt: a stream is
        # seen again when it ends); a timeout counts at what it cost, so a hanging deployment
        # ranks last until it answers again.
        seen = (ctx.state_key, attempt.number)
        if seen in self._timed:
            return
        self._timed.add(seen)
        answered = attempt.outcome in ("ok", "streaming")
        if answered or (attempt.outcome == "error" and attempt.reason == "timeout"):
            await self._stats.record_latency(attempt.deployment.id, attempt.latency_ms)

    async def on_request_end(self, ctx: RequestContext) -> None:
        self._timed -= {(ctx.state_key, a.number) for a in ctx.attempts}
        for entry in self._begun.pop(ctx.state_key, []):
            await self._stats.end(*entry)
        if self._strategy.startswith("usage-based-routing"):
            used: dict[str, int] = {}
            for attempt in ctx.attempts:
                dep_id = attempt.deployment.id
                used[dep_id] = used.get(dep_id, 0) + attempt.usage.total_tokens
            for dep_id, tokens in used.items():
                if tokens:
                    await self._stats.add_tokens(dep_id, tokens)
