"""``LangfuseLogger``: one Langfuse trace per request, one generation per provider attempt
(an embedding observation for an embeddings request).

Built on Langfuse SDK v5 (OpenTelemetry; LiteLLM's own ``langfuse`` callback needs the
old SDK). The root span is named after the model group; each attempt (or deployment
skipped after it was admitted) is a generation ``llm:<provider>`` timed from when the
attempt started, with the served model version, Langfuse's canonical usage and cost
buckets (a cost on every generation, 0 included), latency and, on failure, level ERROR
and the reason. The spans are built when the request is over, with the times recorded
while it ran, so each carries the request's facts as trace attributes
(``langfuse_spans``): team as the user, outcome tags, key alias and request id, so
Langfuse's per-row cost filters see them. Export is batched in the SDK's background
thread: Langfuse down or slow never delays a client. Prompt and completion text only
with ``log_content``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Mapping
from typing import Any, Literal

from langfuse import Langfuse, LangfuseOtelSpanAttributes
from langfuse._client.attributes import create_generation_attributes, create_span_attributes
from opentelemetry import context as otel_context
from opentelemetry import trace as trace_api
from opentelemetry.trace import Status, StatusCode

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
    records = True  # its end-of-request work runs once a whole answer is sent

    def __init__(
        self, client: Langfuse, *, log_content: bool, flush_timeout_s: float, version: str
    ) -> None:
        self._client = client
        # The tracer the SDK's own observations come from (its instrumentation scope names
        # the project, which the SDK's span processor checks before exporting).
        self._tracer: trace_api.Tracer = client._otel_tracer
        context = {  # as the client resolved them (its settings or LANGFUSE_* variables)
            LangfuseOtelSpanAttributes.ENVIRONMENT: client._environment,
            LangfuseOtelSpanAttributes.RELEASE: client._release,
        }
        self._context = {k: v for k, v in context.items() if v is not None}
        self._content = log_content
        self._flush_timeout_s = flush_timeout_s
        self._version = version  # Langfuse's "version": the config hash
        self._traces: dict[int, RequestTrace] = {}

    async def on_request(self, ctx: RequestContext) -> Mapping[str, Any] | None:
        self._traces[ctx.state_key] = RequestTrace(time.time_ns())
        return None

    async def before_attempt(self, ctx: RequestContext, deployment: Deployment) -> None:
        trace = self._traces.get(ctx.state_key)
        if trace is not None:
            trace.generations.append(GenerationRecord(time.time_ns(), deployment))

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
            record = GenerationRecord(time.time_ns(), attempt.deployment)
            trace.generations.append(record)
        record.attempt = attempt
        if attempt.outcome == "streaming":
            record.first_token = dt.datetime.now(dt.UTC)
        elif attempt.outcome != "pending":
            record.ended_ns = time.time_ns()

    async def on_success(self, ctx: RequestContext, body: Mapping[str, Any]) -> None:
        trace = self._traces.get(ctx.state_key)
        if trace is not None and self._content and ctx.call != "embedding":  # no vectors
            choice = (body.get("choices") or [{}])[0]
            trace.output = (choice.get("message") or {}).get("content", choice.get("text"))

    async def on_request_end(self, ctx: RequestContext) -> None:
        """Build and end every span of the request, each carrying the request's facts.

        Spans are started here, with the times recorded while the request ran, and each
        gets all its attributes at once, encoded by the SDK's own attribute builders: no
        attribute is written twice, and none of the SDK's per-observation wrappers is made
        (media in logged content is still uploaded: the SDK's exporter does that). Tracing
        was the largest share of the gateway's CPU per request; building each attribute
        once is what makes it cheaper.
        """
        trace = self._traces.pop(ctx.state_key, None)
        if trace is None:
            return
        trace.claim_unsettled(ctx)
        facts = trace_attributes(ctx)
        content = ctx.prompt_messages if self._content else None
        level: Literal["ERROR", "DEFAULT"] = "ERROR" if ctx.status >= 500 else "DEFAULT"
        attributes = create_span_attributes(
            input=content,
            output=trace.output,
            metadata=root_metadata(ctx),
            version=self._version,
            level=level,
        )
        # From an empty OpenTelemetry context: other instrumentation in the process (LiteLLM's
        # "otel" callback instruments FastAPI) would make our root a child of a span that is
        # never sent to Langfuse, and the trace would show no root.
        token = otel_context.attach(otel_context.Context())
        try:
            root = self._start(ctx.group, None, trace.started_ns, attributes, facts)
            self._generations(trace, ctx, trace_api.set_span_in_context(root), facts, content)
            root.end()
        finally:
            otel_context.detach(token)

    def _generations(
        self,
        trace: RequestTrace,
        ctx: RequestContext,
        parent: otel_context.Context,
        facts: Mapping[str, Any],
        content: Any,
    ) -> None:
        kind: Literal["embedding", "generation"] = (
            "embedding" if ctx.call == "embedding" else "generation"
        )
        params = {k: ctx.params[k] for k in TRACED_PARAMS if k in ctx.params}
        final, now = ctx.final, time.time_ns()
        for record in trace.generations:
            attributes = create_generation_attributes(
                input=content,
                version=self._version,
                model_parameters=params,
                observation_type=kind,
                **generation_end(record, final),
            )
            name = f"llm:{record.deployment.provider}"
            span = self._start(name, parent, record.started_ns, attributes, facts)
            span.end(end_time=record.ended_ns or now)

    def _start(
        self,
        name: str,
        parent: otel_context.Context | None,
        start_ns: int,
        attributes: dict[str, Any],
        facts: Mapping[str, Any],
    ) -> trace_api.Span:
        """A span with the observation's attributes, the context every Langfuse observation
        has (environment, release) and the request's facts; ERROR level is an OTel error."""
        span = self._tracer.start_span(
            name,
            context=parent,
            start_time=start_ns,
            attributes={**self._context, **attributes, **facts},
        )
        if attributes.get(LangfuseOtelSpanAttributes.OBSERVATION_LEVEL) == "ERROR":
            message = attributes.get(LangfuseOtelSpanAttributes.OBSERVATION_STATUS_MESSAGE)
            span.set_status(Status(StatusCode.ERROR, description=message))
        return span

    async def close(self) -> None:
        """Flush what is batched, but never hold shutdown longer than the timeout.

        A flush, not a shutdown: the SDK keeps one client per public key in the process,
        which a reloaded gateway goes on using; the SDK shuts it down itself at exit.
        """
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.to_thread(self._client.flush), self._flush_timeout_s)
