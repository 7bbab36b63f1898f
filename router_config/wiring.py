"""Assembles a ``Gateway`` from a config: Router, Redis, metrics, alerts, plugins.

The one place that decides which concrete objects a gateway is made of, so
the app, the CLI and tests build gateways the same way.
"""

from __future__ import annotations

from router_config.alerts import Alerter, AlertSink, LogSink, WebhookSink
from router_config.build import build_router
from router_config.gateway import Gateway
from router_config.hooks import Clock
from router_config.metrics import Metrics
from router_config.plugin_settings import AlertSettings
from router_config.registry import PluginDeps, build_plugins
from router_config.schema import RouterConfig
from router_config.shared_redis import SharedRedis


def build_gateway(config: RouterConfig, clock: Clock) -> Gateway:
    """Everything a running gateway needs, not yet started."""
    redis = SharedRedis(config.redis_url) if config.redis_url else None
    metrics = Metrics()
    alerter = Alerter(alert_sinks(config.plugins.alerts), redis, clock, metrics)
    deps = PluginDeps(config=config, clock=clock, metrics=metrics, alerter=alerter, redis=redis)
    plugins = build_plugins(deps)
    handle = build_router(config)
    return Gateway(
        config, handle, plugins, clock=clock, metrics=metrics, alerter=alerter, redis=redis
    )


def alert_sinks(settings: AlertSettings) -> list[AlertSink]:
    """The configured alert destinations."""
    sinks: list[AlertSink] = []
    for sink in settings.sinks:
        if sink.type == "log" or not sink.url:
            sinks.append(LogSink())
        else:
            sinks.append(WebhookSink(sink.url, slack=sink.type == "slack"))
    return sinks
