"""The attempt loop: try planned deployments in order until one answers.

LiteLLM's Router makes each call (one Router model name per deployment, so we
address exactly one), but the loop across deployments is ours: LiteLLM has no
single deadline across retries and fallbacks, and its defaults take 5-40 s to
fail over (../shared/LITELLM_NOTES.md). Every attempt is recorded on the
request context, so logs, metrics and traces see all of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from router_config.classify import Failure, classify
from router_config.errors import AllProvidersFailed, AttemptSummary, UpstreamRejectedRequest
from router_config.hooks import (
    Attempt,
    Clock,
    GatewayPlugin,
    RejectAttempt,
    RequestContext,
    SkipDeployment,
)
from router_config.planner import Planner
from router_config.plugin_settings import FailoverSettings
from router_config.pricing import cost_usd, usage_from
from router_config.schema import Deployment


@dataclass
class Served:
    """A successful attempt: a full body, or a stream whose first chunk has arrived."""

    attempt: Attempt
    body: dict[str, Any] | None = None
    chunks: AsyncIterator[dict[str, Any]] | None = None


class Dispatcher:
    """Runs one request across deployments within its deadline."""

    def __init__(
        self,
        router: Any,
        planner: Planner,
        plugins: Sequence[GatewayPlugin],
        settings: FailoverSettings,
        clock: Clock,
    ) -> None:
        self._router = router
        self._planner = planner
        self._plugins = plugins
        self._settings = settings
        self._clock = clock

    async def run(self, ctx: RequestContext) -> Served:
        """Serve ``ctx`` from the first deployment that answers in time."""
        plan = self._planner.plan(ctx.group)
        i = 0
        while i < len(plan):
            deployment = plan[i]
            i += 1
            if self._clock() >= ctx.deadline:
                break
            if not await self._admit(ctx, deployment):
                continue
            served, failure = await self._attempt(ctx, deployment)
            if served is not None:
                return served
            if failure is not None and failure.reason in ("context_window", "content_policy"):
                special = [
                    d for d in self._planner.special(ctx.group, failure.reason) if d not in plan
                ]
                if not special:
                    raise UpstreamRejectedRequest(ctx.attempts[-1].message)
                plan[i:i] = special
            elif failure is not None and not failure.fail_over:
                raise UpstreamRejectedRequest(ctx.attempts[-1].message)
        raise AllProvidersFailed([_summary(a) for a in ctx.attempts])

    async def _admit(self, ctx: RequestContext, deployment: Deployment) -> bool:
        try:
            for plugin in self._plugins:
                await plugin.before_attempt(ctx, deployment)
        except SkipDeployment as skip:
            ctx.skipped.append((deployment.id, skip.reason))
            return False
        return True

    async def _attempt(
        self, ctx: RequestContext, deployment: Deployment
    ) -> tuple[Served | None, Failure | None]:
        attempt = Attempt(
            number=len(ctx.attempts) + 1, deployment=deployment, started=self._clock()
        )
        ctx.attempts.append(attempt)
        budget = min(ctx.deadline - attempt.started, self._settings.attempt_timeout_s)
        try:
            served = await asyncio.wait_for(self._call(ctx, attempt, budget), budget)
        except Exception as exc:  # every provider error is classified, none escapes raw
            failure = classify(exc)
            self._fail(attempt, failure, _safe_message(exc))
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
            if not rejected.fail_over:
                raise UpstreamRejectedRequest(rejected.reason) from None
            return None, Failure("rejected", True, None)
        return served, None

    async def _after(self, ctx: RequestContext, attempt: Attempt, *, reject: bool = False) -> None:
        for plugin in self._plugins:
            try:
                await plugin.after_attempt(ctx, attempt)
            except RejectAttempt:
                if reject:
                    raise

    async def _call(self, ctx: RequestContext, attempt: Attempt, budget: float) -> Served:
        timeout = min(budget, self._settings.first_token_timeout_s) if ctx.stream else budget
        response = await self._router.acompletion(
            model=attempt.deployment.id,
            messages=ctx.messages,
            stream=ctx.stream,
            timeout=timeout,
            num_retries=0,
            **ctx.params,
        )
        if not ctx.stream:
            body = response.model_dump(exclude_none=True)
            hidden = getattr(response, "_hidden_params", {}) or {}
            self._succeed(
                attempt, body, hidden.get("provider_response_model"), hidden.get("response_cost")
            )
            return Served(attempt=attempt, body=body)
        stream = aiter(response)
        first = await asyncio.wait_for(anext(stream), self._settings.first_token_timeout_s)
        attempt.latency_ms = (self._clock() - attempt.started) * 1000
        attempt.outcome = "streaming"
        attempt.served_model = first.model
        return Served(attempt=attempt, chunks=_chain(first, stream))

    def _succeed(
        self, attempt: Attempt, body: dict[str, Any], served: str | None, litellm_cost: Any
    ) -> None:
        attempt.latency_ms = (self._clock() - attempt.started) * 1000
        attempt.outcome = "ok"
        attempt.served_model = served or body.get("model")
        if attempt.served_model:
            body["model"] = attempt.served_model
        attempt.usage = usage_from(body.get("usage"))
        cost = litellm_cost if isinstance(litellm_cost, int | float) else None
        attempt.cost_usd = cost_usd(attempt.deployment, attempt.usage, cost)

    def _fail(self, attempt: Attempt, failure: Failure, message: str) -> None:
        attempt.latency_ms = (self._clock() - attempt.started) * 1000
        attempt.outcome = "error"
        attempt.reason = failure.reason
        attempt.status = failure.status
        attempt.retry_after_s = failure.retry_after_s
        attempt.message = message


async def _chain(first: Any, rest: AsyncIterator[Any]) -> AsyncIterator[dict[str, Any]]:
    yield first.model_dump(exclude_none=True)
    async for chunk in rest:
        yield chunk.model_dump(exclude_none=True)


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
    """The provider's own reason, without LiteLLM's trailers or anything past 300 chars."""
    if isinstance(exc, asyncio.TimeoutError):
        return "the provider did not answer in time"
    text = str(getattr(exc, "message", None) or exc) or type(exc).__name__
    text = text.split("\n\nLiteLLM:", 1)[0].split("\nReceived Model Group", 1)[0]
    for prefix in ("litellm.", "BadRequestError: ", "OpenAIException - ", "AnthropicException - "):
        text = text.removeprefix(prefix)
    return text.strip()[:300]
