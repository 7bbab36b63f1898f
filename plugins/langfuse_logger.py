"""``LangfuseLogger``: one Langfuse trace per request, one generation per provider attempt
(an embedding observation for an embeddings request).

Built on Langfuse SDK v5 (OpenTelemetry; LiteLLM's own ``langfuse`` callback needs the
old SDK). The root span is named after the model group; each attempt (or deployment
skipped after it was admitted) is a generation ``llm:<provider>`` started when the
attempt starts, with the served model version, Langfuse's canonical usage and cost
buckets (a cost on every generation, 0 included), latency and, on failure, level ERROR
and the reason. Every span ends when the request does, carrying the request's facts as
trace attributes (``langfuse_spans``): team as the user, outcome tags, key alias and
request id, so Langfuse's per-row cost filters see them. Export is batched in the SDK's
background thread: Langfuse down or slow never delays a client. Prompt and completion
text only with ``log_content``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Mapping
from typing import Any

from langfuse import Langfuse
from opentelemetry import context as otel_context

from plugins.langfuse_spans import (
    GenerationRecord,
    RequestTrace,
    generation_end,
    root_metadata,
    trace_attributes,
)
from router_config.config.schema import Deployment
from router_config.flow.hooks import Attempt, GatewayPlugin, RequestContext

TRACED_PARAMS = (
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "reasoning_effort",
    "dimensions",
    "encoding_format",
)


class LangfuseLogger(GatewayPlugin):
    """Traces requests and attempts to Langfuse."""

    name = "langfuse_logger"

    def __init__(
        self, client: Langfuse, *, log_content: bool, flush_timeout_s: float, version: str
    ) -> None:
        self._client = client
        self._content = log_content
        self._flush_timeout_s = flush_timeout_s
        self._version = version  # Langfuse's "version": the config hash
        self._traces: dict[int, RequestTrace] = {}

    async def on_request(self, ctx: RequestContext) -> Mapping[str, Any] | None:
        # From an empty OpenTelemetry context: other instrumentation in the process (LiteLLM's
        # "otel" callback instruments FastAPI) would make our root a child of a span that is
        # never sent to Langfuse, and the trace would show no root.
        token = otel_context.attach(otel_context.Context())
        try:
            root = self._client.start_observation(
                name=ctx.group,
                as_type="span",
                input=ctx.prompt_messages if self._content else None,
                version=self._version,
            )
        finally:
            otel_context.detach(token)
        self._traces[ctx.state_key] = RequestTrace(root)
        return None

    async def before_attempt(self, ctx: RequestContext, deployment: Deployment) -> None:
        trace = self._traces.get(ctx.state_key)
        if trace is not None:
            self._start_generation(trace, ctx, deployment)

    def _start_generation(
        self, trace: RequestTrace, ctx: RequestContext, deployment: Deployment
    ) -> GenerationRecord:
        params = {k: ctx.params[k] for k in TRACED_PARAMS if k in ctx.params}
        observation = trace.root.start_observation(
            name=f"llm:{deployment.provider}",
            as_type="embedding" if ctx.call == "embedding" else "generation",
            model=deployment.pinned_model,
            model_parameters=params,
            input=ctx.prompt_messages if self._content else None,
            version=self._version,
            metadata={
                "deployment": deployment.id,
                "provider": deployment.provider,
                "api_host": deployment.api_host,
                "pinned_model": deployment.pinned_model,
            },
        )
        record = GenerationRecord(observation, deployment)
        trace.generations.append(record)
        return record

    async def on_skipped(self, ctx: RequestContext, deployment: Deployment, reason: str) -> None:
        """The deployment was skipped after its generation started: it ends, costing 0."""
        trace = self._traces.get(ctx.state_key)
        record = trace.waiting(deployment) if trace is not None else None
        if record is not None:
            record.skipped, record.ended_ns = reason, time.time_ns()

    async def after_attempt(self, ctx: RequestContext, attempt: Attempt) -> None:
        trace = self._traces.get(ctx.state_key)
        if trace is None:
            return
        record = trace.of(attempt) or trace.waiting(attempt.deployment)
        if record is None:  # a retry: before_attempt ran once for the deployment
            record = self._start_generation(trace, ctx, attempt.deployment)
        record.attempt = attempt
        if attempt.outcome == "streaming":
            record.first_token = dt.datetime.now(dt.UTC)
        elif attempt.outcome != "pending":
            record.ended_ns = time.time_ns()

    async def on_success(self, ctx: RequestContext, body: Mapping[str, Any]) -> None:
        trace = self._traces.get(ctx.state_key)
        if trace is not None and self._content and ctx.call != "embedding":  # no vectors
            choice = (body.get("choices") or [{}])[0]
            output = (choice.get("message") or {}).get("content", choice.get("text"))
            trace.root.update(output=output)

    async def on_request_end(self, ctx: RequestContext) -> None:
        """End every span of the request, each carrying the request's facts."""
        trace = self._traces.pop(ctx.state_key, None)
        if trace is None:
            return
        trace.claim_unsettled(ctx)
        facts = trace_attributes(ctx)
        final, now = ctx.final, time.time_ns()
        for record in trace.generations:
            record.observation.update(**generation_end(record, final))
            _set_attributes(record.observation, facts)
            record.observation.end(end_time=record.ended_ns or now)
        trace.root.update(
            level="ERROR" if ctx.status >= 500 else "DEFAULT",
            metadata=root_metadata(ctx),
        )
        _set_attributes(trace.root, facts)
        trace.root.end()

    async def close(self) -> None:
        """Flush what is batched, but never hold shutdown longer than the timeout.

        A flush, not a shutdown: the SDK keeps one client per public key in the process,
        which a reloaded gateway goes on using; the SDK shuts it down itself at exit.
        """
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.to_thread(self._client.flush), self._flush_timeout_s)


def _set_attributes(observation: Any, attributes: Mapping[str, Any]) -> None:
    """Trace attributes on an observation that already exists.

    SDK v5 sets them only through ``propagate_attributes`` when a span starts, before a
    request's outcome is known; its observations expose no public setter, so this writes
    to the wrapped OpenTelemetry span (a span that is not recording ignores it).
    """
    observation._otel_span.set_attributes(attributes)
