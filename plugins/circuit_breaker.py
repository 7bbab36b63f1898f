"""``CircuitBreaker``: skip deployments that are failing, alert when they open and recover.

closed -> open after N consecutive failures, on a failure rate over a window, at once
on 401/403, or on 429 for the Retry-After it gave. A hung deployment still shows as
time-outs while hedges serve its callers: a call that lost a race goes on alone until
its first token or its own limit. Open deployments are skipped without a call. After
the cool-down exactly one probe (across replicas) decides: a request's own call, which
the attempt loop races against the next deployment so that no caller waits for it, or,
when no request comes, a background health call. A failed probe doubles the cool-down
(up to ``cooldown_max_s``), a good one closes the breaker. Only provider faults count:
the caller's own errors, deadlines and departures never move it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from plugins.breaker_state import BreakerStore
from router_config.config.plugin_settings import BreakerSettings
from router_config.config.schema import Deployment
from router_config.flow.hooks import Attempt, Clock, GatewayPlugin, RequestContext, SkipDeployment
from router_config.logs import emit
from router_config.metrics import Metrics
from router_config.state.alerts import Alert, Alerter

# Reasons that say nothing about the deployment's health: the caller's fault or deadline, our
# own choice (a rejected answer, a deadline that cut it before its own limit), a client that
# left, or one refused key of several (the key ring quarantines the key, the deployment is fine).
NOT_HEALTH = frozenset(
    {
        "bad_request",
        "invalid_request",
        "context_window",
        "content_policy",
        "rejected",
        "key_refused",
        "caller_deadline",
        "deadline",
        "client_closed",
        "hedge",
    }
)
STATE_VALUE = {"closed": 0, "half_open": 1, "open": 2}
# One health probe: (ok, failure reason, message, latency in ms).
Probe = Callable[[Deployment], Awaitable[tuple[bool, str | None, str, float]]]
EWMA_WEIGHT = 0.2
# A probe's claim outlives any probe (each is bounded by its first-token limit) and is released
# as soon as the probe's outcome is recorded.
PROBE_CLAIM_S = 30.0
# How often, and how long after a cool-down ends, a replica checks for an open breaker that no
# request has probed (requests get the first chance: their probe costs no extra call).
IDLE_PROBE_CHECK_S = 0.5


class CircuitBreaker(GatewayPlugin):
    """Per-deployment breaker; ``now`` is wall time so replicas agree on open-until times."""

    name = "circuit_breaker"

    def __init__(
        self,
        settings: BreakerSettings,
        store: BreakerStore,
        alerter: Alerter,
        metrics: Metrics,
        now: Clock,
        deployments: tuple[Deployment, ...],
        probe: Probe | None = None,
    ) -> None:
        self._s = settings
        self._probe = probe
        self._tasks: list[asyncio.Task[None]] = []
        self._store = store
        self._alerter = alerter
        self._now = now
        self._deployments = deployments
        self._gauge = metrics.breaker_state
        self._probing: set[tuple[int, str]] = set()  # (request, deployment) holding the probe
        self._seen_open: set[str] = set()  # deployments this replica saw open (idle probes)

    async def start(self) -> None:
        await self._store.start(dep.id for dep in self._deployments)
        if self._probe is None:
            return
        if self._s.probe_when_idle:
            self._tasks.append(asyncio.create_task(self._probe_idle_forever()))
        if self._s.health_check_interval_s:
            interval = self._s.health_check_interval_s
            self._tasks.append(asyncio.create_task(self._probe_forever(interval)))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self._store.close()

    async def _probe_forever(self, interval_s: float) -> None:
        """Active health checks: find an outage before a user request pays for it."""
        assert self._probe is not None
        while True:
            for dep in self._deployments:
                ok, reason, message, latency_ms = await self._probe(dep)
                await self.record(dep, ok, reason, message, latency_ms)
            await asyncio.sleep(interval_s)

    async def _probe_idle_forever(self) -> None:
        """Probe an open breaker whose cool-down ended without a request to probe it, so a
        recovered deployment is back even when nobody is calling."""
        assert self._probe is not None
        while True:
            await asyncio.sleep(IDLE_PROBE_CHECK_S)
            for dep in [d for d in self._deployments if d.id in self._seen_open]:
                state = await self._store.load(dep.id)
                if state.get("state", "closed") == "closed":
                    self._seen_open.discard(dep.id)
                    continue
                now = self._now()
                if now < float(state.get("open_until", 0)) + IDLE_PROBE_CHECK_S:
                    continue
                if not await self._store.claim_probe(dep.id, now, PROBE_CLAIM_S):
                    continue
                await self._store.update(dep.id, {"state": "half_open"})
                ok, reason, message, latency_ms = await self._probe(dep)
                await self.record(dep, ok, reason, message, latency_ms)

    async def before_attempt(self, ctx: RequestContext, deployment: Deployment) -> None:
        state = await self._store.load(deployment.id)
        if state.get("state", "closed") == "closed":
            return
        self._seen_open.add(deployment.id)
        now = self._now()
        open_until = float(state.get("open_until", 0))
        if now < open_until:
            raise SkipDeployment("breaker open", retry_after_s=open_until - now)
        if not await self._store.claim_probe(deployment.id, now, PROBE_CLAIM_S):
            raise SkipDeployment("breaker half-open: probe in flight")
        await self._store.update(deployment.id, {"state": "half_open"})
        self._gauge.labels(deployment.id).set(STATE_VALUE["half_open"])
        ctx.tags.add("breaker:probe")
        ctx.probes.add(deployment.id)  # the attempt loop races it: no caller waits for it
        self._probing.add((ctx.state_key, deployment.id))

    async def on_skipped(self, ctx: RequestContext, deployment: Deployment, reason: str) -> None:
        """This request claimed the half-open probe, then another plugin skipped the call:
        free the claim now, or the deployment waits a whole cooldown for its next probe."""
        if (ctx.state_key, deployment.id) in self._probing:
            self._probing.discard((ctx.state_key, deployment.id))
            ctx.probes.discard(deployment.id)
            await self._store.release_probe(deployment.id)

    async def on_request_end(self, ctx: RequestContext) -> None:
        for key in [k for k in self._probing if k[0] == ctx.state_key]:
            self._probing.discard(key)

    async def after_attempt(self, ctx: RequestContext, attempt: Attempt) -> None:
        self._probing.discard((ctx.state_key, attempt.deployment.id))
        if attempt.outcome == "streaming" or attempt.reason in NOT_HEALTH:
            return
        if attempt.outcome in ("hedge_lost", "probe_ok"):
            if attempt.first_token_ms is None:
                return  # stopped before it could show anything
            healthy = True  # it lost a race but answered: alive
        else:
            healthy = attempt.ok
        await self.record(
            attempt.deployment,
            healthy,
            attempt.reason,
            attempt.message,
            attempt.first_token_ms or attempt.latency_ms,
            attempt.retry_after_s,
        )

    async def record(
        self,
        dep: Deployment,
        ok: bool,
        reason: str | None,
        message: str,
        latency_ms: float,
        retry_after_s: float | None = None,
    ) -> None:
        """Feed one outcome (a request's attempt or a health probe) to the breaker."""
        now = self._now()
        window = str(int(now // self._s.window_s))
        if ok:
            if (
                await self._store.record_success(dep.id, window, latency_ms, EWMA_WEIGHT)
                != "closed"
            ):
                await self._close(dep)
            return
        state = await self._store.load(dep.id)
        fields: dict[str, Any] = {"ewma_ms": _ewma(state.get("ewma_ms"), latency_ms)}
        if state.get("window") != window:
            fields.update(window=window, win_total=0, win_failed=0)
        total = await self._store.update_and_incr(dep.id, fields, "win_total")
        failed = await self._store.incr(dep.id, "win_failed")
        consecutive = await self._store.incr(dep.id, "consecutive")
        await self._store.update(
            dep.id, {"last_error": f"{reason}: {message}"[:200], "last_error_at": now}
        )
        immediate = reason == "auth" or (reason == "rate_limited" and retry_after_s)
        rate_hit = total >= self._s.min_requests and failed / total > self._s.failure_rate
        if (
            immediate
            or consecutive >= self._s.failure_threshold
            or rate_hit
            or state.get("state") == "half_open"
        ):
            await self._open(dep, now, reason, retry_after_s, state)

    async def _open(
        self,
        dep: Deployment,
        now: float,
        reason: str | None,
        retry_after_s: float | None,
        state: dict[str, str],
    ) -> None:
        """Open for the next cool-down: ``cooldown_s`` for the first opening and the first
        failed probe (a flap is seen in about a second), then doubled for every further
        probe that fails, capped at ``cooldown_max_s`` (a long outage costs few probes)."""
        if state.get("state") == "open" and now < float(state.get("open_until", 0)):
            return  # another request or replica opened it meanwhile: one cool-down, one alert
        opens = await self._store.incr(dep.id, "opens")
        cooldown = min(self._s.cooldown_max_s, self._s.cooldown_s * 2 ** max(0, opens - 2))
        for_s = max(cooldown, retry_after_s or 0)
        await self._store.update(
            dep.id, {"state": "open", "opened_at": now, "open_until": now + for_s}
        )
        await self._store.release_probe(dep.id)
        self._seen_open.add(dep.id)
        self._gauge.labels(dep.id).set(STATE_VALUE["open"])
        emit(
            "breaker_open",
            logging.WARNING,
            deployment=dep.id,
            provider=dep.provider,
            reason=reason,
            cooldown_s=for_s,
        )
        await self._alerter.release(f"breaker_closed:{dep.id}")
        await self._alerter.fire(
            Alert(
                kind="breaker_open",
                title=f"llm-router: {dep.id} is failing, traffic moved away",
                message=f"Deployment {dep.id} ({dep.provider}/{dep.pinned_model}) failed "
                f"({reason}); skipped for {for_s:.0f} s, then probed.",
                dedupe_key=f"breaker_open:{dep.id}",
                severity="critical",
                fields={"deployment": dep.id, "provider": dep.provider, "reason": reason},
            )
        )

    async def _close(self, dep: Deployment) -> None:
        await self._store.update(
            dep.id, {"state": "closed", "consecutive": 0, "opens": 0, "open_until": 0}
        )
        await self._store.release_probe(dep.id)
        self._seen_open.discard(dep.id)
        self._gauge.labels(dep.id).set(STATE_VALUE["closed"])
        emit("breaker_closed", deployment=dep.id, provider=dep.provider)
        await self._alerter.release(f"breaker_open:{dep.id}")
        await self._alerter.fire(
            Alert(
                kind="breaker_closed",
                title=f"llm-router: {dep.id} recovered",
                message=f"Deployment {dep.id} ({dep.provider}/{dep.pinned_model}) answers again.",
                dedupe_key=f"breaker_closed:{dep.id}",
                severity="info",
                fields={"deployment": dep.id, "provider": dep.provider},
            )
        )

    async def health(self) -> dict[str, dict[str, Any]]:
        now = self._now()
        out: dict[str, dict[str, Any]] = {}
        for dep in self._deployments:
            s = await self._store.load(dep.id)
            total, failed = int(s.get("win_total", 0)), int(s.get("win_failed", 0))
            out[dep.id] = {
                "state": s.get("state", "closed"),
                "last_error": s.get("last_error"),
                "error_rate": round(failed / total, 3) if total else 0.0,
                "latency_ewma_ms": round(float(s["ewma_ms"]), 1) if s.get("ewma_ms") else None,
                "consecutive_failures": int(s.get("consecutive", 0)),
                "open_for_s": max(0.0, round(float(s.get("open_until", 0)) - now, 1)),
            }
        return out


def _ewma(previous: str | None, sample_ms: float) -> float:
    if not previous:
        return sample_ms
    return (1 - EWMA_WEIGHT) * float(previous) + EWMA_WEIGHT * sample_ms
