"""``PrometheusMetrics``: counts requests, attempts, tokens, cost and fallbacks.

Recorded when a request ends, from the attempts on its context, so a stream
is counted with its final usage and every failed attempt is counted too.
"""

from __future__ import annotations

from router_config.flow.hooks import Clock, GatewayPlugin, RequestContext
from router_config.metrics import Metrics


class PrometheusMetrics(GatewayPlugin):
    """Feeds the Prometheus series of ``router_config.metrics``."""

    name = "prometheus_metrics"

    def __init__(self, metrics: Metrics, clock: Clock) -> None:
        self._m = metrics
        self._clock = clock

    async def on_request_end(self, ctx: RequestContext) -> None:
        m = self._m
        m.requests.labels(ctx.group, ctx.outcome, str(ctx.status)).inc()
        m.request_latency.labels(ctx.group).observe(self._clock() - ctx.started)
        for attempt in ctx.attempts:
            dep = attempt.deployment
            m.attempts.labels(dep.provider, dep.id, attempt.outcome, attempt.reason or "").inc()
            m.attempt_latency.labels(dep.provider, dep.id).observe(attempt.latency_ms / 1000)
            if attempt.first_token_ms is not None:
                m.first_token.labels(dep.provider, dep.id).observe(attempt.first_token_ms / 1000)
            if attempt.hedge:
                result = "won" if attempt.ok else attempt.outcome
                m.hedges.labels(ctx.group, dep.id, result).inc()
            usage = attempt.usage
            for kind, count in (
                ("prompt", usage.prompt_tokens),
                ("completion", usage.completion_tokens),
                ("cached", usage.cached_tokens),
                ("reasoning", usage.reasoning_tokens),
            ):
                if count:
                    m.tokens.labels(dep.provider, dep.id, kind).inc(count)
            if attempt.cost_usd:
                m.cost.labels(dep.provider, dep.id, ctx.group, ctx.team).inc(attempt.cost_usd)
        final = ctx.final
        if final is not None and "fallback" in ctx.tags:
            failed = ctx.attempts[0].deployment.id if final.number > 1 else ctx.skipped[0][0]
            m.fallbacks.labels(ctx.group, failed, final.deployment.id).inc()
