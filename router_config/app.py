"""The FastAPI app: translates HTTP to gateway calls and back, nothing more.

Routes: ``POST /v1/chat/completions`` (JSON or SSE), ``GET /v1/models``,
``GET /health`` (liveness), ``GET /health/readiness``, and for the master key
``GET /health/providers``, ``GET /admin/spend`` and ``POST /admin/reload``. The body is read
with a size limit before parsing, parameters are validated (credentials
refused), and the caller is authenticated before any provider is called.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import re
import signal
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response, StreamingResponse

from plugins.version_history import config_hash
from router_config.chat_request import parse_chat_request
from router_config.errors import (
    ConfigError,
    InvalidRequest,
    ModelNotFound,
    PayloadTooLarge,
    PermissionDenied,
)
from router_config.gateway import Gateway
from router_config.hooks import RequestContext
from router_config.http_errors import install_error_handlers
from router_config.live import ConfigSource, Generation, LiveGateway
from router_config.loader import load_config
from router_config.logs import configure_logging, emit
from router_config.openapi import install_openapi
from router_config.schema import RouterConfig
from router_config.spend_report import spend
from router_config.sse import sse_events
from router_config.wiring import Timing

log = logging.getLogger("llm_router.app")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def create_app(
    config: RouterConfig,
    *,
    timing: Timing | None = None,
    span_exporter: Any = None,
    reload_from: ConfigSource | None = None,
) -> FastAPI:
    """Build the app for ``config``; the Router is built now, plugins start with the app.

    ``reload_from`` re-reads the config for ``POST /admin/reload`` and SIGHUP; by
    default the file ``config.source`` names, when it is one.
    """
    configure_logging()
    timing = timing or Timing()
    clock = timing.clock
    if reload_from is None and Path(config.source).is_file():
        source = config.source
        reload_from = lambda: load_config(source)  # noqa: E731
    live = LiveGateway(config, timing, span_exporter=span_exporter, reload_from=reload_from)

    async def reload() -> Response:
        try:
            loaded = await live.reload()
        except ConfigError as exc:
            emit(
                "reload_failed",
                logging.ERROR,
                config=exc.file,
                issues=[issue.render(exc.file) for issue in exc.issues],
                message="the new config is invalid: the old one keeps serving",
            )
            return _config_error_response(exc)
        body = {
            "status": "reloaded",
            "config": loaded.source,
            "config_hash": config_hash(loaded),
            "deployments": len(loaded.deployments),
            "warnings": list(loaded.warnings),
        }
        return Response(orjson.dumps(body), media_type="application/json")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await live.start()
        for warning in config.warnings:
            emit("config_warning", logging.WARNING, message=warning)
        if live.current.auth.open:
            emit(
                "auth_off",
                logging.WARNING,
                message="no master_key or client_keys configured: every caller is let in",
            )
        hup = _on_sighup(reload)
        # Everything imported and built so far lives as long as the process: moving it out of
        # the collector's reach makes full collections (tail-latency pauses) far cheaper.
        gc.collect()
        gc.freeze()
        emit("started", config=config.source, deployments=len(config.deployments))
        try:
            yield
        finally:
            hup()
            await live.close()

    app = FastAPI(title="llm-router", version="0.1.0", lifespan=lifespan)
    app.state.live = live
    install_error_handlers(app)
    install_openapi(app)

    @app.middleware("http")
    async def request_id(request: Request, call_next: Any) -> Response:
        given = request.headers.get("x-request-id", "")
        request.state.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        response: Response = await call_next(request)
        response.headers["x-request-id"] = request.state.request_id
        return response

    @app.post("/v1/chat/completions")
    @app.post("/chat/completions", include_in_schema=False)
    async def chat_completions(request: Request) -> Response:
        generation = live.acquire()  # the whole request runs on this config, even if reloaded
        try:
            ctx = await _request_context(generation, request, clock())
        except BaseException:
            live.release(generation)
            raise
        return await _respond(generation.gateway, ctx, lambda: live.release(generation))

    @app.get("/v1/models")
    @app.get("/models", include_in_schema=False)
    async def models(request: Request) -> Response:
        current = live.current
        current.auth.caller(request.headers)
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "llm-router"}
            for name in current.config.groups
        ]
        return Response(
            orjson.dumps({"object": "list", "data": data}), media_type="application/json"
        )

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/readiness")
    async def readiness() -> Response:
        gateway = live.current.gateway
        checks = {"config": "ok"}
        if gateway.redis is not None:
            checks["redis"] = "ok" if await gateway.redis.ping() else "unreachable"
        ready = all(v == "ok" for v in checks.values())
        return Response(
            orjson.dumps({"status": "ok" if ready else "unavailable", "checks": checks}),
            status_code=200 if ready else 503,
            media_type="application/json",
        )

    @app.get("/health/providers")
    async def providers(request: Request) -> Response:
        current = live.current
        current.auth.admin(request.headers)
        return Response(
            orjson.dumps({"deployments": await current.gateway.health()}),
            media_type="application/json",
        )

    @app.get("/admin/spend")
    async def admin_spend(request: Request, period: Literal["day", "month"] = "month") -> Response:
        current = live.current
        current.auth.admin(request.headers)
        when = dt.datetime.fromtimestamp(timing.now(), dt.UTC)
        report = await spend(current.gateway.ledger, period, when)
        return Response(orjson.dumps(report), media_type="application/json")

    @app.post("/admin/reload")
    async def admin_reload(request: Request) -> Response:
        live.current.auth.admin(request.headers)
        return await reload()

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        gateway = live.current.gateway
        if gateway.redis is not None:
            gateway.metrics.redis_up.set(0 if gateway.redis.down else 1)
        return Response(
            gateway.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    return app


async def _request_context(generation: Generation, request: Request, now: float) -> RequestContext:
    """Authenticate, read and validate the request, before any provider is called."""
    config = generation.config
    caller = generation.auth.caller(request.headers)
    limits = config.plugins.server
    body = await _read_json(request, limits.max_body_bytes)
    chat = parse_chat_request(body, max_messages=limits.max_messages)
    group, _, version = chat.model.partition("@")
    version = version or request.headers.get("x-router-model-version") or ""
    if group not in config.groups:
        raise ModelNotFound(
            f"The model '{group}' does not exist; see GET /v1/models.", param="model"
        )
    if not caller.may_use(group):
        raise PermissionDenied(f"This key may not use model '{group}'.", param="model")
    params = chat.provider_params()
    wants_usage = bool((chat.stream_options or {}).get("include_usage"))
    if chat.stream:
        params["stream_options"] = {**(chat.stream_options or {}), "include_usage": True}
    return RequestContext(
        request_id=request.state.request_id,
        team=caller.team,
        key_alias=caller.alias,
        group=group,
        required_version=version or None,
        messages=chat.message_dicts(),
        params=params,
        stream=chat.stream,
        headers={k.lower(): v for k, v in request.headers.items()},
        started=now,
        deadline=now + _deadline_s(request.headers, config.plugins.failover.deadline_s),
        wants_usage=wants_usage,
    )


async def _respond(gateway: Gateway, ctx: RequestContext, done: Callable[[], None]) -> Response:
    """Serve ``ctx``; ``done`` runs once the request is over (for a stream: after its end)."""

    async def finish() -> None:
        try:
            await gateway.finish(ctx)
        finally:
            done()

    try:
        reply = await gateway.serve(ctx)
    except BaseException as exc:
        ctx.outcome = getattr(exc, "code", None) or "error"
        ctx.status = getattr(exc, "status_code", 500)
        await finish()
        raise
    if reply.chunks is None:
        try:
            return Response(
                orjson.dumps(reply.body), media_type="application/json", headers=reply.headers
            )
        finally:
            await finish()
    return StreamingResponse(
        sse_events(reply.chunks, finish),
        media_type="text/event-stream",
        headers=reply.headers,
    )


def _on_sighup(reload: Callable[[], Coroutine[Any, Any, Response]]) -> Callable[[], None]:
    """Reload on SIGHUP where this process can take signals; returns the undo."""
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[Response]] = set()

    def on_signal() -> None:
        task = loop.create_task(reload())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    try:
        loop.add_signal_handler(signal.SIGHUP, on_signal)
    except (ValueError, RuntimeError, NotImplementedError):  # not the main thread (tests)
        return lambda: None

    def undo() -> None:
        loop.remove_signal_handler(signal.SIGHUP)

    return undo


def _config_error_response(exc: ConfigError) -> Response:
    """409 with every issue of the rejected config, each with its key path and fix.

    409, not 400: the request is fine, the config file on disk is what conflicts.
    """
    error = {
        "message": str(exc),
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_config",
        "issues": [{"path": i.path, "message": i.message, "fix": i.fix} for i in exc.issues],
    }
    return Response(orjson.dumps({"error": error}), status_code=409, media_type="application/json")


def _deadline_s(headers: Any, configured: float) -> float:
    """The request's deadline: the config's, lowered (never raised) by ``x-router-timeout-ms``."""
    given = headers.get("x-router-timeout-ms")
    if given is None:
        return configured
    try:
        wanted = float(given) / 1000
    except ValueError:
        raise InvalidRequest(
            "x-router-timeout-ms must be a number of milliseconds.", param="x-router-timeout-ms"
        ) from None
    if wanted <= 0:
        raise InvalidRequest("x-router-timeout-ms must be positive.", param="x-router-timeout-ms")
    return min(configured, wanted)


async def _read_json(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body is over the {limit}-byte limit.")
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            raise PayloadTooLarge(f"The request body is over the {limit}-byte limit.")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidRequest("The request body is not valid JSON.") from None
