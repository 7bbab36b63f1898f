"""LiteLLM's shapes for one request and attempt: what its hooks and loggers are handed.

Kept apart from ``LiteLLMCallbacks`` (which decides when to fire) so the plugin reads as
the sequence of hooks. Built with LiteLLM's own types (``Logging``, ``ModelResponse``,
``UserAPIKeyAuth``, its exception classes), imported when first needed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from router_config.flow.hooks import Attempt, RequestContext

# Request parameters a pre-call hook may set or change (besides messages and metadata); other
# keys it adds (LiteLLM's proxy passes its own bookkeeping around) are not sent to providers.
HOOK_PARAMS = frozenset(
    {
        "temperature",
        "top_p",
        "n",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "seed",
        "user",
        "response_format",
        "tools",
        "tool_choice",
        "reasoning_effort",
    }
)


def caller(ctx: RequestContext) -> Any:
    from litellm.proxy._types import UserAPIKeyAuth

    return UserAPIKeyAuth(key_alias=ctx.key_alias, team_id=ctx.team, metadata=dict(ctx.metadata))


def cache() -> Any:
    from litellm.caching.dual_cache import DualCache

    return DualCache()


def data(ctx: RequestContext) -> dict[str, Any]:
    """The request as LiteLLM's proxy hands it to its hooks."""
    return {
        "model": ctx.group,
        "messages": ctx.messages,
        "stream": ctx.stream,
        **ctx.params,
        "metadata": {**ctx.metadata, "tags": list(ctx.request_tags)},
    }


def apply(ctx: RequestContext, data: Mapping[str, Any]) -> None:
    """A pre-call hook's modified request: messages, parameters and metadata."""
    if isinstance(data.get("messages"), list):
        ctx.messages = list(data["messages"])
    allowed = HOOK_PARAMS | ctx.params.keys()
    ctx.params = {k: v for k, v in data.items() if k in allowed and v is not None}
    if isinstance(data.get("metadata"), Mapping):
        ctx.metadata = {k: v for k, v in data["metadata"].items() if k != "tags"}


def answer(ctx: RequestContext, text: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(dt.datetime.now().timestamp()),
        "model": ctx.group,
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


# LiteLLM's call type and response class for each of our call types.
CALL_TYPES = {
    "chat": "acompletion",
    "text_completion": "atext_completion",
    "embedding": "aembedding",
}


def response(body: Mapping[str, Any], attempt: Attempt | None, call: str = "chat") -> Any:
    from litellm.types.utils import EmbeddingResponse, ModelResponse, TextCompletionResponse

    kind = {"embedding": EmbeddingResponse, "text_completion": TextCompletionResponse}.get(
        call, ModelResponse
    )
    response = kind(**dict(body))
    if attempt is not None:
        response._hidden_params = {
            "response_cost": attempt.cost_usd,
            "model_id": attempt.deployment.id,
            "api_base": attempt.deployment.api_base,
            "custom_llm_provider": attempt.deployment.provider,
        }
    return response


def logging_obj(
    ctx: RequestContext,
    attempt: Attempt,
    start: dt.datetime,
    callbacks: Sequence[Any],
    *,
    success: bool,
) -> Any:
    """LiteLLM's Logging for one attempt, with the callbacks as its only (dynamic) ones."""
    from litellm.litellm_core_utils.litellm_logging import Logging

    dep = attempt.deployment
    chosen = list(callbacks)
    logging_obj = Logging(
        model=dep.pinned_model,
        messages=ctx.prompt_messages,
        stream=ctx.stream,
        call_type=CALL_TYPES[ctx.call],
        start_time=start,
        litellm_call_id=f"{ctx.request_id}-{attempt.number}",
        function_id=ctx.request_id,
        dynamic_success_callbacks=[],
        dynamic_async_success_callbacks=chosen if success else [],
        dynamic_failure_callbacks=[],
        dynamic_async_failure_callbacks=[] if success else chosen,
    )
    model_info = {**dep.model_info, "id": dep.id}
    logging_obj.update_environment_variables(
        litellm_params={
            "metadata": {
                **ctx.metadata,
                "tags": list(ctx.request_tags),
                "model_group": ctx.group,
                "deployment": dep.model,
                "model_info": model_info,
                "api_base": dep.api_base,
                "user_api_key_alias": ctx.key_alias,
                "user_api_key_team_id": ctx.team,
                "requester_metadata": dict(ctx.metadata),
            },
            "model_info": model_info,
            "api_base": dep.api_base,
            "custom_llm_provider": dep.provider,
        },
        optional_params=dict(ctx.params),
        model=dep.pinned_model,
        user=ctx.params.get("user"),
        custom_llm_provider=dep.provider,
    )
    return logging_obj


def exception(attempt: Attempt) -> Exception:
    """The failure as the LiteLLM exception a callback expects (status, message, provider)."""
    import litellm

    dep = attempt.deployment
    message = attempt.message or attempt.reason or "error"
    kinds: dict[str, Any] = {
        "timeout": litellm.Timeout,
        "rate_limited": litellm.RateLimitError,
        "context_window": litellm.ContextWindowExceededError,
        "content_policy": litellm.ContentPolicyViolationError,
        "auth": litellm.AuthenticationError,
        "key_refused": litellm.AuthenticationError,
    }
    kind = kinds.get(attempt.reason or "", litellm.APIError)
    try:
        if kind is litellm.APIError:
            error = litellm.APIError(
                status_code=attempt.status or 500,
                message=message,
                llm_provider=dep.provider,
                model=dep.pinned_model,
            )
        else:
            error = kind(message=message, llm_provider=dep.provider, model=dep.pinned_model)
    except Exception:  # a LiteLLM signature we did not expect: still an exception to log
        return RuntimeError(message)
    return error if isinstance(error, Exception) else RuntimeError(message)
