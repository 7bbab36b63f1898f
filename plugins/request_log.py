"""``RequestLogger``: one JSON line per request and one per provider attempt.

Platform engineers grep these lines (or ship them to a log store): each has
the request id, team, model group, provider, served model version, latency,
cost and outcome. Prompt and completion text are never logged here.
"""

from __future__ import annotations

import logging
from typing import Any

from router_config.flow.hooks import Attempt, Clock, GatewayPlugin, RequestContext
from router_config.logs import emit


class RequestLogger(GatewayPlugin):
    """Writes the request and attempt log lines."""

    name = "request_log"
    records = True  # its end-of-request work runs once a whole answer is sent

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def after_attempt(self, ctx: RequestContext, attempt: Attempt) -> None:
        if attempt.outcome == "streaming":
            return  # logged when the stream ends, with its final outcome
        dep = attempt.deployment
        emit(
            "attempt",
            logging.INFO if attempt.ok else logging.WARNING,
            request_id=ctx.request_id,
            attempt=attempt.number,
            deployment=dep.id,
            provider=dep.provider,
            model=dep.pinned_model,
            api_host=dep.api_host,
            served_model=attempt.served_model,
            latency_ms=round(attempt.latency_ms, 1),
            first_token_ms=_ms(attempt.first_token_ms),
            hedge=attempt.hedge or None,
            probe=attempt.probe or None,
            outcome=attempt.outcome,
            reason=attempt.reason,
            status=attempt.status,
            error=attempt.message or None,
        )

    async def on_request_end(self, ctx: RequestContext) -> None:
        final = ctx.final
        if "fallback" in ctx.tags and final is not None:
            # The primary failed (an earlier attempt) or was skipped (breaker, budget, limit).
            failed = ctx.attempts[0] if ctx.attempts[0] is not final else None
            skipped = ctx.skipped[0] if ctx.skipped else (None, None)
            emit(
                "fallback",
                logging.WARNING,
                request_id=ctx.request_id,
                model_group=ctx.group,
                failed_deployment=failed.deployment.id if failed else skipped[0],
                failed_reason=failed.reason if failed else skipped[1],
                failed_error=(failed.message or None) if failed else None,
                served_deployment=final.deployment.id,
                served_provider=final.deployment.provider,
            )
        # A stream the client left was still served, in part, by its deployment.
        final = final or next((a for a in ctx.attempts if a.outcome == "client_closed"), None)
        emit(
            "request",
            request_id=ctx.request_id,
            team=ctx.team,
            key_alias=ctx.key_alias,
            model_group=ctx.group,
            stream=ctx.stream,
            provider=final.deployment.provider if final else None,
            deployment=final.deployment.id if final else None,
            served_model=final.served_model if final else None,
            attempts=len(ctx.attempts),
            skipped=len(ctx.skipped),
            latency_ms=round((self._clock() - ctx.started) * 1000, 1),
            prompt_tokens=final.usage.prompt_tokens if final else 0,
            completion_tokens=final.usage.completion_tokens if final else 0,
            first_token_ms=round(final.first_token_ms, 1)
            if final and final.first_token_ms
            else None,
            cost_usd=round(ctx.cost_usd, 9),
            outcome=ctx.outcome,
            status=ctx.status,
            tags=sorted(ctx.tags),
            **_caller_fields(ctx),
        )


def _ms(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


def _caller_fields(ctx: RequestContext) -> dict[str, Any]:
    """The caller's own: LiteLLM's request metadata and routing tags, when sent."""
    out: dict[str, Any] = {}
    if ctx.metadata:
        out["metadata"] = ctx.metadata
    if ctx.request_tags:
        out["request_tags"] = list(ctx.request_tags)
    return out
