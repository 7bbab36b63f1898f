"""The model routes beside chat: embeddings, legacy completions, the Responses API,
Anthropic's Messages, and one model by id.

Each runs on one config generation from its start to its end (a reload waits
for it), through the same ``respond`` as chat; Anthropic's route answers its
errors in Anthropic's shape.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

from router_config.api.admission import Admission
from router_config.api.anthropic_messages import error_response as anthropic_error
from router_config.api.http_chat import Build, serve_admitted
from router_config.api.http_legacy import completion_context, embedding_context
from router_config.api.http_models import model_entry
from router_config.api.http_translated import count_tokens, messages_context, responses_context
from router_config.api.responses_api import stored_response
from router_config.errors import ResponseNotFound, RouterError
from router_config.flow.hooks import Clock
from router_config.live import LiveGateway


def add_model_routes(app: FastAPI, live: LiveGateway, clock: Clock, admission: Admission) -> None:
    """Register the routes on ``app``, serving from ``live``; every model route is admitted
    (``admission``) before its body is read, as chat is."""

    async def serve(request: Request, build: Build) -> Response:
        generation = live.acquire()  # the whole request runs on this config, even if reloaded
        release = lambda: live.release(generation)  # noqa: E731
        return await serve_admitted(generation, request, admission, clock, release, build)

    serve_shaped = serve

    @app.post("/v1/embeddings")
    @app.post("/embeddings", include_in_schema=False)
    async def embeddings(request: Request) -> Response:
        return await serve(request, embedding_context)

    @app.post("/v1/completions")
    @app.post("/completions", include_in_schema=False)
    async def completions(request: Request) -> Response:
        return await serve(request, completion_context)

    @app.post("/v1/responses")
    @app.post("/responses", include_in_schema=False)
    async def responses(request: Request) -> Response:
        return await serve_shaped(request, responses_context)

    @app.get("/v1/responses/{response_id}")
    async def get_response(request: Request, response_id: str) -> Response:
        current = live.current
        caller = current.auth.caller(request.headers)
        found = await stored_response(current.gateway.responses, caller.team, response_id)
        return _json(found)

    @app.delete("/v1/responses/{response_id}")
    async def delete_response(request: Request, response_id: str) -> Response:
        current = live.current
        caller = current.auth.caller(request.headers)
        if not await current.gateway.responses.delete(caller.team, response_id):
            raise ResponseNotFound(f"Response with id '{response_id}' not found.")
        return _json({"id": response_id, "object": "response", "deleted": True})

    @app.post("/v1/messages")
    @app.post("/messages", include_in_schema=False)
    async def messages(request: Request) -> Response:
        try:
            return await serve_shaped(request, messages_context)
        except RouterError as exc:  # Anthropic's SDK reads Anthropic's error shape
            return anthropic_error(exc, getattr(request.state, "request_id", None))

    @app.post("/v1/messages/count_tokens")
    async def messages_count_tokens(request: Request) -> Response:
        generation = live.acquire()
        try:
            caller = generation.auth.caller(request.headers)
            return _json(await count_tokens(generation, request, caller))
        except RouterError as exc:
            return anthropic_error(exc, getattr(request.state, "request_id", None))
        finally:
            live.release(generation)

    @app.get("/v1/models/{model_id:path}")
    @app.get("/models/{model_id:path}", include_in_schema=False)
    async def model(request: Request, model_id: str) -> Response:
        current = live.current
        caller = current.auth.caller(request.headers)
        return _json(model_entry(current.config, caller, model_id))


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")
