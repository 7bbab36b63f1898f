"""Prometheus series for the gateway, on a registry per app instance.

A registry per instance (not prometheus-client's global one) lets two
gateways live in one test process without clashing. Label values are model
groups, deployment ids, providers, teams and reasons: never keys or prompts.

Under ``llm-router serve --workers N`` the supervisor sets
``PROMETHEUS_MULTIPROC_DIR`` before the workers start: each worker writes its
values there (prometheus-client's multiprocess mode) and ``render`` adds up
every worker's, so a scrape sees the whole server, whichever worker answers.
Gauges say how workers combine: sums for counts, the worst for states.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60)


class Metrics:
    """Every series the gateway and its plugins export."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "llm_router_requests",
            "Client requests by outcome.",
            ["model_group", "outcome", "status"],
            registry=r,
        )
        self.request_latency = Histogram(
            "llm_router_request_latency_seconds",
            "Client request latency.",
            ["model_group"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.attempts = Counter(
            "llm_router_attempts",
            "Provider attempts by outcome and reason.",
            ["provider", "deployment", "outcome", "reason"],
            registry=r,
        )
        self.attempt_latency = Histogram(
            "llm_router_attempt_latency_seconds",
            "Provider attempt latency.",
            ["provider", "deployment"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "llm_router_tokens",
            "Tokens by provider and kind.",
            ["provider", "deployment", "kind"],
            registry=r,
        )
        self.cost = Counter(
            "llm_router_cost_usd",
            "Spend in USD.",
            ["provider", "deployment", "model_group", "team"],
            registry=r,
        )
        self.first_token = Histogram(
            "llm_router_first_token_seconds",
            "Time from an attempt's start to its first token.",
            ["provider", "deployment"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.hedges = Counter(
            "llm_router_hedges",
            "Calls started in parallel because an earlier deployment was late, by result.",
            ["model_group", "deployment", "result"],
            registry=r,
        )
        self.fallbacks = Counter(
            "llm_router_fallbacks",
            "Requests answered by a fallback.",
            ["model_group", "failed_deployment", "served_deployment"],
            registry=r,
        )
        self.redis_up = Gauge(
            "llm_router_redis_up",
            "1 when Redis answers, 0 when down.",
            registry=r,
            multiprocess_mode="livemin",
        )
        self.spend_pending = Gauge(
            "llm_router_spend_journal_pending",
            "Settled costs in the local journal that Redis has not confirmed yet.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.breaker_state = Gauge(
            "llm_router_breaker_state",
            "Circuit breaker: 0 closed, 1 half-open, 2 open.",
            ["deployment"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.cache = Counter("llm_router_cache", "Cache lookups by result.", ["result"], registry=r)
        self.degraded = Counter(
            "llm_router_degraded",
            "Requests answered by degradation.",
            ["model_group", "how"],
            registry=r,
        )
        self.version_drift = Counter(
            "llm_router_version_drift",
            "Responses whose served model differs from the pin.",
            ["deployment", "served_model"],
            registry=r,
        )
        self.budget_utilisation = Gauge(
            "llm_router_budget_utilisation",
            "Committed spend / budget (1.0 = spent).",
            ["scope", "period"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.key_quarantined = Counter(
            "llm_router_key_quarantined",
            "Provider keys quarantined after a 401/403 (which key: GET /health/providers).",
            ["deployment"],
            registry=r,
        )
        self.rate_limited = Counter(
            "llm_router_rate_limited",
            "Requests refused or deployments skipped by a rate limit.",
            ["scope"],
            registry=r,
        )
        self.alerts = Counter("llm_router_alerts", "Alerts sent, by kind.", ["kind"], registry=r)

    def render(self) -> bytes:
        """The text exposition format for ``GET /metrics``: every worker's, when several."""
        folder = os.environ.get(MULTIPROC_ENV)
        if not folder:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
