"""``Abstention``: when nothing can answer, refuse clearly instead of failing obscurely.

In ``error`` mode (default) it does nothing: the gateway answers 503
``all_providers_failed`` listing every attempt, with a Retry-After. In
``response`` mode it answers 200 with the configured refusal as the
assistant's message and ``x-router-abstained: true``, for callers that would
show an error to a person anyway (a legacy completion gets the refusal as its
text; an embeddings request always gets the 503: no vector stands for a refusal).
It runs after the cache, so a stale answer is always preferred to abstaining.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

from router_config.config.plugin_settings import AbstainSettings
from router_config.flow.hooks import GatewayPlugin, RequestContext
from router_config.logs import emit
from router_config.metrics import Metrics


class Abstention(GatewayPlugin):
    """Turns "every provider failed" into the configured refusal answer."""

    name = "abstention"

    def __init__(self, settings: AbstainSettings, metrics: Metrics) -> None:
        self._s = settings
        self._metrics = metrics

    async def on_failure(self, ctx: RequestContext, error: Exception) -> Mapping[str, Any] | None:
        self._metrics.degraded.labels(ctx.group, f"abstain_{self._s.mode}").inc()
        emit(
            "abstained",
            logging.WARNING,
            request_id=ctx.request_id,
            model_group=ctx.group,
            mode=self._s.mode,
            attempts=len(ctx.attempts),
        )
        if self._s.mode == "error" or ctx.call == "embedding":  # no refusal is a vector
            return None
        ctx.tags.update({"abstained", "degraded"})
        ctx.response_headers.update({"x-router-abstained": "true", "x-router-degraded": "true"})
        if ctx.call == "text_completion":
            return {
                "id": f"cmpl-abstain-{uuid.uuid4().hex[:16]}",
                "object": "text_completion",
                "created": int(time.time()),
                "model": ctx.group,
                "choices": [
                    {"index": 0, "text": self._s.message, "logprobs": None, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            }
        return {
            "id": f"chatcmpl-abstain-{uuid.uuid4().hex[:16]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": ctx.group,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": self._s.message},
                }
            ],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }
