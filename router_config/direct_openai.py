"""Direct calls to deployments that speak OpenAI's own chat format, over one pooled client.

Measured on 2 cores against the fake provider: ``Router.acompletion`` costs
about 3.3 ms of CPU per call (its success logging, response metadata, cost
calculation and the openai SDK's request building), half of everything the
gateway spends on a request (../shared/LITELLM_NOTES.md, bench/). For a
deployment whose LiteLLM provider config is the plain ``OpenAIGPTConfig``,
LiteLLM sends the request unchanged, so we send it ourselves: the same JSON to
the same URL with the same key, and the provider's JSON back as it came.

Everything LiteLLM would translate (Anthropic, Bedrock, vLLM's own config,
OpenAI's reasoning models, ``organization`` or ``extra_headers`` in
``litellm_params``...) still goes through the Router: ``is_direct`` decides,
once per deployment, from LiteLLM's own provider config.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import certifi
import litellm
import orjson
from litellm.types.utils import LlmProviders

from router_config.pricing import PRICE_KEYS
from router_config.schema import Deployment

OPENAI_BASE = "https://api.openai.com/v1"
USER_AGENT = "llm-router/0.1"
# litellm_params a direct call honours (the rest of these are ours or only prices). Any
# other key means LiteLLM has work to do for this deployment: it goes through the Router.
_DIRECT_PARAMS = frozenset(
    {"model", "api_base", "api_key", "order", "rpm", "tpm", "timeout", "stream_timeout"}
) | frozenset(PRICE_KEYS)
# LiteLLM reads these when a deployment names no key or base (as its openai provider does).
_KEY_ENV, _BASE_ENVS = "OPENAI_API_KEY", ("OPENAI_API_BASE", "OPENAI_BASE_URL")


class ProviderHTTPError(Exception):
    """The provider answered with an error status; classified like LiteLLM's errors."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status_code = status
        self.headers = headers  # Retry-After is read from here
        self.body_text = body.decode("utf-8", "replace")
        error = _error_object(body)
        self.code = error.get("code") if isinstance(error.get("code"), str) else None
        message = error.get("message")
        self.message = message if isinstance(message, str) else self.body_text[:500]
        super().__init__(self.message)


class MalformedResponse(Exception):
    """The provider answered 200 with something that is not a chat completion."""


def is_direct(deployment: Deployment) -> bool:
    """True when LiteLLM would send this deployment's requests in OpenAI's format unchanged."""
    if not set(deployment.litellm_params) <= _DIRECT_PARAMS:
        return False
    try:
        provider = LlmProviders(deployment.provider)
    except ValueError:
        return False
    config = litellm.ProviderConfigManager.get_provider_chat_config(
        model=deployment.pinned_model, provider=provider
    )
    return type(config) is litellm.OpenAIGPTConfig


class DirectOpenAI:
    """Sends chat completions to OpenAI-format deployments over one keep-alive pool.

    aiohttp, not httpx: on the bench, httpx's pool cost about 2 ms of CPU per call at
    16 concurrent calls, aiohttp under 0.1 ms. The session is created on first use,
    inside the event loop that serves requests, and closed with the gateway.
    """

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._supported: dict[str, frozenset[str]] = {}

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def complete(
        self,
        deployment: Deployment,
        key_index: int,
        messages: list[dict[str, Any]],
        params: Mapping[str, Any],
        limits: tuple[float, float],
    ) -> dict[str, Any]:
        """One non-streaming call: the provider's JSON body as a dict."""
        async with self._post(deployment, key_index, messages, params, limits, False) as reply:
            body = await reply.read()
            if reply.status >= 400:
                raise ProviderHTTPError(reply.status, reply.headers, body)
        try:
            decoded = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise MalformedResponse("the provider's answer is not JSON") from None
        if not isinstance(decoded, dict) or not isinstance(decoded.get("choices"), list):
            raise MalformedResponse("the provider's answer is not a chat completion")
        return decoded

    async def stream(
        self,
        deployment: Deployment,
        key_index: int,
        messages: list[dict[str, Any]],
        params: Mapping[str, Any],
        limits: tuple[float, float],
    ) -> AsyncIterator[dict[str, Any]]:
        """A streaming call; raises before the first chunk when the provider refuses it."""
        reply = await self._post(deployment, key_index, messages, params, limits, True)
        if reply.status >= 400:
            try:
                body = await reply.read()
            finally:
                reply.release()
            raise ProviderHTTPError(reply.status, reply.headers, body)
        return _chunks(reply)

    def _post(
        self,
        deployment: Deployment,
        key_index: int,
        messages: list[dict[str, Any]],
        params: Mapping[str, Any],
        limits: tuple[float, float],
        stream: bool,
    ) -> Any:
        supported = self._supported.get(deployment.id)
        if supported is None:
            supported = self._supported[deployment.id] = _supported_params(deployment)
        payload: dict[str, Any] = {"model": deployment.pinned_model, "messages": messages}
        # drop_params as LiteLLM applies it: what the model does not take is not sent.
        drop = bool(litellm.drop_params)
        payload.update((k, v) for k, v in params.items() if not drop or k in supported)
        if stream:
            payload["stream"] = True
        headers = {"content-type": "application/json", "user-agent": USER_AGENT}
        key = _api_key(deployment, key_index)
        if key:
            headers["authorization"] = f"Bearer {key}"
        if self._session is None or self._session.closed:
            self._session = _session()
        # The connect limit covers the TCP/TLS handshake only (not a wait for a pooled
        # connection: the pool is unbounded); the read limit applies per chunk, like
        # httpx's read timeout. The whole call is bounded by the attempt's own deadline.
        read_s, connect_s = limits
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_s, sock_read=read_s)
        return self._session.post(
            _base(deployment) + "/chat/completions",
            data=orjson.dumps(payload),
            headers=headers,
            timeout=timeout,
        )


