"""What the Langfuse logger writes on a request's spans, and the per-request bookkeeping.

Langfuse v4 stores one row per observation, and each row carries its own copy of the
trace's user, name, tags and metadata, read from that span's own attributes
(``OtelIngestionProcessor.processToEvent`` in langfuse/langfuse). Its dashboards and
Metrics API v2 filter cost rows by them, so every span of a request carries the request's
facts (team as the user, model group, outcome tags), set once the request is over, when
all of them are known: whatever ``ctx.tags`` and ``ctx.outcome`` say reaches every row
without this module knowing the tag names.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import orjson

from router_config.config.schema import Deployment
from router_config.flow.hooks import Attempt, RequestContext, Usage
from router_config.providers.pricing import cost_split, usage_buckets

TRACE_METADATA = "langfuse.trace.metadata"
# Attempt outcomes that mean the request ended before the attempt did (a stream the
# client left, or one a newer outcome name has not replaced yet).
UNFINISHED = frozenset({"pending", "streaming"})
MAX_ATTRIBUTE_CHARS = 200  # Langfuse's limit on propagated trace attributes (user, session)


@dataclass
class GenerationRecord:
    """One generation to be sent and what it stands for: an attempt, a skip, or neither yet."""

    started_ns: int
    deployment: Deployment
    attempt: Attempt | None = None
    skipped: str | None = None
    first_token: dt.datetime | None = None
    ended_ns: int | None = None

    @property
    def open(self) -> bool:
        return self.attempt is None and self.skipped is None


@dataclass
class RequestTrace:
    """One request's trace while it runs: when it started, its generations in the order
    they started, and its answer's text (with ``log_content``). Spans are built from it
    once the request is over, when every fact they carry is known."""

    started_ns: int
    generations: list[GenerationRecord] = field(default_factory=list)
    output: Any = None

    def waiting(self, deployment: Deployment) -> GenerationRecord | None:
        """The generation started for ``deployment`` that no attempt or skip has claimed."""
        return next(
            (g for g in self.generations if g.open and g.deployment.id == deployment.id), None
        )

    def of(self, attempt: Attempt) -> GenerationRecord | None:
        return next((g for g in self.generations if g.attempt is attempt), None)

    def claim_unsettled(self, ctx: RequestContext) -> None:
        """Attempts no ``after_attempt`` reported (a cancelled hedge, say) take the open
        generation of their deployment, so their usage and cost are still sent."""
        claimed = {id(g.attempt) for g in self.generations if g.attempt is not None}
        for attempt in ctx.attempts:
            if id(attempt) not in claimed:
                record = self.waiting(attempt.deployment)
                if record is not None:
                    record.attempt = attempt


def trace_attributes(ctx: RequestContext) -> dict[str, Any]:
    """The request's facts as Langfuse's trace attributes, for every span of the request."""
    tags = sorted({*ctx.tags, f"outcome:{ctx.outcome}"})
    attributes: dict[str, Any] = {
        "user.id": ctx.team[:MAX_ATTRIBUTE_CHARS],
        "langfuse.trace.name": ctx.group,
        "langfuse.trace.tags": tags,
        **metadata_attributes(
            TRACE_METADATA,
            {
                "team": ctx.team,
                "key_alias": ctx.key_alias,
                "model_group": ctx.group,
                "request_id": ctx.request_id,
                "outcome": ctx.outcome,
                "status": ctx.status,
                "facts": sorted(ctx.tags),
            },
        ),
    }
    session = ctx.headers.get("x-session-id")
    if session:
        attributes["session.id"] = session[:MAX_ATTRIBUTE_CHARS]
    return attributes


def metadata_attributes(prefix: str, values: dict[str, Any]) -> dict[str, str]:
    """One attribute per key, each value JSON-encoded, strings included: the v5 SDK's own
    encoding, which Langfuse decodes (so ``"200"`` and ``200`` stay distinct)."""
    return {f"{prefix}.{k}": orjson.dumps(v).decode() for k, v in values.items() if v is not None}


def generation_end(record: GenerationRecord, final: Attempt | None) -> dict[str, Any]:
    """The generation's own fields, as keyword arguments of the SDK's attribute builder:
    where it ran and what it came to, always with a usage and a cost (zeros included), so
    Langfuse never prices a generation by itself."""
    attempt, deployment = record.attempt, record.deployment
    usage = attempt.usage if attempt is not None else Usage()
    cost = attempt.cost_usd if attempt is not None else 0.0
    level, status = _level(record)
    out: dict[str, Any] = {
        "model": (attempt.served_model if attempt else None) or deployment.pinned_model,
        "usage_details": usage_buckets(usage),
        "cost_details": cost_split(deployment, usage, cost),
        "level": level,
        "status_message": status,
        "metadata": {
            "deployment": deployment.id,
            "provider": deployment.provider,
            "api_host": deployment.api_host,
            "pinned_model": deployment.pinned_model,
            "served": attempt is not None and attempt is final,
        },
    }
    if attempt is not None:
        facts = {  # not "outcome": the trace's metadata has that key
            "attempt": attempt.number,
            "attempt_outcome": attempt.outcome,
            "latency_ms": round(attempt.latency_ms, 1),
            "first_token_ms": _rounded(attempt.first_token_ms),
            "hedge": attempt.hedge or None,  # started because an earlier deployment was late
            "probe": attempt.probe or None,  # a half-open breaker's probe
        }
        out["metadata"].update({k: v for k, v in facts.items() if v is not None})
    if record.first_token is not None:
        out["completion_start_time"] = record.first_token
    return out


def _rounded(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


def _level(record: GenerationRecord) -> tuple[str, str | None]:
    attempt = record.attempt
    if attempt is None:
        reason = record.skipped or "never attempted"
        return "WARNING", f"skipped: {reason}"[:300]
    if attempt.ok:
        return "DEFAULT", None
    if attempt.outcome in UNFINISHED:
        return "WARNING", "unfinished: the request ended before this attempt did"
    if attempt.outcome in ("error", "rejected"):
        return "ERROR", f"{attempt.reason}: {attempt.message}"[:300]
    detail = ": ".join(p for p in (attempt.outcome, attempt.reason, attempt.message) if p)
    return "WARNING", detail[:300]


def root_metadata(ctx: RequestContext) -> dict[str, Any]:
    """What the request came to: the facts the old ``router.result`` and ``router.fallback``
    events carried, now on the root span (no extra spans per request)."""
    final = ctx.final
    out: dict[str, Any] = {
        "outcome": ctx.outcome,
        "status": ctx.status,
        "attempts": len(ctx.attempts),
        "cost_usd": ctx.cost_usd,
        "stream": ctx.stream,
    }
    if final is not None:
        out.update(
            served_deployment=final.deployment.id,
            served_provider=final.deployment.provider,
            served_model=final.served_model or final.deployment.pinned_model,
        )
        failed = next((a for a in ctx.attempts if a is not final and not a.ok), None)
        if failed is not None:
            out.update(fallback_from=failed.deployment.id, fallback_reason=failed.reason)
        elif ctx.skipped and "fallback" in ctx.tags:
            out.update(fallback_from=ctx.skipped[0][0], fallback_reason=ctx.skipped[0][1])
    return out
