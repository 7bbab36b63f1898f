"""``LangfuseLogger``: one Langfuse trace per request, one generation per provider attempt.

Built on Langfuse SDK v5 (OpenTelemetry; LiteLLM's own ``langfuse`` callback
needs the old SDK). The trace is named after the model group, its user is the
team's key alias (never the key), its session comes from ``x-session-id``.
Each attempt is a generation ``llm:<provider>`` started when the attempt
starts, with the served model version, usage, cost split, latency and, on
failure, level ERROR and the reason. A ``router.fallback`` event marks a
fallback; the final ``router.result`` event carries the request's tags.
Export is batched in the SDK's background thread: Langfuse down or slow never
delays a client. Prompt and completion text only with ``log_content``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Mapping
from typing import Any

from langfuse import Langfuse, propagate_attributes

from router_config.config.schema import Deployment
from router_config.flow.hooks import Attempt, GatewayPlugin, RequestContext
from router_config.providers.pricing import cost_split

TRACED_PARAMS = (
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "reasoning_effort",
)


class LangfuseLogger(GatewayPlugin):
    """Traces requests and attempts to Langfuse."""

    name = "langfuse_logger"

    def __init__(self, client: Langfuse, *, log_content: bool, flush_timeout_s: float) -> None:
        self._client = client
        self._content = log_content
        self._flush_timeout_s = flush_timeout_s
        self._roots: dict[int, Any] = {}
        self._generations: dict[tuple[int, str], Any] = {}

    def _trace_attrs(self, ctx: RequestContext, tags: list[str] | None = None) -> Any:
        return propagate_attributes(
            user_id=ctx.key_alias,
            session_id=ctx.headers.get("x-session-id"),
            trace_name=ctx.group,
            tags=tags or [f"team:{ctx.team}"],
            metadata={"team": ctx.team, "request_id": ctx.request_id},
        )

    async def on_request(self, ctx: RequestContext) -> Mapping[str, Any] | None:
        with self._trace_attrs(ctx):
            self._roots[ctx.state_key] = self._client.start_observation(
                name=ctx.group,
                as_type="span",
                input=ctx.messages if self._content else None,
                metadata={"request_id": ctx.request_id, "stream": ctx.stream},
            )
        return None

    async def before_attempt(self, ctx: RequestContext, deployment: Deployment) -> None:
        root = self._roots.get(ctx.state_key)
        if root is None:
            return
        params = {k: ctx.params[k] for k in TRACED_PARAMS if k in ctx.params}
        with self._trace_attrs(ctx):
            self._generations[(ctx.state_key, deployment.id)] = root.start_observation(
                name=f"llm:{deployment.provider}",
                as_type="generation",
                model=deployment.pinned_model,
                model_parameters=params,
                input=ctx.messages if self._content else None,
                metadata={
                    "deployment": deployment.id,
                    "api_host": deployment.api_host,
                    "pinned_model": deployment.pinned_model,
                },
            )

    async def on_skipped(self, ctx: RequestContext, deployment: Deployment, reason: str) -> None:
        """The deployment was skipped after its generation started: end it, saying why."""
        generation = self._generations.pop((ctx.state_key, deployment.id), None)
        if generation is not None:
            generation.update(level="WARNING", status_message=f"skipped: {reason}")
            generation.end()

    async def after_attempt(self, ctx: RequestContext, attempt: Attempt) -> None:
        key = (ctx.state_key, attempt.deployment.id)
        generation = self._generations.get(key)
        if generation is None:  # a retry: before_attempt ran once for the deployment
            await self.before_attempt(ctx, attempt.deployment)
            generation = self._generations.get(key)
            if generation is None:
                return
        if attempt.outcome == "streaming":
            generation.update(completion_start_time=dt.datetime.now(dt.UTC))
            return  # ended with the stream's final usage
        self._generations.pop(key, None)
        usage = attempt.usage
        generation.update(
            model=attempt.served_model or attempt.deployment.pinned_model,
            usage_details={
                "input": usage.prompt_tokens,
                "output": usage.completion_tokens,
                "cache_read_input_tokens": usage.cached_tokens,
                "total": usage.total_tokens,
            },
            cost_details=cost_split(attempt.deployment, usage, attempt.cost_usd),
            level="DEFAULT" if attempt.ok else "ERROR",
            status_message=None if attempt.ok else f"{attempt.reason}: {attempt.message}"[:300],
            metadata={
                "attempt": attempt.number,
                "latency_ms": round(attempt.latency_ms, 1),
                "outcome": attempt.outcome,
            },
        )
        generation.end()

    async def on_success(self, ctx: RequestContext, body: Mapping[str, Any]) -> None:
        root = self._roots.get(ctx.state_key)
        if root is not None and self._content:
            choices = body.get("choices") or [{}]
            root.update(output=(choices[0].get("message") or {}).get("content"))

    async def on_request_end(self, ctx: RequestContext) -> None:
        root = self._roots.pop(ctx.state_key, None)
        if root is None:
            return
        for key in [k for k in self._generations if k[0] == ctx.state_key]:
            self._generations.pop(key).end()  # a stream that never settled
        final = ctx.final
        tags = sorted({f"team:{ctx.team}", *ctx.tags, f"outcome:{ctx.outcome}"})
        with self._trace_attrs(ctx, tags):
            if final is not None and "fallback" in ctx.tags:
                first = ctx.attempts[0] if ctx.attempts[0] is not final else None
                root.create_event(
                    name="router.fallback",
                    metadata={
                        "failed_deployment": first.deployment.id if first else ctx.skipped[0][0],
                        "failed_reason": first.reason if first else ctx.skipped[0][1],
                        "served_deployment": final.deployment.id,
                    },
                )
            root.create_event(
                name="router.result",
                metadata={
                    "outcome": ctx.outcome,
                    "status": ctx.status,
                    "attempts": len(ctx.attempts),
                    "cost_usd": ctx.cost_usd,
                    "served_model": final.served_model if final else None,
                },
            )
        root.update(
            level="ERROR" if ctx.status >= 500 else "DEFAULT",
            metadata={"outcome": ctx.outcome, "status": ctx.status},
        )
        root.end()

    async def close(self) -> None:
        """Flush what is batched, but never hold shutdown longer than the timeout.

        A flush, not a shutdown: the SDK keeps one client per public key in the process,
        which a reloaded gateway goes on using; the SDK shuts it down itself at exit.
        """
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.to_thread(self._client.flush), self._flush_timeout_s)
