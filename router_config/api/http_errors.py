"""OpenAI-shaped error responses: ``{"error": {"message", "type", "param", "code"}}``.

The ``openai`` SDK turns these into its typed exceptions, so applications
handle our errors exactly like OpenAI's. No handler ever returns a stack
trace; unexpected errors are logged with the request id and answered 500.
"""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from router_config.api.unsupported import not_found_message, wrong_method_message
from router_config.errors import RouterError

log = logging.getLogger("llm_router.http")


def error_body(message: str, error_type: str, code: str | None, param: str | None) -> bytes:
    """The JSON body of an OpenAI error."""
    return orjson.dumps(
        {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    )


def router_error_response(exc: RouterError, request_id: str | None = None) -> Response:
    """Render any ``RouterError`` with its status and headers."""
    headers = exc.headers()
    if request_id:
        headers["x-request-id"] = request_id
    return Response(
        error_body(exc.message, exc.error_type, exc.code, exc.param),
        status_code=exc.status_code,
        media_type="application/json",
        headers=headers,
    )


def unexpected_error_response(request_id: str | None, exc: Exception) -> Response:
    """A 500 naming the request id, the error logged with its traceback (never sent)."""
    log.error("unhandled error in request %s: %s", request_id, type(exc).__name__, exc_info=exc)
    return Response(
        error_body(
            f"Internal error (request id {request_id}).", "api_error", "internal_error", None
        ),
        status_code=500,
        media_type="application/json",
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that make every error OpenAI-shaped."""

    async def on_router_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RouterError)
        return router_error_response(exc, getattr(request.state, "request_id", None))

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        message, code = str(exc.detail), "http_error"
        if exc.status_code == 404:  # never a bare "Not Found": name the endpoint
            message = not_found_message(request.method, request.url.path)
            code = "unsupported_endpoint"
        elif exc.status_code == 405:
            message = wrong_method_message(request.method, request.url.path)
            code = "method_not_allowed"
        return Response(
            error_body(message, "invalid_request_error", code, None),
            status_code=exc.status_code,
            media_type="application/json",
            headers=getattr(exc, "headers", None),
        )

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        param = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        return Response(
            error_body(
                f"Invalid request: {first.get('msg', 'bad input')}.",
                "invalid_request_error",
                "invalid_request",
                param,
            ),
            status_code=400,
            media_type="application/json",
        )

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        return unexpected_error_response(getattr(request.state, "request_id", None), exc)

    app.add_exception_handler(RouterError, on_router_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)
