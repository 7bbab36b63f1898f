"""Assembles a ``Gateway`` from a config: Router, Redis, metrics, alerts, plugins.

The one place that decides which concrete objects a gateway is made of, so
the app, the CLI and tests build gateways the same way.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from plugins.circuit_breaker import Probe
from router_config.config.plugin_settings import AlertSettings, FailoverSettings
from router_config.config.schema import Deployment, RouterConfig
from router_config.flow.dispatch import Sleep
from router_config.flow.gateway import Gateway
from router_config.flow.hooks import Clock, monotonic
from router_config.flow.phases import Phases
from router_config.metrics import Metrics
from router_config.providers.build import build_router
from router_config.providers.classify import classify
from router_config.providers.key_ring import KeyRing
from router_config.providers.provider_call import ProviderCall
from router_config.providers.provider_calls import ProviderCalls
from router_config.registry import PluginDeps, build_plugins
from router_config.state.alerts import Alerter, AlertSink, LogSink, WebhookSink
from router_config.state.latency import LatencyStats
from router_config.state.shared_state import SharedState


@dataclass(frozen=True)
class Timing:
    """Time and randomness, injected so tests never sleep or depend on the wall clock."""

    clock: Clock = monotonic  # deadlines and latencies
    now: Clock = time.time  # state shared across replicas (breaker open-until times)
    sleep: Sleep = asyncio.sleep
    jitter: Callable[[], float] = random.random


def build_gateway(
    config: RouterConfig,
    timing: Timing,
    span_exporter: Any = None,
    *,
    metrics: Metrics | None = None,
    shared: SharedState | None = None,
) -> Gateway:
    """Everything a running gateway needs, not yet started; ``metrics`` and ``shared``
    (Redis, the spend journal, leases) carry over a reload. The gateway holds a reference
    to ``shared``: give it back with ``shared.release()`` after ``gateway.close()``."""
    shared = shared or SharedState(config, timing.now)
    redis = shared.redis
    metrics = metrics or Metrics()
    alerter = Alerter(alert_sinks(config.plugins.alerts), redis, timing.now, metrics)
    handle = build_router(config)
    transport = config.plugins.transport
    calls = ProviderCalls(
        handle.router,
        config.deployments,
        direct=transport.direct_openai,
        direct_anthropic=transport.direct_anthropic,
    )
    failover = config.plugins.failover
    phases = Phases(
        failover, LatencyStats(redis, timing.now, min_samples=failover.latency_min_samples)
    )
    probe = health_probe(calls, phases, failover, timing.clock)
    ledger = shared.ledger
    keys = KeyRing(config.deployments, config.plugins.keys, redis, alerter, metrics, timing.now)
    deps = PluginDeps(
        config=config,
        clock=timing.clock,
        metrics=metrics,
        alerter=alerter,
        redis=redis,
        now=timing.now,
        ledger=ledger,
        windows=shared.windows,
        leases=shared.leases,
        probe=probe,
        span_exporter=span_exporter,
    )
    gateway = Gateway(
        config,
        handle,
        calls,
        build_plugins(deps),
        clock=timing.clock,
        metrics=metrics,
        alerter=alerter,
        redis=redis,
        ledger=ledger,
        keys=keys,
        phases=phases,
        sleep=timing.sleep,
        jitter=timing.jitter,
    )
    shared.acquire()  # last: a gateway that failed to build holds no reference
    return gateway


def health_probe(
    calls: ProviderCalls, phases: Phases, settings: FailoverSettings, clock: Clock
) -> Probe:
    """A one-token request to one deployment (its first key), classified like any attempt and
    given the deployment's own first-token limit."""

    async def probe(deployment: Deployment) -> tuple[bool, str | None, str, float]:
        limit = phases.for_attempt(deployment, 10, last=False).first_token_s
        embeds = deployment.mode == "embedding"  # an embedding model is asked to embed
        ping = ProviderCall(
            deployment,
            0,
            [] if embeds else [{"role": "user", "content": "ping"}],
            {"input": "ping"} if embeds else {"max_tokens": 1},
            read_s=limit,
            connect_s=min(limit, settings.connect_timeout_s),
            call="embedding" if embeds else "chat",
        )
        started = clock()
        try:
            await asyncio.wait_for(calls.complete(ping), limit)
        except Exception as exc:  # every failure is a health signal, classified
            failure = classify(exc)
            return False, failure.reason, type(exc).__name__, (clock() - started) * 1000
        return True, None, "", (clock() - started) * 1000

    return probe


def alert_sinks(settings: AlertSettings) -> list[AlertSink]:
    """The configured alert destinations."""
    sinks: list[AlertSink] = []
    for sink in settings.sinks:
        if sink.type == "log" or not sink.url:
            sinks.append(LogSink())
        else:
            sinks.append(WebhookSink(sink.url, slack=sink.type == "slack"))
    return sinks
