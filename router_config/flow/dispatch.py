"""The attempt loop: try planned deployments in order until one answers.

``ProviderCalls`` makes each call (through LiteLLM's Router, or directly when
LiteLLM would send the request unchanged), but the loop across deployments is
ours: LiteLLM has no single deadline across retries and fallbacks, and its
defaults take 5-40 s to fail over (../shared/LITELLM_NOTES.md). Every attempt is
recorded on the request context, so logs, metrics and traces see all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import httpx

from router_config.config.plugin_settings import FailoverSettings
from router_config.config.schema import Deployment
from router_config.errors import AllProvidersFailed, AttemptSummary, UpstreamRejectedRequest
from router_config.flow.hooks import (
    Attempt,
    Clock,
    GatewayPlugin,
    RejectAttempt,
    RequestContext,
    SkipDeployment,
)
from router_config.flow.planner import Planner
from router_config.providers.classify import Failure, classify
from router_config.providers.key_ring import KeyChoice, KeyRing
from router_config.providers.pricing import cost_usd, usage_from
from router_config.providers.provider_call import ProviderCall
from router_config.providers.provider_calls import ProviderCalls

log = logging.getLogger("llm_router.dispatch")

# LiteLLM's wrapping of a provider's message: "ContextWindowExceededError: litellm.BadRequestError:
# OpenAIException - <the provider's words>". Direct calls carry the provider's words alone.
_LITELLM_PREFIXES = re.compile(r"^(?:(?:litellm\.)?[A-Za-z]+(?:Error|Exception)(?::| -) )+")
# Failures worth retrying on the same deployment (a timeout is not: it already cost the most).
RETRYABLE = frozenset({"server_error", "connection", "rate_limited", "malformed"})


@dataclass
class Served:
    """A successful attempt: a full body, or a stream whose first chunk has arrived."""

    attempt: Attempt
    body: dict[str, Any] | None = None
    chunks: AsyncIterator[dict[str, Any]] | None = None


Sleep = Callable[[float], Awaitable[None]]


class Dispatcher:
    """Runs one request across deployments within its deadline."""

    def __init__(
        self,
        calls: ProviderCalls,
        planner: Planner,
        plugins: Sequence[GatewayPlugin],
        settings: FailoverSettings,
        clock: Clock,
        keys: KeyRing,
        *,
        redact: Callable[[str], str],
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._calls = calls
        self._keys = keys
        self._redact = redact
        self._planner = planner
        self._plugins = plugins
        self._settings = settings
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter

    async def run(self, ctx: RequestContext) -> Served:
        """Serve ``ctx`` from the first deployment that answers in time."""
        plan = self._planner.plan(ctx.group, ctx)
        i = 0
        while i < len(plan):
            deployment = plan[i]
            i += 1
            if ctx.deadline - self._clock() < self._settings.min_attempt_s:
                break
            key = await self._admit(ctx, deployment)
            if key is None:
                continue
            served, failure = await self._with_retries(ctx, deployment, key, last=i == len(plan))
            if served is not None:
                if deployment is not plan[0]:
                    ctx.tags.add("fallback")
                return served
            assert failure is not None
            if failure.reason in ("context_window", "content_policy"):
                special = [
                    d for d in self._planner.special(ctx.group, failure.reason) if d not in plan
                ]
                if not special:
                    raise UpstreamRejectedRequest(ctx.attempts[-1].message)
                plan[i:i] = special
            elif not failure.fail_over:
                raise UpstreamRejectedRequest(ctx.attempts[-1].message)
        if self._clock() >= ctx.deadline:
            ctx.tags.add("deadline")
        # Retry-After: when the first skipped deployment takes calls again, else 1 s.
        wait = math.ceil(min(ctx.skipped_until) - self._clock()) if ctx.skipped_until else 1
        raise AllProvidersFailed([_summary(a) for a in ctx.attempts], retry_after_s=wait)

    async def _with_retries(
        self, ctx: RequestContext, deployment: Deployment, first: KeyChoice, *, last: bool
    ) -> tuple[Served | None, Failure | None]:
        """Attempt once with ``first``; on a refused key try the next key at once; retry the
        same deployment only when it is the last one left."""
        retries = self._settings.max_retries if last else 0
        tried: set[int] = set()
        failure: Failure | None = None
        n = 0
        choice: KeyChoice | None = first
        while choice is not None:
            served, failure = await self._attempt(ctx, deployment, choice, last=last)
            if served is not None or failure is None:
                return served, failure
            remaining = ctx.deadline - self._clock()
            if failure.key_bad and self._keys.rotates(deployment):
                tried.add(choice.index)
                await self._keys.quarantine(deployment, choice, failure.status or 401)
                if remaining < self._settings.min_attempt_s:
                    break
                # The next key at once: nothing is wrong with the provider.
                choice = await self._keys.choose(deployment, tried)
                continue
            if n == retries or failure.reason not in RETRYABLE:
                break
            pause = self._backoff(n, failure.retry_after_s)
            if pause + self._settings.min_attempt_s >= remaining:
                break  # the retry cannot finish in time: stop now, no sleep
            await self._sleep(pause)
            n += 1
            choice = await self._keys.choose(deployment, tried)
        # No key left (another request or replica quarantined the last one meanwhile):
        # a failure like any other, so the plan moves on to the next deployment.
        return None, failure or Failure("keys_quarantined", True, None)

    def _backoff(self, n: int, retry_after_s: float | None) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2^n)], or the provider's Retry-After."""
        if retry_after_s is not None:
            return retry_after_s
        s = self._settings
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

    async def _attempt(
        self, ctx: RequestContext, deployment: Deployment, key: KeyChoice, *, last: bool
    ) -> tuple[Served | None, Failure | None]:
        attempt = Attempt(
            number=len(ctx.attempts) + 1,
            deployment=deployment,
            started=self._clock(),
            key=key.fingerprint,
        )
        ctx.attempts.append(attempt)
        budget = min(ctx.deadline - attempt.started, self._settings.attempt_timeout_s)
        if ctx.stream or not last:
            # Until the first token arrives nothing is sent, so failing over is still free; a
            # non-streaming answer is its own first token. A hung primary costs at most this.
            budget = min(budget, self._settings.first_token_timeout_s)
        try:
            served = await asyncio.wait_for(self._call(ctx, attempt, key.index, budget), budget)
        except Exception as exc:  # every provider error is classified, none escapes raw
            failure = classify(exc)
            if failure.key_bad and self._keys.rotates(deployment):
                failure = replace(failure, reason="key_refused")  # the key, not the deployment
            self._fail(attempt, failure, self._redact(_safe_message(exc))[:300])
            await self._after(ctx, attempt)
            return None, failure
        try:
            await self._after(ctx, attempt, reject=True)
        except RejectAttempt as rejected:
            attempt.outcome, attempt.reason, attempt.message = (
                "rejected",
                "rejected",
                rejected.reason,
            )
            if isinstance(served.chunks, _Prepended):  # a stream we will not relay: release it
                await served.chunks.aclose()
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

    async def _call(
        self, ctx: RequestContext, attempt: Attempt, key_index: int, budget: float
    ) -> Served:
        # Streams: the read timeout between chunks once started; the first chunk is bounded
        # by the wait_for around this call.
        total = self._settings.attempt_timeout_s if ctx.stream else budget
        call = ProviderCall(
            attempt.deployment,
            key_index,
            ctx.messages,
            ctx.params,
            read_s=total,
            connect_s=min(total, self._settings.connect_timeout_s),
            stream=ctx.stream,
        )
        if not ctx.stream:
            done = await self._calls.complete(call)
            self._succeed(attempt, done.body, done.served_model, done.litellm_cost)
            return Served(attempt=attempt, body=done.body)
        stream = await self._calls.stream(call)
        try:
            first = await anext(stream)
        except BaseException:
            await stream.aclose()  # type: ignore[attr-defined]
            raise
        attempt.latency_ms = (self._clock() - attempt.started) * 1000
        attempt.outcome = "streaming"
        attempt.served_model = first.get("model")
        return Served(attempt=attempt, chunks=_Prepended(first, stream))

    def _succeed(
        self, attempt: Attempt, body: dict[str, Any], served: str | None, litellm_cost: float | None
    ) -> None:
        attempt.latency_ms = (self._clock() - attempt.started) * 1000
        attempt.outcome = "ok"
        attempt.served_model = served or body.get("model")
        if attempt.served_model:
            body["model"] = attempt.served_model
        attempt.usage = usage_from(body.get("usage"))
        attempt.cost_usd = cost_usd(
            attempt.deployment, attempt.usage, litellm_cost, attempt.latency_ms / 1000
        )

    def _fail(self, attempt: Attempt, failure: Failure, message: str) -> None:
        attempt.latency_ms = (self._clock() - attempt.started) * 1000
        attempt.outcome = "error"
        attempt.reason = failure.reason
        attempt.status = failure.status
        attempt.retry_after_s = failure.retry_after_s
        attempt.message = message


