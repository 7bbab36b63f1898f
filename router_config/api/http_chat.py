"""From an HTTP chat request to a ``RequestContext``, and from the gateway's reply back to HTTP.

The order is admission before work: the caller is authenticated, admitted (``admission``:
refusal of a scope known over its limit, an in-flight slot), and only then is the body
read and parsed within its structural limits (``json_body``) and validated
(``chat_request``). A request refused on the way is still counted against the caller's
request limits. Replies are JSON or SSE; ``done`` runs when the request is really over
(for a stream, after its last chunk), which is what gives the slot back and lets a
reload drain.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Protocol

import anyio
import orjson
from fastapi import Request
from starlette.responses import Response, StreamingResponse

from router_config.api.admission import Admission
from router_config.api.auth import Caller
from router_config.api.chat_request import parse_chat_request
from router_config.api.http_protocol import TIMED_OUT
from router_config.api.json_body import BodyLimits, check_structure, parse_json, read_body
from router_config.api.sse import sse_events
from router_config.config.routes import resolve_group
from router_config.errors import (
    ClientClosed,
    InvalidRequest,
    ModelNotFound,
    PermissionDenied,
    RateLimited,
    RouterError,
)
from router_config.flow.gateway import Gateway
from router_config.flow.hooks import Clock, RequestContext
from router_config.live import Generation
from router_config.logs import emit

# Reads and validates an admitted request: its context, and for a translated API (Responses,
# Anthropic's Messages) the shape its reply is given.
Build = Callable[
    [Generation, Request, Caller, float], Awaitable["RequestContext | tuple[RequestContext, Any]"]
]


async def serve_chat(
    generation: Generation,
    request: Request,
    admission: Admission,
    clock: Clock,
    release: Callable[[], None],
) -> Response:
    """Admit, read, validate and serve one chat request; ``release`` runs once it is over."""
    return await serve_admitted(generation, request, admission, clock, release, request_context)


async def serve_admitted(
    generation: Generation,
    request: Request,
    admission: Admission,
    clock: Clock,
    release: Callable[[], None],
    build: Build,
) -> Response:
    """What every model route does: authenticate, admit (before any work), then ``build``
    reads and validates the body, and the gateway serves it. ``release`` runs once the
    request is over; a request refused on the way still counts against its caller's limits."""
    try:
        caller = generation.auth.caller(request.headers)
        ticket = await admission.enter(caller, generation.config.plugins.server)
    except BaseException:
        release()
        raise

    def done() -> None:
        ticket.leave()
        release()

    try:
        built = await build(generation, request, caller, clock())
    except BaseException as exc:
        done()
        if isinstance(exc, RouterError):  # a bad request still spends a slot of its limit
            await admission.count_refused(generation.gateway, caller)
        raise
    ctx, shape = built if isinstance(built, tuple) else (built, None)
    try:
        return await respond(generation.gateway, ctx, done, shape, answered=ticket.leave)
    except RateLimited as exc:
        admission.learn(exc)
        raise


async def read_json(request: Request, caller: Caller, limits: Any) -> Any:
    """The body of an admitted request: read within the byte limit, parsed, and held to the
    structural limits (depth, items, key sizes) before any validation of its own."""
    body = parse_json(await _read(request, caller, limits.max_body_bytes))
    if isinstance(body, dict):
        check_structure(body, BodyLimits.of(limits))
    return body


async def request_context(
    generation: Generation, request: Request, caller: Caller, now: float
) -> RequestContext:
    """Read and validate an admitted request, before any provider is called."""
    config = generation.config
    limits = config.plugins.server
    body = parse_json(await _read(request, caller, limits.max_body_bytes))
    chat = parse_chat_request(body, max_messages=limits.max_messages, limits=BodyLimits.of(limits))
    requested, _, version = chat.model.partition("@")
    version = version or request.headers.get("x-router-model-version") or ""
    if len(version) > 256:
        raise InvalidRequest("The model version is too long.", param="x-router-model-version")
    group = resolve_group(config, requested)  # aliases and wildcard routes, as LiteLLM
    if group is None:
        raise ModelNotFound(
            f"The model '{requested}' does not exist; see GET /v1/models.", param="model"
        )
    if not (caller.may_use(group) or caller.may_use(requested)):
        raise PermissionDenied(f"This key may not use model '{group}'.", param="model")
    params = chat.provider_params()
    wants_usage = bool((chat.stream_options or {}).get("include_usage"))
    if chat.stream:
        params["stream_options"] = {**(chat.stream_options or {}), "include_usage": True}
    else:
        params.pop("stream_options", None)  # only for streams (LiteLLM drops it too)
    return RequestContext(
        request_id=request.state.request_id,
        team=caller.team,
        key_alias=caller.alias,
        group=group,
        required_version=version or None,
        messages=chat.message_dicts(),
        params=params,
        stream=chat.stream,
        headers=_with_cache_directives(request.headers, chat.cache),
        started=now,
        deadline=now + config.plugins.failover.deadline_s,
        caller_deadline=_caller_deadline(request.headers, now),
        wants_usage=wants_usage,
        metadata=dict(chat.metadata or {}),
        request_tags=_tags(chat.routing_tags(), request.headers.get("x-litellm-tags")),
    )


def _tags(body_tags: tuple[str, ...], header: str | None) -> tuple[str, ...]:
    """Routing tags from the body, then LiteLLM's ``x-litellm-tags`` header (comma-separated)."""
    extra = [t.strip() for t in (header or "").split(",") if t.strip()]
    return (*body_tags, *(t for t in extra if t not in body_tags))


