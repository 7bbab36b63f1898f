"""Which plugins run, built from the config by name, in pipeline order.

Plugins get their dependencies (clock, Redis, alerter, metrics) through their
constructor; none reaches into another plugin or into the HTTP layer. The
order of ``PLUGIN_ORDER`` is the order their hooks run in.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from plugins.abstention import Abstention
from plugins.balance_stats import BalanceStats
from plugins.breaker_state import BreakerStore
from plugins.budget_alerts import BudgetAlerts
from plugins.cache_store import CacheStore
from plugins.circuit_breaker import CircuitBreaker, Probe
from plugins.client_rate_limits import ClientRateLimits
from plugins.deployment_rate_limits import DeploymentRateLimits
from plugins.langfuse_logger import LangfuseLogger
from plugins.litellm_callbacks import LiteLLMCallbacks
from plugins.load_balancing import LoadBalancing
from plugins.prometheus_metrics import PrometheusMetrics
from plugins.request_log import RequestLogger
from plugins.response_cache import ResponseCache
from plugins.version_history import VersionHistory, config_hash
from plugins.version_pinning import VersionPinning
from router_config.config.callback_names import callback_instance
from router_config.config.routes import resolve_group
from router_config.config.schema import RouterConfig
from router_config.flow.hooks import Clock, GatewayPlugin
from router_config.logs import emit
from router_config.metrics import Metrics
from router_config.state.alerts import Alerter
from router_config.state.budget_leases import BudgetLeases
from router_config.state.rate_windows import RateWindows
from router_config.state.shared_redis import SharedRedis
from router_config.state.spend_ledger import SpendLedger


@dataclass(frozen=True)
class PluginDeps:
    """What a plugin may be given: never another plugin."""

    config: RouterConfig
    clock: Clock
    metrics: Metrics
    alerter: Alerter
    redis: SharedRedis | None
    now: Clock  # wall time, for state shared between replicas
    ledger: SpendLedger
    windows: RateWindows
    leases: BudgetLeases
    probe: Probe | None = None
    span_exporter: Any = None  # tests: an in-memory OTel exporter for Langfuse


Factory = Callable[[PluginDeps], GatewayPlugin | None]


def _breaker(deps: PluginDeps) -> GatewayPlugin | None:
    settings = deps.config.plugins.breaker
    if not settings.enabled:
        return None
    return CircuitBreaker(
        settings,
        BreakerStore(deps.redis),
        deps.alerter,
        deps.metrics,
        deps.now,
        deps.config.deployments,
        deps.probe,
    )


def _cache(deps: PluginDeps) -> GatewayPlugin | None:
    settings = deps.config.plugins.cache
    if settings.mode == "off":
        return None
    store = CacheStore(deps.redis, settings.max_entries, settings.namespace)
    return ResponseCache(settings, store, deps.config, deps.metrics, deps.now, deps.ledger)


def _callbacks(deps: PluginDeps) -> GatewayPlugin | None:
    """LiteLLM callbacks of the config, as instances (imported or built once per process)."""
    configured = deps.config.callbacks
    if not configured:
        return None
    source = deps.config.source

    def instances(*kinds: str) -> list[Any]:
        out: list[Any] = []
        for kind in kinds:
            for name in configured.get(kind, ()):
                try:
                    found = callback_instance(name, source)
                except ImportError as exc:  # a LiteLLM logger whose dependencies are missing
                    emit("callback_unavailable", logging.WARNING, callback=name, reason=str(exc))
                    continue
                if found is not None and all(found is not o for o in out):
                    out.append(found)
        return out

    return LiteLLMCallbacks(
        success=instances("callbacks", "success_callback"),
        failure=instances("callbacks", "failure_callback"),
        hooks=instances("callbacks"),
        clock=deps.clock,
        resolve=lambda name: resolve_group(deps.config, name),
    )


def _balancing(deps: PluginDeps) -> GatewayPlugin | None:
    if not LoadBalancing.needed(deps.config):
        return None
    return LoadBalancing(deps.config, BalanceStats(deps.redis, deps.now))


def _pinning(deps: PluginDeps) -> GatewayPlugin:
    settings = deps.config.plugins.pinning
    history = VersionHistory.of(deps.config, deps.redis)
    return VersionPinning(deps.config, settings, deps.alerter, deps.metrics, history, deps.now)


def _langfuse(deps: PluginDeps) -> GatewayPlugin | None:
    settings = deps.config.plugins.langfuse
    public = settings.public_key or os.environ.get("LANGFUSE_PUBLIC_KEY")
    secret = settings.secret_key or os.environ.get("LANGFUSE_SECRET_KEY")
    if not settings.enabled or not public or not secret:
        emit(
            "tracing_off",
            logging.WARNING,
            message="Langfuse tracing is off: set "
            "router_plugins.langfuse.public_key/secret_key or LANGFUSE_PUBLIC_KEY/SECRET_KEY",
        )
        return None
    from langfuse import Langfuse
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    host = settings.host or os.environ.get("LANGFUSE_HOST") or "http://127.0.0.1:3000"
    release = gateway_version()
    # A tracer provider of our own: the app's other OpenTelemetry setup is left alone. Its
    # resource names the service (else OTel says unknown_service:python3).
    resource = Resource.create({"service.name": "llm-router", "service.version": release})
    client = Langfuse(
        public_key=public,
        secret_key=secret,
        host=host,
        timeout=2,
        flush_at=settings.flush_at,
        environment=settings.environment,
        release=release,
        tracer_provider=TracerProvider(resource=resource),
        span_exporter=deps.span_exporter,
    )
    emit("tracing_on", host=host, environment=settings.environment, release=release)
    return LangfuseLogger(
        client,
        log_content=settings.log_content,
        flush_timeout_s=settings.flush_timeout_s,
        version=config_hash(deps.config),
    )


def gateway_version() -> str:
    """The installed llm-router's version (Langfuse's release, OTel's service.version)."""
    try:
        return importlib.metadata.version("llm-router")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        return "0+unknown"


PLUGIN_ORDER: tuple[tuple[str, Factory], ...] = (
    ("langfuse_logger", _langfuse),  # first: its trace must exist even for a cache hit
    (
        "client_rate_limits",
        lambda deps: ClientRateLimits(deps.config, deps.windows, deps.metrics),
    ),
    ("litellm_callbacks", _callbacks),  # before the cache: a pre-call hook may change the request
    ("version_pinning", _pinning),
    ("response_cache", _cache),
    ("load_balancing", _balancing),
    ("circuit_breaker", _breaker),
    (
        "deployment_rate_limits",
        lambda deps: DeploymentRateLimits(deps.config, deps.windows, deps.metrics),
    ),
    (
        "budget_alerts",
        lambda deps: BudgetAlerts(
            deps.config.plugins.budgets,
            deps.ledger,
            deps.leases,
            deps.alerter,
            deps.metrics,
            deps.now,
        ),
    ),
    ("abstention", lambda deps: Abstention(deps.config.plugins.abstain, deps.metrics)),
    ("prometheus_metrics", lambda deps: PrometheusMetrics(deps.metrics, deps.clock)),
    ("request_log", lambda deps: RequestLogger(deps.clock)),
)


def build_plugins(deps: PluginDeps) -> list[GatewayPlugin]:
    """Instantiate every enabled plugin; a factory returns None when its plugin is off."""
    plugins = [factory(deps) for _, factory in PLUGIN_ORDER]
    return [p for p in plugins if p is not None]
