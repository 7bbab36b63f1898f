"""What every model route does before its own parsing: authenticate, read the body, resolve
the model, and build the ``RequestContext`` the gateway serves.

Chat (``http_chat``), embeddings, legacy completions, the Responses API and
Anthropic's Messages all pass through here, so each gets the same body limit,
authentication, model resolution (aliases, wildcard routes, ``model@version``),
key permissions, caller deadline, metadata and cache directives. The body is read
with the limit before it is parsed, and the caller authenticated and admitted
(``http_chat.serve_admitted``) before that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from router_config.api.auth import Caller
from router_config.api.http_chat import (
    _caller_deadline,
    _tags,
    _with_cache_directives,
    read_json,
)
from router_config.config.routes import group_kind, resolve_group
from router_config.config.schema import RouterConfig
from router_config.errors import ModelNotFound, PermissionDenied
from router_config.flow.hooks import RequestContext
from router_config.live import Generation

# Which endpoint serves each kind of model, for the error that names the right one.
_ENDPOINT = {"chat": "POST /v1/chat/completions", "embedding": "POST /v1/embeddings"}


async def read_body(generation: Generation, request: Request, caller: Caller) -> Any:
    """The JSON body of an authenticated, admitted request, read within the size limit and
    held to the structural limits before the route's own validation."""
    return await read_json(request, caller, generation.config.plugins.server)


@dataclass(frozen=True)
class Target:
    """The model group a request resolved to, and the exact version it demands, if any."""

    group: str
    version: str | None


def resolve(
    config: RouterConfig, caller: Caller, model: str, call: str, headers: Mapping[str, str]
) -> Target:
    """``model`` (or ``model@version``) to the group serving ``call``; 404 when none does
    (naming the endpoint that serves it, if another does), 403 when the key may not."""
    requested, _, version = model.partition("@")
    version = version or headers.get("x-router-model-version") or ""
    group = resolve_group(config, requested, call)
    if group is None:
        kind = group_kind(config, requested)
        where = f" it is served by {_ENDPOINT[kind]}" if kind in _ENDPOINT else ""
        hint = f";{where}" if where else "; see GET /v1/models"
        raise ModelNotFound(f"The model '{requested}' does not exist here{hint}.", param="model")
    if not (caller.may_use(group) or caller.may_use(requested)):
        raise PermissionDenied(f"This key may not use model '{group}'.", param="model")
    return Target(group, version or None)


def new_context(
    generation: Generation,
    request: Request,
    now: float,
    caller: Caller,
    target: Target,
    *,
    call: str,
    messages: list[dict[str, Any]],
    params: dict[str, Any],
    stream: bool,
    metadata: Mapping[str, Any] | None = None,
    tags: tuple[str, ...] = (),
    cache: dict[str, Any] | None = None,
    api: str | None = None,
) -> RequestContext:
    """The context of a request whose body is parsed; ``api`` names a non-chat endpoint in
    the request's tags (``api:embeddings``...), so logs and traces tell them apart."""
    wants_usage = bool((params.get("stream_options") or {}).get("include_usage"))
    if stream:
        params["stream_options"] = {**(params.get("stream_options") or {}), "include_usage": True}
    else:
        params.pop("stream_options", None)  # only for streams (LiteLLM drops it too)
    ctx = RequestContext(
        request_id=request.state.request_id,
        team=caller.team,
        key_alias=caller.alias,
        group=target.group,
        required_version=target.version,
        messages=messages,
        params=params,
        stream=stream,
        headers=_with_cache_directives(request.headers, cache),
        started=now,
        deadline=now + generation.config.plugins.failover.deadline_s,
        caller_deadline=_caller_deadline(request.headers, now),
        wants_usage=wants_usage,
        metadata=dict(metadata or {}),
        request_tags=_tags(tags, request.headers.get("x-litellm-tags")),
        call=call,
    )
    if api is not None:
        ctx.tags.add(f"api:{api}")
    return ctx
