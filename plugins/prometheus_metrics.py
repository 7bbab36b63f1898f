"""``PrometheusMetrics``: counts requests, attempts, tokens, cost and fallbacks.

Each attempt is counted when it is over (a stream with its final usage, a call that
lost a hedged race when it stops, which may be after its request ended); requests and
fallbacks when the request ends.
"""

from __future__ import annotations

from router_config.flow.hooks import Attempt, Clock, GatewayPlugin, RequestContext
from router_config.metrics import Metrics


class PrometheusMetrics(GatewayPlugin):
    """Feeds the Prometheus series of ``router_config.metrics``."""

    name = "prometheus_metrics"
    records = True  # its end-of-request work runs once a whole answer is sent

    def __init__(self, metrics: Metrics, clock: Clock) -> None:
        self._m = metrics
        self._clock = clock

    async def after_attempt(self, ctx: RequestContext, attempt: Attempt) -> None:
        if attempt.outcome in ("streaming", "pending"):
            return  # counted once it is over
        m, dep = self._m, attempt.deployment
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

    async def on_request_end(self, ctx: RequestContext) -> None:
        m = self._m
        m.requests.labels(ctx.group, ctx.outcome, str(ctx.status)).inc()
        m.request_latency.labels(ctx.group).observe(self._clock() - ctx.started)
        final = ctx.final
        if final is not None and "fallback" in ctx.tags:
            failed = ctx.attempts[0].deployment.id if final.number > 1 else ctx.skipped[0][0]
            m.fallbacks.labels(ctx.group, failed, final.deployment.id).inc()
