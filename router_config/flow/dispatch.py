"""The attempt loop: planned deployments race to a first token, within one failover phase.

``ProviderCalls`` makes each call (through LiteLLM's Router, or directly when
LiteLLM would send the request unchanged), but the loop across deployments is
ours: LiteLLM has no single deadline across retries and fallbacks, and its
defaults take 5-40 s to fail over (../shared/LITELLM_NOTES.md).

A request starts its plan's first deployment. When that one is late (past its
hedge point, see ``phases``) the next one is started in parallel, within the
hedge budget; a failure starts the next one at once. The first to produce a
token serves, and the others are cancelled (``hedge_lost``), except a half-open
breaker's probe, which goes on in the background until its own result is known
(the caller never waits for it: it races the next deployment from the start).
No deployment is started after the failover deadline. Every attempt is recorded
on the request context, so logs, metrics and traces see all of them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Awaitable, Callable, Sequence

from router_config.config.plugin_settings import FailoverSettings
from router_config.config.schema import Deployment
from router_config.errors import (
    UpstreamRejectedRequest,
)
from router_config.flow.attempt import AttemptRunner, Limits, Served
from router_config.flow.hedging import HedgeBudget
from router_config.flow.hooks import (
    Attempt,
    Clock,
    GatewayPlugin,
    RejectAttempt,
    RequestContext,
    SkipDeployment,
)
from router_config.flow.phases import Phases
from router_config.flow.planner import Planner
from router_config.flow.race import Lane, Race
from router_config.providers.classify import Failure
from router_config.providers.key_ring import KeyChoice, KeyRing

log = logging.getLogger("llm_router.dispatch")

# Failures worth retrying on the same deployment (a timeout is not: it already cost the most).
RETRYABLE = frozenset({"server_error", "connection", "rate_limited", "malformed"})

Sleep = Callable[[float], Awaitable[None]]


class Dispatcher:
    """Runs one request across deployments."""

    def __init__(
        self,
        runner: AttemptRunner,
        planner: Planner,
        plugins: Sequence[GatewayPlugin],
        settings: FailoverSettings,
        clock: Clock,
        keys: KeyRing,
        phases: Phases,
        *,
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._runner = runner
        self._keys = keys
        self.planner = planner
        self._plugins = plugins
        self.settings = settings
        self.clock = clock
        self.phases = phases
        self.hedges = HedgeBudget(settings.hedge_budget, settings.hedge_burst)
        self._sleep = sleep
        self._jitter = jitter
        self.background: set[asyncio.Task[None]] = set()

    async def run(self, ctx: RequestContext) -> Served:
        """Serve ``ctx`` from the first deployment that answers in time."""
        race = Race(self, ctx, self.planner.plan(ctx.group, ctx))
        try:
            return await race.run()
        finally:
            await race.stop()

    async def aclose(self) -> None:
        """Shutdown: background probes are cancelled (their claim expires by itself)."""
        for task in list(self.background):
            task.cancel()
        if self.background:
            await asyncio.gather(*self.background, return_exceptions=True)

    # -- one lane ------------------------------------------------------------------
    async def lane(
        self, ctx: RequestContext, lane: Lane, first: KeyChoice, failover_at: float
    ) -> tuple[Served | None, Failure | None]:
        try:
            return await self._with_retries(ctx, lane, first, failover_at)
        finally:
            lane.wake()

    async def _with_retries(
        self, ctx: RequestContext, lane: Lane, first: KeyChoice, failover_at: float
    ) -> tuple[Served | None, Failure | None]:
        """Attempt with ``first``; on a refused key try the next key at once; retry the
        same deployment only when it is the plan's last, within the failover deadline."""
        deployment = lane.deployment
        retries = self.settings.max_retries if lane.last else 0
        tried: set[int] = set()
        failure: Failure | None = None
        n = 0
        choice: KeyChoice | None = first
        while choice is not None:
            served, failure = await self._attempt(ctx, lane, choice, failover_at)
            if served is not None or failure is None:
                return served, failure
            ends = min(failover_at, ctx.caller_deadline or math.inf)
            remaining = ends - self.clock()
            if failure.key_bad and self._keys.rotates(deployment):
                tried.add(choice.index)
                await self._keys.quarantine(deployment, choice, failure.status or 401)
                if remaining < self.settings.min_attempt_s:
                    break
                choice = await self._keys.choose(deployment, tried)  # nothing wrong upstream
                continue
            if n == retries or failure.reason not in RETRYABLE:
                break
            pause = self._backoff(n, failure.retry_after_s)
            if pause + self.settings.min_attempt_s >= remaining:
                break  # the retry cannot finish in time: stop now, no sleep
            await self._sleep(pause)
            n += 1
            choice = await self._keys.choose(deployment, tried)
        # No key left (another request or replica quarantined the last one meanwhile):
        # a failure like any other, so the plan moves on to the next deployment.
        return None, failure or Failure("keys_quarantined", True, None)

    async def _attempt(
        self, ctx: RequestContext, lane: Lane, key: KeyChoice, failover_at: float
    ) -> tuple[Served | None, Failure | None]:
        attempt = Attempt(
            number=len(ctx.attempts) + 1,
            deployment=lane.deployment,
            started=self.clock(),
            key=key.fingerprint,
            hedge=lane.hedge,
            probe=lane.probe,
        )
        ctx.attempts.append(attempt)
        lane.attempt = attempt
        limits = Limits(
            first_token_at=attempt.started + lane.phase.first_token_s,
            failover_at=None if lane.last else failover_at,
            caller_at=ctx.caller_deadline,
        )

        def on_first_token() -> None:
            lane.got_first = True
            lane.wake()

        served, failure = await self._runner.run(ctx, attempt, key.index, limits, on_first_token)
        if failure is not None:
            if failure.key_bad and self._keys.rotates(lane.deployment):
                failure = Failure("key_refused", failure.fail_over, failure.status, key_bad=True)
                attempt.reason = "key_refused"  # the key, not the deployment
            await self.after(ctx, attempt)
            return None, failure
        assert served is not None
        try:
            await self.after(ctx, attempt, reject=True)
        except RejectAttempt as rejected:
            attempt.outcome, attempt.reason, attempt.message = (
                "rejected",
                "rejected",
                rejected.reason,
            )
            if served.chunks is not None:  # a stream we will not relay: release it
                await served.chunks.aclose()  # type: ignore[attr-defined]
            if not rejected.fail_over:
                raise rejected.error or UpstreamRejectedRequest(rejected.reason) from None
            return None, Failure("rejected", True, None)
        return served, None

    async def after(self, ctx: RequestContext, attempt: Attempt, *, reject: bool = False) -> None:
        rejected: RejectAttempt | None = None
        for plugin in self._plugins:  # every plugin sees the attempt, even after a rejection
            try:
                await plugin.after_attempt(ctx, attempt)
            except RejectAttempt as exc:
                rejected = rejected or exc
        if rejected is not None and reject:
            raise rejected

    def _backoff(self, n: int, retry_after_s: float | None) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2^n)], or the provider's Retry-After."""
        if retry_after_s is not None:
            return retry_after_s
        s = self.settings
        return float(self._jitter() * min(s.backoff_cap_s, s.backoff_base_s * 2**n))

    async def admit(self, ctx: RequestContext, deployment: Deployment) -> KeyChoice | None:
        """The key the first attempt will use, or None when the deployment is skipped."""
        key = await self._keys.choose(deployment, set())
        if key is None:
            ctx.skipped.append((deployment.id, "keys_quarantined"))
            return None
        admitted: list[GatewayPlugin] = []
        try:
            for plugin in self._plugins:
                await plugin.before_attempt(ctx, deployment)
                admitted.append(plugin)
        except SkipDeployment as skip:
            ctx.skipped.append((deployment.id, skip.reason))
            if skip.retry_after_s is not None and skip.retry_after_s > 0:
                ctx.skipped_until.append(self.clock() + skip.retry_after_s)
            for plugin in admitted:  # give back what the plugins before the skip took
                try:
                    await plugin.on_skipped(ctx, deployment, skip.reason)
                except Exception:  # bookkeeping: never fails the request
                    log.exception("plugin %s failed in on_skipped", plugin.name)
            return None
        return key
