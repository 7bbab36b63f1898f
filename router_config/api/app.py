"""The FastAPI app: translates HTTP to gateway calls and back, nothing more.

Routes: ``POST /v1/chat/completions`` (JSON or SSE, see ``http_chat``), ``GET /v1/models``,
the other model routes (``model_routes``: embeddings, completions, responses, messages, a
model by id),
``GET /health`` (liveness), ``GET /health/readiness``, and for the master key
``GET /health/providers``, ``GET /admin/spend`` and ``POST /admin/reload`` (hot reload,
also on SIGHUP, see ``live``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import signal
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

from plugins.version_history import config_hash
from router_config.api.admission import Admission
from router_config.api.direct_routes import GatewayApp
from router_config.api.http_chat import serve_chat
from router_config.api.http_errors import install_error_handlers
from router_config.api.http_models import model_list
from router_config.api.model_routes import add_model_routes
from router_config.api.openapi import install_openapi
from router_config.config.loader import load_config
from router_config.config.schema import RouterConfig
from router_config.errors import (
    ConfigError,
)
from router_config.live import ConfigSource, LiveGateway
from router_config.logs import configure_logging, emit
from router_config.state.spend_report import spend
from router_config.wiring import Timing
from router_config.workers import under_supervisor

log = logging.getLogger("llm_router.app")


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
    if under_supervisor():
        _catch_early_sighup()
    timing = timing or Timing()
    clock = timing.clock
    if reload_from is None and Path(config.source).is_file():
        source = config.source
        reload_from = lambda: load_config(source)  # noqa: E731
    live = LiveGateway(config, timing, span_exporter=span_exporter, reload_from=reload_from)

    async def reload(everywhere: bool = False) -> Response:
        try:
            loaded = await (live.reload_everywhere() if everywhere else live.reload())
        except ConfigError as exc:
            if not (everywhere and under_supervisor()):  # else the SIGHUP that ran it logs
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

    docs = config.plugins.server.docs
    app = GatewayApp(
        title="llm-router",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
    )
    app.state.live = live
    admission = Admission(timing.now, timing.sleep)
    app.state.admission = admission
    install_error_handlers(app)
    install_openapi(app)

    @app.post("/v1/chat/completions")
    @app.post("/chat/completions", include_in_schema=False)
    async def chat_completions(request: Request) -> Response:
        generation = live.acquire()  # the whole request runs on this config, even if reloaded
        return await serve_chat(
            generation, request, admission, clock, lambda: live.release(generation)
        )

    app.direct = {  # the hot route skips FastAPI's routing layers (``direct_routes``)
        ("POST", "/v1/chat/completions"): chat_completions,
        ("POST", "/chat/completions"): chat_completions,
    }

    add_model_routes(app, live, clock, admission)  # embeddings, completions, responses, messages

    @app.get("/v1/models")
    @app.get("/models", include_in_schema=False)
    async def models(request: Request) -> Response:
        current = live.current
        caller = current.auth.caller(request.headers)
        listed = model_list(current.config, caller)  # served groups and aliases it may use
        return Response(orjson.dumps(listed), media_type="application/json")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/readiness")
    async def readiness() -> Response:
        """This replica can serve: its config is loaded. Redis down is reported, not a 503:
        requests are still answered (on local state), so a load balancer must keep it."""
        gateway = live.current.gateway
        checks = {"config": "ok"}
        if gateway.redis is not None:
            up = await gateway.redis.ping()
            gateway.metrics.redis_up.set(1 if up else 0)
            checks["redis"] = "ok" if up else "unreachable"
        return Response(
            orjson.dumps({"status": "ok", "checks": checks}), media_type="application/json"
        )

    @app.get("/health/shared-state")
    async def shared_state() -> Response:
        """Redis (topology, reachable, latency), the spend journal (entries not yet in
        Redis) and this replica's leases: 503 while the configured Redis is unreachable."""
        report = await live.current.shared.health()
        redis = report["redis"]
        ok = not redis["configured"] or redis["reachable"]
        return Response(
            orjson.dumps({"status": "ok" if ok else "degraded", **report}),
            status_code=200 if ok else 503,
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
        report = await spend(current.gateway.ledger.read, period, when)
        return Response(orjson.dumps(report), media_type="application/json")

    @app.post("/admin/reload")
    async def admin_reload(request: Request) -> Response:
        live.current.auth.admin(request.headers)
        return await reload(everywhere=True)

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        current = live.current
        if not current.config.plugins.server.public_metrics:
            current.auth.metrics(request.headers)  # per-team cost is not for everyone
        gateway = current.gateway
        if gateway.redis is not None:
            gateway.metrics.redis_up.set(0 if gateway.redis.down else 1)
            gateway.metrics.spend_pending.set(gateway.ledger.pending)
        return Response(
            gateway.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    return app


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
    if _early_hups:  # the supervisor forwarded a reload while this worker was starting
        _early_hups.clear()
        on_signal()

    def undo() -> None:
        loop.remove_signal_handler(signal.SIGHUP)

    return undo


_early_hups: list[int] = []


def _catch_early_sighup() -> None:
    """A worker may get the supervisor's SIGHUP before its app has started, and SIGHUP's
    default action ends the process: remember it instead, and reload once started."""
    with contextlib.suppress(ValueError):  # not the main thread
        signal.signal(signal.SIGHUP, lambda *_: _early_hups.append(1))


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
