"""The fake OpenAI- and Anthropic-compatible provider used by tests, the demo and the drill.

A raw ASGI app (no framework: it must be far faster than the gateway it
measures) speaking ``POST /v1/chat/completions`` and ``POST /v1/messages``,
stream and not, with realistic usage, tool calls, log probabilities and ``n``
choices (``_fake_answer``), and ``/v1/completions``, ``/v1/responses`` and
``/v1/embeddings`` (``_fake_formats``), all with the fault and latency modes of
``_fake_modes``.
``/_fake/stats``, ``/_fake/reset`` and ``/_fake/control`` let tests and the
drill count requests and change behaviour at run time.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import orjson

from router_config.testing import _fake_bodies as bodies
from router_config.testing._background import BackgroundServer
from router_config.testing._fake_modes import Mode, choose, split_model
from router_config.testing._fake_reply import JSON, Reply, raw

Send = Any
Receive = Any
# Paths served besides chat and Anthropic's messages (any prefix, as for chat).
_OTHER_KINDS = ("/completions", "/embeddings", "/responses")


class FakeProvider:
    """The ASGI app. Thread-safe controls, so tests may call them from their own thread."""

    def __init__(self, default_mode: str = "ok", served_model: str | None = None) -> None:
        Mode.parse(default_mode)
        self.default_mode = default_mode
        self.forced_model = served_model
        self._lock = threading.Lock()
        self._override: str | None = None
        self._override_model: str | None = None
        self._usage_extra: dict[str, int] = {}
        self._counts: dict[str, Counter[str]] = {
            "mode": Counter(),
            "model": Counter(),
            "path": Counter(),
            "key": Counter(),
            "client": Counter(),  # the caller's User-Agent product name (which HTTP client)
        }
        self._requests = 0
        self._revoked: set[str] = set()
        self._last: dict[str, Any] = {}

    # -- controls -----------------------------------------------------------------
    def set_mode(self, mode: str | None) -> None:
        if mode is not None:
            Mode.parse(mode)
        with self._lock:
            self._override = mode

    def set_served_model(self, model: str | None) -> None:
        with self._lock:
            self._override_model = model

    def set_usage(
        self, *, cached_tokens: int = 0, reasoning_tokens: int = 0, cache_creation_tokens: int = 0
    ) -> None:
        """Report cached/reasoning tokens, and cache writes (Anthropic's shape only, as OpenAI
        reports none), on every answer (as headers would per request)."""
        with self._lock:
            self._usage_extra = {
                "x-fake-cached-tokens": cached_tokens,
                "x-fake-reasoning-tokens": reasoning_tokens,
                "x-fake-cache-creation-tokens": cache_creation_tokens,
            }

    def revoke_key(self, key: str) -> None:
        """Answer 401 to every request made with ``key`` (a key rotated out at the provider)."""
        with self._lock:
            self._revoked.add(key)

    def reset(self) -> None:
        with self._lock:
            self._revoked.clear()
            self._usage_extra = {}
            self._override = self._override_model = None
            self._last = {}
            self._requests = 0
            for counter in self._counts.values():
                counter.clear()

    def last_request(self) -> dict[str, Any]:
        """The last chat request's JSON body and headers (lower-cased), as received."""
        with self._lock:
            return dict(self._last)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self._requests,
                **{f"by_{k}": dict(v) for k, v in self._counts.items()},
            }

    # -- ASGI ---------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        raw = await _read_body(receive)
        if path.startswith("/_fake/"):
            await self._control(path, raw, send)
        elif method == "GET" and path in ("/v1/models", "/models"):
            await _json(
                send,
                200,
                {
                    "object": "list",
                    "data": [
                        {"id": self.forced_model or "fake", "object": "model", "owned_by": "fake"}
                    ],
                },
            )
        elif method == "POST" and path.endswith("/chat/completions"):
            # Any prefix: Azure's /openai/deployments/<name>/chat/completions?api-version=...
            await self._complete(scope, raw, receive, send, kind="chat")
        elif method == "POST" and path in ("/v1/messages", "/messages"):
            await self._complete(scope, raw, receive, send, kind="anthropic")
        elif method == "POST" and path.endswith(_OTHER_KINDS):
            kind = next(k for k in _OTHER_KINDS if path.endswith(k)).strip("/")
            await self._complete(scope, raw, receive, send, kind=kind)
        else:
            await _json(send, 404, bodies.openai_error(404, f"no route {path}", "not_found"))

    async def _control(self, path: str, raw: bytes, send: Send) -> None:
        if path == "/_fake/stats":
            await _json(send, 200, self.stats())
            return
        if path == "/_fake/reset":
            self.reset()
        elif path == "/_fake/control":
            body = orjson.loads(raw or b"{}")
            try:
                if "mode" in body:
                    self.set_mode(body["mode"])
            except ValueError as exc:
                await _json(send, 400, {"error": str(exc)})
                return
            if "served_model" in body:
                self.set_served_model(body["served_model"])
        await _json(send, 200, {"ok": True})

    async def _complete(
        self, scope: dict[str, Any], raw: bytes, receive: Receive, send: Send, *, kind: str
    ) -> None:
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        try:
            req = orjson.loads(raw)
            model, suffix = split_model(str(req.get("model", "fake")))
            with self._lock:
                override, override_model = self._override, self._override_model
                for name, value in self._usage_extra.items():
                    headers.setdefault(name, str(value))
            mode = choose(headers.get("x-fake-mode"), override, suffix, self.default_mode)
        except (orjson.JSONDecodeError, ValueError, AttributeError) as exc:
            await _json(send, 400, bodies.openai_error(400, f"bad request: {exc}", None))
            return
        key = _api_key(headers)
        with self._lock:
            self._counts["key"][key[-4:]] += 1
            revoked = key in self._revoked
        if revoked:
            # Worst case on purpose: the whole key echoed back (real providers mask part of it).
            message = f"Incorrect API key provided: {key}."
            await _json(send, 401, bodies.openai_error(401, message, None))
            return
        served = (
            override_model
            or self.forced_model
            or (mode.arg if mode.name == "drift" and mode.arg else model)
        )
        with self._lock:
            self._requests += 1
            self._counts["mode"][mode.label] += 1
            self._counts["model"][model] += 1
            self._counts["path"][scope["path"]] += 1
            self._counts["client"][headers.get("user-agent", "").partition("/")[0]] += 1
            self._last = {"body": req, "headers": headers}
        reply = Reply(req, served, headers, mode, kind)
        await reply.send(receive, send)