class _Prepended:
    """``first``, then the rest of ``rest``. Closing it closes ``rest`` at once, even before
    iteration began (a stream rejected after its first chunk): its connection goes back now."""

    def __init__(self, first: dict[str, Any], rest: AsyncIterator[dict[str, Any]]) -> None:
        self._first: dict[str, Any] | None = first
        self._rest = rest

    def __aiter__(self) -> _Prepended:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        return await anext(self._rest)

    async def aclose(self) -> None:
        self._first = None
        with contextlib.suppress(Exception):
            await self._rest.aclose()  # type: ignore[attr-defined]


def _summary(attempt: Attempt) -> AttemptSummary:
    dep = attempt.deployment
    return AttemptSummary(
        deployment=dep.id,
        provider=dep.provider,
        model=dep.pinned_model,
        error=attempt.reason or "error",
        latency_ms=attempt.latency_ms,
    )


def _safe_message(exc: BaseException) -> str:
    """The provider's own reason, without LiteLLM's trailers (redact, then cut to 300 chars)."""
    if isinstance(exc, asyncio.TimeoutError | httpx.TimeoutException):
        return "the provider did not answer in time"
    text = str(getattr(exc, "message", None) or exc) or type(exc).__name__
    for trailer in ("\n\nLiteLLM:", "\nReceived Model Group", "\nmodel="):
        text = text.split(trailer, 1)[0]
    return _LITELLM_PREFIXES.sub("", text).strip()
