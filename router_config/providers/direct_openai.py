"""Direct calls to deployments that speak OpenAI's own chat format, over one pooled client.

Measured on 2 cores against the fake provider: ``Router.acompletion`` costs
about 3.3 ms of CPU per call (its success logging, response metadata, cost
calculation and the openai SDK's request building), half of everything the
gateway spends on a request (../shared/LITELLM_NOTES.md, bench/). For a
deployment whose LiteLLM provider config is the plain ``OpenAIGPTConfig``, and
a plain request (text messages, parameters LiteLLM passes through), LiteLLM
sends the request unchanged, so we send it ourselves: the same JSON to the
same URL with the same key and headers, and the provider's JSON back as it came.

Everything LiteLLM would translate still goes through the Router: other
providers, OpenAI's reasoning models, deployments with more ``litellm_params``
(``organization``, ``extra_headers``...), and requests with tools, images,
``developer`` messages or parameters LiteLLM rewrites. ``is_direct`` decides
per deployment (from LiteLLM's own provider config), ``is_plain`` per request;
tests/test_direct_calls_match_litellm.py compares the bodies both paths send.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import httpx
import litellm
import orjson
from httpx._utils import URLPattern, get_environment_proxies  # LiteLLM's proxy rules
from litellm.llms.custom_httpx.http_handler import get_ssl_configuration
from litellm.responses.bridge_check import responses_api_bridge_check
from litellm.types.utils import LlmProviders

from router_config.config.schema import Deployment
from router_config.providers.pricing import PRICE_KEYS
from router_config.providers.provider_call import ProviderCall
from router_config.providers.sse_reader import read_chunks

OPENAI_BASE = "https://api.openai.com/v1"
USER_AGENT = "llm-router/0.1"
# litellm_params a direct call honours (the rest of these are ours or only prices). Any
# other key means LiteLLM has work to do for this deployment: it goes through the Router.
_DIRECT_PARAMS = frozenset(
    {"model", "api_base", "api_key", "order", "rpm", "tpm", "timeout", "stream_timeout"}
) | frozenset(PRICE_KEYS)
# Request parameters LiteLLM sends to a plain-config OpenAI model exactly as given (the
# equivalence test checks each). Tools, response formats, images and the rest are
# rewritten by LiteLLM in some cases: such requests take the Router.
_PLAIN_PARAMS = frozenset(
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
        "logprobs",
        "top_logprobs",
        "seed",
        "user",
        "stream_options",
    }
)
_PLAIN_ROLES = frozenset({"system", "user", "assistant"})
_PLAIN_MESSAGE_KEYS = frozenset({"role", "content", "name"})


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
    if not plain_params(deployment):
        return False
    try:
        provider = LlmProviders(deployment.provider)
    except ValueError:
        return False
    config = litellm.ProviderConfigManager.get_provider_chat_config(
        model=deployment.pinned_model, provider=provider
    )
    if type(config) is not litellm.OpenAIGPTConfig or litellm.headers:
        return False
    # Models LiteLLM sends to OpenAI's Responses API instead (model_info mode, price map).
    bridged, _ = responses_api_bridge_check(
        deployment.pinned_model,
        deployment.provider,
        api_base=deployment.api_base,
        deployment_model_info=deployment.model_info,
    )
    return bool(bridged.get("mode") != "responses")


def plain_params(deployment: Deployment) -> bool:
    """The deployment's ``litellm_params`` are only those a direct call honours."""
    return set(deployment.litellm_params) <= _DIRECT_PARAMS


def is_plain(messages: list[dict[str, Any]], params: Mapping[str, Any]) -> bool:
    """True for a request LiteLLM would pass through unchanged: text messages of the
    system/user/assistant roles and only parameters from ``_PLAIN_PARAMS``."""
    stop = params.get("stop")
    if isinstance(stop, list) and len(stop) > 4 and not litellm.disable_stop_sequence_limit:
        return False  # LiteLLM keeps the first 4
    return params.keys() <= _PLAIN_PARAMS and all(
        m.get("role") in _PLAIN_ROLES
        and isinstance(m.get("content"), str)
        and m.keys() <= _PLAIN_MESSAGE_KEYS
        for m in messages
    )