def _with_cache_directives(headers: Any, cache: dict[str, Any] | None) -> dict[str, str]:
    """Lower-cased headers; LiteLLM's body ``cache`` controls become Cache-Control directives
    (``no-cache``, ``no-store``, and ``use-cache`` for a cache in ``mode: default_off``)."""
    out = {k.lower(): v for k, v in headers.items()}
    asked = [name for name in ("no-cache", "no-store", "use-cache") if (cache or {}).get(name)]
    if asked:
        out["cache-control"] = ", ".join(filter(None, [out.get("cache-control"), *asked]))
    return out


class FinishingResponse(Response):
    """A JSON answer whose recording (``finish``: logs, traces, metrics) runs once its bytes
    are sent, however sending ends: the caller does not wait for bookkeeping it never sees,
    and the work is never skipped. ``answered`` runs first (it frees the caller's in-flight
    slot, so a caller that asks again at once is not refused). State the next request
    reads (load balancing, rate limits, breakers) is settled before the answer is made."""

    def __init__(
        self,
        content: bytes,
        headers: Mapping[str, str],
        answered: Callable[[], None],
        finish: Callable[[], Awaitable[None]],
    ) -> None:
        super().__init__(content, media_type="application/json", headers=headers)
        self._answered = answered
        self._finish = finish

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._answered()
            await self._finish()


class ClosingStreamingResponse(StreamingResponse):
    """A stream whose generator is closed when the response ends, however it ends.

    Under an ASGI server of spec 2.4 Starlette notices a gone client only when a write
    fails, and then leaves the body generator to the garbage collector: until then the
    request would count as in flight (a reload waits for it), its rate-limit reservation
    stay unsettled and the provider's stream open. Closing it runs its ``finally`` now.
    (uvicorn, spec 2.3, has Starlette watch for the disconnect instead; tested.)
    """

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            closer = getattr(self.body_iterator, "aclose", None)
            if closer is not None:
                await closer()


class ReplyShape(Protocol):
    """Renders a chat answer in another API's format (Anthropic's Messages, the Responses
    API): the whole body, or the stream as that API's SSE bytes (closing ``chunks`` and
    calling ``on_end`` however it ends)."""

    async def body(
        self, body: Mapping[str, Any], headers: Mapping[str, str]
    ) -> Mapping[str, Any]: ...

    def stream(
        self,
        chunks: AsyncIterator[dict[str, Any]],
        headers: Mapping[str, str],
        on_end: Callable[[], Awaitable[None]],
    ) -> AsyncIterator[bytes]: ...


async def respond(
    gateway: Gateway,
    ctx: RequestContext,
    done: Callable[[], None],
    shape: ReplyShape | None = None,
    *,
    answered: Callable[[], None] = lambda: None,
) -> Response:
    """Serve ``ctx``; ``done`` runs once the request is over (for a stream: after its end).
    ``shape`` renders the answer in another API's format (default: as it came).
    ``answered`` runs as soon as a whole answer is sent, before its bookkeeping: the
    caller's in-flight slot is free once the caller has its answer."""

    async def finish() -> None:
        # A client that leaves a stream makes Starlette cancel it, and every await in the
        # cleanup would be cancelled too: reservations unsettled, no log line, no trace.
        # The end-of-request work is bounded (Redis ops time out in 0.25 s), so shield it.
        with anyio.CancelScope(shield=True):
            try:
                await gateway.settle(ctx)
                await gateway.record(ctx)
            finally:
                done()

    async def record() -> None:
        with anyio.CancelScope(shield=True):
            try:
                await gateway.record(ctx)
            finally:
                done()

    try:
        reply = await gateway.serve(ctx)
    except BaseException as exc:
        if isinstance(exc, asyncio.CancelledError):  # shutdown cut it short: nobody waits
            ctx.outcome, ctx.status = "cancelled", 499
        else:
            ctx.outcome = getattr(exc, "code", None) or "error"
            ctx.status = getattr(exc, "status_code", 500)
        await finish()
        raise
    if reply.chunks is None:
        try:
            assert reply.body is not None
            body = reply.body if shape is None else await shape.body(reply.body, reply.headers)
            content = orjson.dumps(body)
        except BaseException:
            await finish()
            raise
        with anyio.CancelScope(shield=True):
            await gateway.settle(ctx)  # what the caller's next request reads, before it can ask
        return FinishingResponse(content, reply.headers, answered, record)
    events = (
        sse_events(reply.chunks, finish)
        if shape is None
        else shape.stream(reply.chunks, reply.headers, finish)
    )
    return ClosingStreamingResponse(events, media_type="text/event-stream", headers=reply.headers)


def _caller_deadline(headers: Any, now: float) -> float | None:
    """The caller's own limit for the whole request, ``x-router-timeout-ms``, if it sent one.
    Running out of it is the caller's 504, never a provider's fault."""
    given = headers.get("x-router-timeout-ms")
    if given is None:
        return None
    try:
        wanted = float(given) / 1000
    except ValueError:
        raise InvalidRequest(
            "x-router-timeout-ms must be a number of milliseconds.", param="x-router-timeout-ms"
        ) from None
    if wanted <= 0:
        raise InvalidRequest("x-router-timeout-ms must be positive.", param="x-router-timeout-ms")
    return now + wanted


async def _read(request: Request, caller: Caller, limit: int) -> bytes:
    """The body; a client that leaves meanwhile is one ``client_closed`` line, no traceback
    (none at all when the server closed it for being too slow: that was logged already)."""
    try:
        return await read_body(request, limit)
    except ClientClosed:
        if TIMED_OUT not in request.scope.get("state", {}):
            emit(
                "client_closed",
                logging.INFO,
                request_id=getattr(request.state, "request_id", None),
                team=caller.team,
                key_alias=caller.alias,
                phase="request_body",
            )
        raise