def _api_key(headers: dict[str, str]) -> str:
    """The key a request was made with: OpenAI's bearer token or Anthropic's x-api-key."""
    bearer = headers.get("authorization", "").partition(" ")[2]
    return bearer or headers.get("x-api-key", "")


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if not message.get("more_body"):
            return body


async def _json(send: Send, status: int, body: Any) -> None:
    await raw(send, status, JSON, orjson.dumps(body))


class FakeProviderServer(BackgroundServer):
    """A ``FakeProvider`` served on 127.0.0.1 and a free port, in a background thread."""

    def __init__(self, default_mode: str = "ok", served_model: str | None = None) -> None:
        self.app = FakeProvider(default_mode, served_model)
        # "critical": the break mode aborts responses on purpose; uvicorn would log each one.
        super().__init__(self.app, log_level="critical")

    def set_mode(self, mode: str | None) -> None:
        self.app.set_mode(mode)

    def set_served_model(self, model: str | None) -> None:
        self.app.set_served_model(model)

    def set_usage(
        self, *, cached_tokens: int = 0, reasoning_tokens: int = 0, cache_creation_tokens: int = 0
    ) -> None:
        self.app.set_usage(
            cached_tokens=cached_tokens,
            reasoning_tokens=reasoning_tokens,
            cache_creation_tokens=cache_creation_tokens,
        )

    def revoke_key(self, key: str) -> None:
        self.app.revoke_key(key)

    def stats(self) -> dict[str, Any]:
        return self.app.stats()

    def last_request(self) -> dict[str, Any]:
        return self.app.last_request()

    def reset(self) -> None:
        self.app.reset()


def serve_fake_provider(host: str, port: int, default_mode: str, served_model: str | None) -> None:
    """Run the fake provider in the foreground (``llm-router fake-provider``)."""
    import uvicorn

    uvicorn.run(
        FakeProvider(default_mode, served_model),
        host=host,
        port=port,
        log_level="critical",
        access_log=False,
    )