class DirectOpenAI:
    """Sends chat completions to OpenAI-format deployments over one keep-alive pool.

    aiohttp, not httpx: on the bench, httpx's pool cost about 2 ms of CPU per call at
    16 concurrent calls, aiohttp under 0.1 ms. The session is created on first use,
    inside the event loop that serves requests, and closed with the gateway.
    """

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._supported: dict[str, frozenset[str]] = {}
        self._proxies: dict[str, str | None] = {}

    @staticmethod
    def has_key(call: ProviderCall) -> bool:
        """A call with no key anywhere is LiteLLM's to refuse, as it does, before sending."""
        return _api_key(call.deployment, call.key_index) is not None

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()

    async def complete(self, call: ProviderCall) -> dict[str, Any]:
        """One non-streaming call: the provider's JSON body as a dict."""
        return await self._whole(call, "choices", "a chat completion")

    async def embed(self, call: ProviderCall) -> dict[str, Any]:
        """One embeddings call: the provider's JSON body as a dict."""
        return await self._whole(call, "data", "an embeddings list")

    async def _whole(self, call: ProviderCall, listed: str, what: str) -> dict[str, Any]:
        """A whole answer: an object whose ``listed`` field is a list, else malformed."""
        async with self._post(call) as reply:
            body = await reply.read()
            if reply.status >= 400:
                raise ProviderHTTPError(reply.status, reply.headers, body)
        try:
            decoded = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise MalformedResponse("the provider's answer is not JSON") from None
        if not isinstance(decoded, dict) or not isinstance(decoded.get(listed), list):
            raise MalformedResponse(f"the provider's answer is not {what}")
        return decoded

    async def stream(self, call: ProviderCall) -> AsyncIterator[dict[str, Any]]:
        """A streaming call; raises before the first chunk when the provider refuses it."""
        reply = await self._post(call)
        if reply.status >= 400:
            try:
                body = await reply.read()
            finally:
                reply.release()
            raise ProviderHTTPError(reply.status, reply.headers, body)
        return read_chunks(reply)

    def _post(self, call: ProviderCall) -> Any:
        deployment = call.deployment
        if call.call in ("embedding", "text_completion"):  # plain ones only: see text_calls
            payload: dict[str, Any] = {"model": deployment.pinned_model, **call.params}
            if call.stream:
                payload["stream"] = True
            elif call.call == "text_completion":
                payload["stream"] = False  # LiteLLM sends it for a whole text completion
            path = "/embeddings" if call.call == "embedding" else "/completions"
            url = _base(deployment) + path
        else:
            supported = self._supported.get(deployment.id)
            if supported is None:
                supported = self._supported[deployment.id] = _supported_params(deployment)
            payload = {"model": deployment.pinned_model, "messages": call.messages}
            # drop_params as LiteLLM applies it: what the model does not take is not sent.
            drop = bool(litellm.drop_params)
            payload.update((k, v) for k, v in call.params.items() if not drop or k in supported)
            if call.stream:
                payload["stream"] = True
            url = _base(deployment) + "/chat/completions"
        return self.send(
            url, orjson.dumps(payload), _headers(deployment, call.key_index), timeout(call)
        )

    def send(
        self, url: str, data: bytes, headers: Mapping[str, str], limits: aiohttp.ClientTimeout
    ) -> Any:
        """POST over the pool (an awaitable response, or an async context manager): the one
        place TLS, proxies and the session's life are handled, for every direct path."""
        if self._closed:  # a retired gateway: no new pool that nobody would close
            raise RuntimeError("this gateway is closed")
        if self._session is None or self._session.closed:
            self._session = _session()
        proxy = self._proxies.get(url, "")
        if proxy == "":
            proxy = self._proxies[url] = _proxy_for(url)
        return self._session.post(url, data=data, headers=headers, timeout=limits, proxy=proxy)


def _session() -> aiohttp.ClientSession:
    """Created inside the serving event loop. TLS as LiteLLM configures it for its own
    clients (certifi, ``SSL_VERIFY``, ``SSL_CERT_FILE``, ``litellm.ssl_verify``...).
    ``trust_env`` stays off: it would read ``.netrc`` on every call (and send its login);
    proxies are resolved by ``_proxy_for`` instead."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, ssl=get_ssl_configuration()),
        skip_auto_headers=("User-Agent",),
    )


def _proxy_for(url: str) -> str | None:
    """The proxy the environment names for ``url`` (HTTP(S)_PROXY, ALL_PROXY, NO_PROXY),
    by httpx's own rules, which LiteLLM's clients follow (a proxy without a scheme is
    http://, NO_PROXY entries with ports, leading dots...). Resolved once per URL."""
    target = httpx.URL(url)
    patterns = sorted((URLPattern(key), proxy) for key, proxy in get_environment_proxies().items())
    return next((proxy for pattern, proxy in patterns if pattern.matches(target)), None)


def timeout(call: ProviderCall) -> aiohttp.ClientTimeout:
    """The connect limit covers the TCP/TLS handshake only (the pool is unbounded, so no
    call waits for a connection); the read limit applies per chunk, like httpx's read
    timeout. As in LiteLLM's Router, a deployment's ``stream_timeout`` is a stream's read
    limit, and its ``timeout`` yields to the one the attempt loop passes."""
    read_s = call.read_s
    own = call.deployment.litellm_params.get("stream_timeout") if call.caller_streams else None
    if isinstance(own, int | float) and not isinstance(own, bool) and own > 0:
        read_s = float(own)
    return aiohttp.ClientTimeout(total=None, sock_connect=call.connect_s, sock_read=read_s)


def _headers(deployment: Deployment, key_index: int) -> dict[str, str]:
    """Auth, organization and project headers, from the same places LiteLLM and the
    openai SDK take them."""
    headers = {"content-type": "application/json", "user-agent": USER_AGENT}
    key = _api_key(deployment, key_index)
    if key:
        headers["authorization"] = f"Bearer {key}"
    org = litellm.organization or os.environ.get("OPENAI_ORGANIZATION")
    org = org or os.environ.get("OPENAI_ORG_ID")
    if org:
        headers["openai-organization"] = org
    project = os.environ.get("OPENAI_PROJECT_ID")
    if project:
        headers["openai-project"] = project
    return headers


def _supported_params(deployment: Deployment) -> frozenset[str]:
    config = litellm.OpenAIGPTConfig()
    return frozenset(config.get_supported_openai_params(deployment.pinned_model))


def _api_key(deployment: Deployment, key_index: int) -> str | None:
    if deployment.api_keys:
        return deployment.api_keys[key_index].get_secret_value()
    key = litellm.api_key or litellm.openai_key or os.environ.get("OPENAI_API_KEY")
    return str(key) if key else None


def _base(deployment: Deployment) -> str:
    base = (
        deployment.api_base
        or litellm.api_base
        or os.environ.get("OPENAI_BASE_URL")
        or os.environ.get("OPENAI_API_BASE")
        or OPENAI_BASE
    )
    return str(base).rstrip("/")


def _error_object(body: bytes) -> dict[str, Any]:
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    error = decoded.get("error") if isinstance(decoded, dict) else None
    return error if isinstance(error, dict) else {}
