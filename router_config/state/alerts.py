"""Alerts to people: a sink per destination, de-duplicated across replicas.

An alert has a de-duplication key (e.g. ``breaker_open:openai-gpt-4o``); the
first replica to claim it in Redis (``SET NX`` with a TTL) sends it, the others
stay quiet, so a provider outage pages once, not once per request or replica.
Without Redis the claim is local. Delivery runs in the background with a short
timeout: a slow webhook never delays a client request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from router_config.flow.hooks import Clock
from router_config.logs import emit
from router_config.metrics import Metrics
from router_config.state.shared_redis import SharedRedis

DELIVERY_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Alert:
    """Something a person should know now."""

    kind: str
    title: str
    message: str
    dedupe_key: str
    dedupe_ttl_s: int = 3600
    severity: str = "warning"
    fields: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        """The generic JSON webhook body."""
        return {
            "kind": self.kind,
            "severity": self.severity,
            "title": self.title,
            "message": self.message,
            "fields": self.fields,
            "source": "llm-router",
        }


class AlertSink(Protocol):
    """A destination for alerts."""

    async def send(self, alert: Alert) -> None: ...


class LogSink:
    """Writes alerts as JSON log lines (the default sink)."""

    async def send(self, alert: Alert) -> None:
        emit("alert", logging.WARNING, **alert.payload())


class WebhookSink:
    """POSTs alerts to a URL, as our JSON payload or a Slack-compatible one."""

    def __init__(self, url: str, *, slack: bool = False) -> None:
        self._url = url
        self._slack = slack
        self._client = httpx.AsyncClient(timeout=DELIVERY_TIMEOUT_S)

    async def send(self, alert: Alert) -> None:
        body = {"text": f"*{alert.title}*\n{alert.message}"} if self._slack else alert.payload()
        response = await self._client.post(self._url, json=body)
        response.raise_for_status()

    async def close(self) -> None:
        await self._client.aclose()


class Alerter:
    """Claims, then delivers, each alert once per de-duplication window."""

    def __init__(
        self, sinks: Sequence[AlertSink], redis: SharedRedis | None, clock: Clock, metrics: Metrics
    ) -> None:
        self._sinks = tuple(sinks)
        self._redis = redis
        self._clock = clock
        self._metrics = metrics
        self._local: dict[str, float] = {}
        self._pending: set[asyncio.Task[None]] = set()

    async def fire(self, alert: Alert) -> bool:
        """Send ``alert`` unless it was already sent in its window; True if this call sent it."""
        if not await self._claim(alert):
            return False
        self._metrics.alerts.labels(alert.kind).inc()
        task = asyncio.create_task(self._deliver(alert))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return True

    async def _claim(self, alert: Alert) -> bool:
        if self._redis is not None and self._redis.available:
            key = self._redis.key("alert", alert.dedupe_key)
            claimed = await self._redis.run(
                lambda c: c.set(key, "1", nx=True, ex=alert.dedupe_ttl_s), None
            )
            if claimed is not None or self._redis.available:
                return bool(claimed)
        now = self._clock()
        if self._local.get(alert.dedupe_key, float("-inf")) > now:
            return False
        self._local[alert.dedupe_key] = now + alert.dedupe_ttl_s
        return True

    async def release(self, dedupe_key: str) -> None:
        """Forget a claim, so the same alert may fire again (e.g. a breaker reopens)."""
        self._local.pop(dedupe_key, None)
        if self._redis is not None:
            key = self._redis.key("alert", dedupe_key)
            await self._redis.run(lambda c: c.delete(key), None)

    async def _deliver(self, alert: Alert) -> None:
        for sink in self._sinks:
            try:
                await asyncio.wait_for(sink.send(alert), DELIVERY_TIMEOUT_S)
            except Exception as exc:  # a broken sink must not stop the others
                emit(
                    "alert_delivery_failed",
                    logging.ERROR,
                    kind=alert.kind,
                    sink=type(sink).__name__,
                    error_class=type(exc).__name__,
                )

    async def close(self) -> None:
        """Wait briefly for alerts in flight, then close the sinks."""
        if self._pending:
            await asyncio.wait(self._pending, timeout=DELIVERY_TIMEOUT_S)
        for sink in self._sinks:
            closer = getattr(sink, "close", None)
            if closer is not None:
                await closer()
