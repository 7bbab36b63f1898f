"""The hot routes, called straight from ASGI instead of through FastAPI's routing.

A chat completion passed through nine layers of Starlette and FastAPI before reaching
its handler (error middleware, body-limit wrapper, exception middleware, exit stack,
route matching, dependency solving), about a tenth of the gateway's CPU per request on
the bench. The handler takes a plain ``Request`` and needs none of them, so its routes
are dispatched here first, before FastAPI's stack; every other route goes through it as
before. Errors are answered exactly as the app's exception handlers answer them
(``http_errors``), and the route stays declared in FastAPI, so OpenAPI still shows it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from router_config.api.http_errors import router_error_response, unexpected_error_response
from router_config.api.request_ids import RequestIds
from router_config.errors import RouterError

Handler = Callable[[Request], Awaitable[Response]]


class DirectRoutes:
    """Sends ``(method, path)`` pairs it knows to their handler; the rest to ``app``."""

    def __init__(self, app: ASGIApp, routes: Mapping[tuple[str, str], Handler]) -> None:
        self.app = app
        self.routes = dict(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = (
            self.routes.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        )
        if handler is None:
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        request = Request(scope, receive)
        request_id = scope["state"]["request_id"]
        try:
            response = await handler(request)
            await response(scope, receive, tracked)
        except RouterError as exc:
            if started:
                raise
            await router_error_response(exc, request_id)(scope, receive, send)
        except Exception as exc:
            if started:  # as Starlette's error middleware: the server logs and closes it
                raise
            await unexpected_error_response(request_id, exc)(scope, receive, send)


class GatewayApp(FastAPI):
    """FastAPI with request ids outermost and ``direct`` routes dispatched before routing."""

    direct: dict[tuple[str, str], Handler]

    def build_middleware_stack(self) -> ASGIApp:
        return RequestIds(DirectRoutes(super().build_middleware_stack(), self.direct))
