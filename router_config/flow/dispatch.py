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
import contextlib
import logging
import math
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from router_config.config.plugin_settings import FailoverSettings
from router_config.config.schema import Deployment
from router_config.errors import (
    AllProvidersFailed,
    AttemptSummary,
    DeadlineExceeded,
    InvalidRequest,
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
from router_config.flow.phases import Phase, Phases
from router_config.flow.planner import Planner
from router_config.providers.classify import Failure
from router_config.providers.key_ring import KeyChoice, KeyRing
from router_config.providers.pricing import cost_usd, counted_usage

log = logging.getLogger("llm_router.dispatch")

# Failures worth retrying on the same deployment (a timeout is not: it already cost the most).
RETRYABLE = frozenset({"server_error", "connection", "rate_limited", "malformed"})

Sleep = Callable[[float], Awaitable[None]]


@dataclass(eq=False)
class Lane:
    """One deployment being tried for a request (its retries and key changes included)."""

    deployment: Deployment
    phase: Phase
    started: float
    last: bool
    hedge: bool = False  # started because an earlier lane was late
    probe: bool = False
    got_first: bool = False
    hedged: bool = False  # a later lane was already started because this one was late
    attempt: Attempt | None = None
    signal: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    task: asyncio.Task[tuple[Served | None, Failure | None]] | None = None

    def wake(self) -> None:
        if not self.signal.done():
            self.signal.set_result(None)

    @property
    def hedge_at(self) -> float:
        return self.started + self.phase.hedge_after_s


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
        self._planner = planner
        self._plugins = plugins
        self._s = settings
        self._clock = clock
        self._phases = phases
        self._hedges = HedgeBudget(settings.hedge_budget, settings.hedge_burst)
        self._sleep = sleep
        self._jitter = jitter
        self._background: set[asyncio.Task[None]] = set()

    async def run(self, ctx: RequestContext) -> Served:
        """Serve ``ctx`` from the first deployment that answers in time."""
        race = _Race(self, ctx, self._planner.plan(ctx.group, ctx))
        try:
            return await race.run()
        finally:
            await race.stop()

    async def aclose(self) -> None:
        """Shutdown: background probes are cancelled (their claim expires by itself)."""
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    # -- one lane ------------------------------------------------------------------
    async def _lane(
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
        retries = self._s.max_retries if lane.last else 0
        tried: set[int] = set()
        failure: Failure | None = None
        n = 0
        choice: KeyChoice | None = first
        while choice is not None:
            served, failure = await self._attempt(ctx, lane, choice, failover_at)
            if served is not None or failure is None:
                return served, failure
            ends = min(failover_at, ctx.caller_deadline or math.inf)
            remaining = ends - self._clock()
            if failure.key_bad and self._keys.rotates(deployment):
                tried.add(choice.index)
                await self._keys.quarantine(deployment, choice, failure.status or 401)
                if remaining < self._s.min_attempt_s:
                    break
                choice = await self._keys.choose(deployment, tried)  # nothing wrong upstream
                continue
            if n == retries or failure.reason not in RETRYABLE:
                break
            pause = self._backoff(n, failure.retry_after_s)
            if pause + self._s.min_attempt_s >= remaining:
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
            started=self._clock(),
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
            await self._after(ctx, attempt)
            return None, failure
        assert served is not None
        try:
            await self._after(ctx, attempt, reject=True)
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

    async def _after(self, ctx: RequestContext, attempt: Attempt, *, reject: bool = False) -> None:
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
        s = self._s
        return float(self._jitter() * min(s.backoff_cap_s, s.backoff_base_s * 2**n))

    async def _admit(self, ctx: RequestContext, deployment: Deployment) -> KeyChoice | None:
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
                ctx.skipped_until.append(self._clock() + skip.retry_after_s)
            for plugin in admitted:  # give back what the plugins before the skip took
                try:
                    await plugin.on_skipped(ctx, deployment, skip.reason)
                except Exception:  # bookkeeping: never fails the request
                    log.exception("plugin %s failed in on_skipped", plugin.name)
            return None
        return key


class _Race:
    """One request's lanes: started, hedged, won, cancelled."""

    def __init__(self, d: Dispatcher, ctx: RequestContext, plan: list[Deployment]) -> None:
        self.d = d
        self.ctx = ctx
        self.plan = plan
        self.next = 0
        self.lanes: list[Lane] = []
        prefill = d._phases.prefill_s(plan[0], ctx.prompt_tokens_estimate) if plan else 0.0
        self.failover_at = ctx.deadline + prefill
        self.caller_cut = False

    async def run(self) -> Served:
        ctx, d = self.ctx, self.d
        while True:
            if not self.lanes and not await self._start(hedge_for=None):
                break
            winner = await self._wait()
            if winner is not None:
                served = await self._finish(winner)
                if served is not None:
                    return served
        if ctx.caller_deadline is not None and (
            self.caller_cut or d._clock() >= ctx.caller_deadline
        ):
            raise DeadlineExceeded(
                "The request's own deadline (x-router-timeout-ms) ran out before a provider "
                "answered."
            )
        if d._clock() >= self.failover_at:
            ctx.tags.add("deadline")
        # Retry-After: when the first skipped deployment takes calls again, else 1 s.
        wait = math.ceil(min(ctx.skipped_until) - d._clock()) if ctx.skipped_until else 1
        raise AllProvidersFailed([_summary(a) for a in ctx.attempts], retry_after_s=wait)

    async def _wait(self) -> Lane | None:
        """Wait for a first token, a lane's end or the newest lane's hedge point; returns the
        winning lane, or None after handling whatever else happened."""
        d = self.d
        newest = self.lanes[-1]
        timeout = None
        if self._may_hedge(newest):
            timeout = max(0.0, newest.hedge_at - d._clock())
        pending = [lane.signal for lane in self.lanes if not lane.signal.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        firsts = [lane for lane in self.lanes if lane.got_first]
        if firsts:
            return firsts[0]
        for lane in [lane for lane in self.lanes if lane.task is not None and lane.task.done()]:
            self.lanes.remove(lane)
            _, failure = lane.task.result() if lane.task is not None else (None, None)
            if failure is not None:
                await self._failed(failure)
        if self.lanes and self._may_hedge(self.lanes[-1]) and d._clock() >= self.lanes[-1].hedge_at:
            late = self.lanes[-1]
            late.hedged = True
            budget_ok = late.probe or self.d._hedges.spend(late.deployment.id)
            if budget_ok:
                await self._start(hedge_for=late)
        return None

    def _may_hedge(self, lane: Lane) -> bool:
        return (
            self.d._s.hedge
            and not lane.hedged
            and self.next < len(self.plan)
            and self.d._clock() < self.failover_at
        )

    async def _start(self, *, hedge_for: Lane | None) -> bool:
        """Start the next admissible deployment of the plan; False when none is left."""
        d, ctx = self.d, self.ctx
        while self.next < len(self.plan):
            if self.failover_at - d._clock() < d._s.min_attempt_s:
                return False
            if ctx.caller_deadline is not None and ctx.caller_deadline - d._clock() <= 0:
                self.caller_cut = True
                return False
            deployment = self.plan[self.next]
            self.next += 1
            key = await d._admit(ctx, deployment)
            if key is None:
                continue
            last = self.next == len(self.plan)
            lane = Lane(
                deployment=deployment,
                phase=d._phases.for_attempt(deployment, ctx.prompt_tokens_estimate, last=last),
                started=d._clock(),
                last=last,
                hedge=hedge_for is not None,
                probe=deployment.id in ctx.probes,
            )
            if lane.probe:  # no caller waits for a probe: the next deployment starts with it
                lane.phase = Phase(0.0, lane.phase.first_token_s, lane.phase.learned)
            if hedge_for is not None:
                ctx.tags.add("hedge")
            d._hedges.earn(deployment.id)
            lane.task = asyncio.create_task(d._lane(ctx, lane, key, self.failover_at))
            self.lanes.append(lane)
            return True
        return False

    async def _failed(self, failure: Failure) -> None:
        """A lane ended without a first token: special fallbacks, or the caller's error."""
        ctx = self.ctx
        if failure.reason == "caller_deadline":
            self.caller_cut = True
            await self._cancel_all()
            self.next = len(self.plan)
        elif failure.reason in ("context_window", "content_policy"):
            special = [
                dep
                for dep in self.d._planner.special(ctx.group, failure.reason)
                if dep not in self.plan
            ]
            if not special:
                await self._cancel_all()
                raise UpstreamRejectedRequest(ctx.attempts[-1].message)
            self.plan[self.next : self.next] = special
        elif not failure.fail_over:
            await self._cancel_all()
            message = _last_message(ctx, failure.reason)
            if failure.reason == "invalid_request":  # refused before it was sent: ours to say
                raise InvalidRequest(f"The request cannot be sent to a provider: {message}.")
            raise UpstreamRejectedRequest(message)

    async def _finish(self, winner: Lane) -> Served | None:
        """The winner has its first token: cancel the others, then let it finish (a caller
        that wants one body is served once the whole answer is assembled)."""
        for lane in [lane for lane in self.lanes if lane is not winner]:
            self.lanes.remove(lane)
            if lane.probe:
                self._detach(lane)
            else:
                await self._lose(lane, late=lane.started < winner.started)
        assert winner.task is not None
        served, failure = await winner.task
        self.lanes.remove(winner)
        if served is not None:
            if winner.deployment is not self.plan[0]:
                self.ctx.tags.add("fallback")
            if winner.hedge:
                self.ctx.tags.add("hedge:won")
            return served
        assert failure is not None
        await self._failed(failure)  # it failed after its first token: the plan goes on
        return None

    async def _lose(self, lane: Lane, *, late: bool) -> None:
        """Cancel a lane that lost the race and settle its attempt as ``hedge_lost``."""
        assert lane.task is not None
        lane.task.cancel()
        await asyncio.gather(lane.task, return_exceptions=True)
        attempt = lane.attempt
        if attempt is None or attempt.outcome not in ("pending",):
            return
        d = self.d
        attempt.outcome = "hedge_lost"
        attempt.reason = "late" if late else "hedge"
        attempt.latency_ms = (d._clock() - attempt.started) * 1000
        if attempt.answering:  # it had started: the provider may bill the prompt
            attempt.usage = counted_usage(attempt.deployment, self.ctx.prompt_messages, "")
            attempt.cost_usd = cost_usd(attempt.deployment, attempt.usage, None)
        await d._after(self.ctx, attempt)

    def _detach(self, lane: Lane) -> None:
        """A probe that lost the race goes on alone until its first token (then it is closed:
        the deployment is healthy) or its failure; either decides its breaker."""
        d, ctx = self.d, self.ctx

        async def watch() -> None:
            await lane.signal
            if lane.got_first and lane.task is not None and not lane.task.done():
                lane.task.cancel()
                await asyncio.gather(lane.task, return_exceptions=True)
                attempt = lane.attempt
                if attempt is not None and attempt.outcome == "pending":
                    attempt.outcome = "probe_ok"
                    attempt.latency_ms = (d._clock() - attempt.started) * 1000
                    await d._after(ctx, attempt)
            elif lane.task is not None:
                served, _ = await lane.task
                if served is not None and served.chunks is not None:
                    with contextlib.suppress(Exception):
                        await served.chunks.aclose()  # type: ignore[attr-defined]

        task = asyncio.create_task(watch())
        d._background.add(task)
        task.add_done_callback(d._background.discard)

    async def _cancel_all(self) -> None:
        for lane in list(self.lanes):
            self.lanes.remove(lane)
            await self._lose(lane, late=False)

    async def stop(self) -> None:
        """However the request ended (a client that left included), no lane goes on."""
        await self._cancel_all()


def _last_message(ctx: RequestContext, reason: str) -> str:
    for attempt in reversed(ctx.attempts):
        if attempt.reason == reason and attempt.message:
            return attempt.message
    return ctx.attempts[-1].message if ctx.attempts else "The request was refused."


def _summary(attempt: Attempt) -> AttemptSummary:
    dep = attempt.deployment
    return AttemptSummary(
        deployment=dep.id,
        provider=dep.provider,
        model=dep.pinned_model,
        error=attempt.reason or attempt.outcome,
        latency_ms=attempt.latency_ms,
    )
