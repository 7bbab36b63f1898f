"""One request's race: lanes started, hedged, won, cancelled or left to finish alone.

The ``Dispatcher`` owns what lives as long as the gateway (settings, plugins, the
hedge budget, background lanes); a ``Race`` owns one request's lanes. See
``dispatch`` for the rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from router_config.config.schema import Deployment
from router_config.errors import (
    AllProvidersFailed,
    AttemptSummary,
    DeadlineExceeded,
    InvalidRequest,
    UpstreamRejectedRequest,
)
from router_config.flow.attempt import Served
from router_config.flow.hooks import Attempt, RequestContext
from router_config.flow.phases import Phase
from router_config.providers.classify import Failure
from router_config.providers.pricing import cost_usd, counted_usage

if TYPE_CHECKING:
    from router_config.flow.dispatch import Dispatcher


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


class Race:
    """One request's lanes: started, hedged, won, cancelled."""

    def __init__(self, d: Dispatcher, ctx: RequestContext, plan: list[Deployment]) -> None:
        self.d = d
        self.ctx = ctx
        self.plan = plan
        self.next = 0
        self.lanes: list[Lane] = []
        prefill = d.phases.prefill_s(plan[0], ctx.prompt_tokens_estimate) if plan else 0.0
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
            self.caller_cut or d.clock() >= ctx.caller_deadline
        ):
            raise DeadlineExceeded(
                "The request's own deadline (x-router-timeout-ms) ran out before a provider "
                "answered."
            )
        if d.clock() >= self.failover_at:
            ctx.tags.add("deadline")
        # Retry-After: when the first skipped deployment takes calls again, else 1 s.
        wait = math.ceil(min(ctx.skipped_until) - d.clock()) if ctx.skipped_until else 1
        raise AllProvidersFailed([_summary(a) for a in ctx.attempts], retry_after_s=wait)

    async def _wait(self) -> Lane | None:
        """Wait for a first token, a lane's end or the newest lane's hedge point; returns the
        winning lane, or None after handling whatever else happened."""
        d = self.d
        newest = self.lanes[-1]
        timeout = None
        if self._may_hedge(newest):
            timeout = max(0.0, newest.hedge_at - d.clock())
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
        if self.lanes and self._may_hedge(self.lanes[-1]) and d.clock() >= self.lanes[-1].hedge_at:
            late = self.lanes[-1]
            late.hedged = True
            budget_ok = late.probe or self.d.hedges.spend(late.deployment.id)
            if budget_ok:
                await self._start(hedge_for=late)
        return None

    def _may_hedge(self, lane: Lane) -> bool:
        return (
            self.d.settings.hedge
            and not lane.hedged
            and self.next < len(self.plan)
            and self.d.clock() < self.failover_at
        )

    async def _start(self, *, hedge_for: Lane | None) -> bool:
        """Start the next admissible deployment of the plan; False when none is left."""
        d, ctx = self.d, self.ctx
        while self.next < len(self.plan):
            if self.failover_at - d.clock() < d.settings.min_attempt_s:
                return False
            if ctx.caller_deadline is not None and ctx.caller_deadline - d.clock() <= 0:
                self.caller_cut = True
                return False
            deployment = self.plan[self.next]
            self.next += 1
            key = await d.admit(ctx, deployment)
            if key is None:
                continue
            last = self.next == len(self.plan)
            lane = Lane(
                deployment=deployment,
                phase=d.phases.for_attempt(deployment, ctx.prompt_tokens_estimate, last=last),
                started=d.clock(),
                last=last,
                hedge=hedge_for is not None,
                probe=deployment.id in ctx.probes,
            )
            if lane.probe:  # no caller waits for a probe: the next deployment starts with it
                lane.phase = Phase(0.0, lane.phase.first_token_s, lane.phase.learned)
            if hedge_for is not None:
                ctx.tags.add("hedge")
            d.hedges.earn(deployment.id)
            lane.task = asyncio.create_task(d.lane(ctx, lane, key, self.failover_at))
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
                for dep in self.d.planner.special(ctx.group, failure.reason)
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
        """The winner has its first token: settle the others, then let it finish (a caller
        that wants one body is served once the whole answer is assembled)."""
        for lane in [lane for lane in self.lanes if lane is not winner]:
            self.lanes.remove(lane)
            if lane.probe or lane.started < winner.started:
                self._detach(lane)
            else:
                await self._lose(lane)
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

    async def _lose(self, lane: Lane) -> None:
        """Cancel a lane started after the winner (a hedge that lost): ``hedge_lost``."""
        assert lane.task is not None
        lane.task.cancel()
        await asyncio.gather(lane.task, return_exceptions=True)
        await self._settle_loser(lane, "hedge_lost", "hedge")

    async def _settle_loser(self, lane: Lane, outcome: str, reason: str | None) -> None:
        """A lane that will not serve: what it cost (the prompt, if the provider had started
        answering), and its outcome for every plugin (breaker, ledger, logs, traces)."""
        attempt = lane.attempt
        if attempt is not None and attempt.outcome == "ok":
            # It finished its whole answer before it could be stopped: already paid for and
            # seen by every plugin; only no longer the one that served.
            attempt.outcome, attempt.reason = outcome, reason
            return
        if attempt is None or attempt.outcome not in ("pending", "streaming"):
            return  # it had already ended (and been seen) on its own
        d = self.d
        attempt.outcome, attempt.reason = outcome, reason
        attempt.latency_ms = (d.clock() - attempt.started) * 1000
        if attempt.answering:  # it had started: the provider may bill the prompt
            attempt.usage = counted_usage(attempt.deployment, self.ctx.prompt_messages, "")
            attempt.cost_usd = cost_usd(attempt.deployment, attempt.usage, None)
        await d.after(self.ctx, attempt)

    def _detach(self, lane: Lane) -> None:
        """A lane that lost the race but was started first (late) or is a breaker's probe goes
        on alone, never in any caller's way, until its own result: its first token (then it
        is closed at once: the deployment is alive) or its failure (a time-out at its own
        limit, an error). Either is what its breaker learns: a lost race alone says nothing
        about health, a cancelled call would say nothing at all."""
        d = self.d

        async def watch() -> None:
            await lane.signal
            if lane.task is None:
                return
            if lane.got_first and not lane.task.done():
                lane.task.cancel()
            result = (await asyncio.gather(lane.task, return_exceptions=True))[0]
            if isinstance(result, tuple) and result[0] is not None:
                chunks = result[0].chunks
                if chunks is not None:
                    with contextlib.suppress(Exception):
                        await chunks.aclose()  # type: ignore[attr-defined]
            if lane.got_first:
                await self._settle_loser(lane, "probe_ok" if lane.probe else "hedge_lost", "late")

        task = asyncio.create_task(watch())
        d.background.add(task)
        task.add_done_callback(d.background.discard)

    async def _cancel_all(self) -> None:
        for lane in list(self.lanes):
            self.lanes.remove(lane)
            await self._lose(lane)

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