async def _chunks(reply: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    """Server-sent events to chunk dicts; a stream that ends without ``[DONE]`` is broken."""
    try:
        try:
            async for line in reply.content:
                chunk = _event(line)
                if chunk is _DONE:
                    return
                if chunk is not None:
                    yield chunk
        except aiohttp.ClientPayloadError:
            # The connection broke. aiohttp drops what it had already received once it
            # knows (a private read gets it back): the caller gets every whole chunk the
            # provider sent, then the error, as through LiteLLM.
            left = getattr(reply.content, "_read_nowait", lambda n: b"")(-1)
            for line in left.split(b"\n")[:-1]:  # what follows the last newline is cut off
                chunk = _event(line)
                if isinstance(chunk, dict):
                    yield chunk
            raise
        raise MalformedResponse("the provider's stream ended before [DONE]")
    finally:
        reply.release()


_DONE: dict[str, Any] = {}


def _event(line: bytes) -> dict[str, Any] | None:
    """One SSE line: a chunk, ``_DONE``, or None for anything that is not data."""
    if not line.startswith(b"data:"):
        return None
    data = line[5:].strip()
    if data == b"[DONE]":
        return _DONE
    try:
        chunk = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise MalformedResponse("the provider sent a chunk that is not JSON") from None
    if not isinstance(chunk, dict):
        raise MalformedResponse("the provider sent a chunk that is not an object")
    if "error" in chunk:
        raise MalformedResponse(str(_error_object(data).get("message")))
    return chunk


def _session() -> aiohttp.ClientSession:
    """Created inside the serving event loop. As the openai SDK does: HTTP(S)_PROXY and
    NO_PROXY are honoured, certificates checked against certifi's bundle, and LiteLLM's
    ``ssl_verify`` (False, or a CA bundle path) applies to direct calls too."""
    verify = litellm.ssl_verify
    tls: ssl.SSLContext | bool
    if verify is False:
        tls = False
    else:
        tls = ssl.create_default_context(
            cafile=verify if isinstance(verify, str) else certifi.where()
        )
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, ssl=tls),
        trust_env=True,
        skip_auto_headers=("User-Agent",),
    )


def _supported_params(deployment: Deployment) -> frozenset[str]:
    config = litellm.OpenAIGPTConfig()
    return frozenset(config.get_supported_openai_params(deployment.pinned_model))


def _api_key(deployment: Deployment, key_index: int) -> str | None:
    if deployment.api_keys:
        return deployment.api_keys[key_index].get_secret_value()
    return os.environ.get(_KEY_ENV)


def _base(deployment: Deployment) -> str:
    base = deployment.api_base or next(
        (os.environ[name] for name in _BASE_ENVS if os.environ.get(name)), OPENAI_BASE
    )
    return base.rstrip("/")


def _error_object(body: bytes) -> dict[str, Any]:
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    error = decoded.get("error") if isinstance(decoded, dict) else None
    return error if isinstance(error, dict) else {}
