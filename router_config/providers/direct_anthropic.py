"""Direct calls to Anthropic-format deployments: LiteLLM's translation, our pooled transport.

Through ``Router.acompletion`` an Anthropic call cost about 10 ms of CPU, most of it
LiteLLM's per-call bookkeeping (logging objects, success handlers, its stream wrapper's
accounting), not the translation. Here LiteLLM still does every translation step, with
the same functions its own Anthropic handler calls (``get_optional_params``,
``AnthropicConfig.validate_environment`` and ``transform_request``, its beta-header
filters, ``ModelResponseIterator`` for the stream, ``transform_response`` for a whole
answer, ``exception_type`` for errors); only the sending moves to the aiohttp pool
direct OpenAI calls use (same TLS and proxy handling). We never write Anthropic's format.

Which calls qualify is decided as conservatively as for OpenAI: a deployment whose
LiteLLM chat config is exactly ``AnthropicConfig`` with only the ``litellm_params`` a
direct call honours, and a request of text messages (system/user/assistant, string
content) with parameters from ``_PLAIN_PARAMS``. Tools, images, ``response_format``,
thinking and the rest take the Router: their stream chunks go through parts of LiteLLM's
stream wrapper (tool-call and thinking deltas) that ``anthropic_stream`` does not repeat.
tests/test_direct_anthropic_calls_match_litellm.py holds both paths to the same result.
"""

from __future__ import annotations

import copy
import os
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, NoReturn

import httpx
import litellm
import orjson
from litellm.anthropic_beta_gated_fields import strip_beta_gated_request_body
from litellm.anthropic_beta_headers_manager import update_request_with_filtered_beta
from litellm.litellm_core_utils.url_utils import ensure_api_route
from litellm.llms.anthropic.common_utils import AnthropicError
from litellm.secret_managers.main import get_secret, get_secret_bool
from litellm.types.utils import LlmProviders, ModelResponse
from litellm.utils import get_optional_params

from router_config.config.schema import Deployment
from router_config.providers.anthropic_stream import openai_chunks, raise_as_litellm
from router_config.providers.direct_openai import (
    USER_AGENT,
    DirectOpenAI,
    plain_params,
    timeout,
)
from router_config.providers.provider_call import ProviderCall

ANTHROPIC_BASE = "https://api.anthropic.com/v1/messages"
# Parameters whose Anthropic form LiteLLM's map_openai_params gives plainly (each is in the
# equivalence test's request); anything else (tools, response_format, thinking, n...) goes
# through the Router.
_PLAIN_PARAMS = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "user",
        "stream_options",
    }
)
_PLAIN_ROLES = frozenset({"system", "user", "assistant"})
_PLAIN_MESSAGE_KEYS = frozenset({"role", "content"})


def is_direct_anthropic(deployment: Deployment) -> bool:
    """True for a deployment LiteLLM calls with exactly its ``AnthropicConfig`` (not Bedrock,
    Vertex or Azure's variants) and no ``litellm_params`` a direct call does not honour."""
    if deployment.provider != "anthropic" or not plain_params(deployment) or litellm.headers:
        return False
    config = litellm.ProviderConfigManager.get_provider_chat_config(
        model=deployment.pinned_model, provider=LlmProviders.ANTHROPIC
    )
    return type(config) is litellm.AnthropicConfig


def is_plain_anthropic(messages: list[dict[str, Any]], params: Mapping[str, Any]) -> bool:
    """Text messages of the system/user/assistant roles and only ``_PLAIN_PARAMS``."""
    stop = params.get("stop")
    if isinstance(stop, list) and len(stop) > 4 and not litellm.disable_stop_sequence_limit:
        return False  # LiteLLM's completion() keeps the first 4: the Router's to do
    return (
        bool(messages)
        and params.keys() <= _PLAIN_PARAMS
        and all(
            m.get("role") in _PLAIN_ROLES
            and isinstance(m.get("content"), str)
            and m.keys() <= _PLAIN_MESSAGE_KEYS
            for m in messages
        )
    )


def has_anthropic_key(call: ProviderCall) -> bool:
    """A call with no key anywhere is LiteLLM's to refuse, as it does, before sending."""
    return _api_key(call.deployment, call.key_index) is not None


class DirectAnthropic:
    """Sends Anthropic-format calls over the pool of ``transport`` (a ``DirectOpenAI``)."""

    def __init__(self, transport: DirectOpenAI) -> None:
        self._transport = transport
        self._config = litellm.AnthropicConfig()
        self._optional_memo: dict[Any, dict[str, Any]] = {}
        self._headers_memo: dict[Any, dict[str, str]] = {}

    async def stream(
        self, call: ProviderCall, sending: Callable[[], None]
    ) -> AsyncIterator[dict[str, Any]]:
        """A streaming call: OpenAI-shaped chunk dicts, as LiteLLM's Router yields them.
        ``sending`` runs once the request is built, just before it goes out: an error
        LiteLLM raises while building it is the caller's, nothing was sent."""
        model = call.deployment.pinned_model
        url, headers, data = self._request(call, stream=True)
        sending()
        reply = await self._transport.send(url, data, headers, timeout(call))
        if reply.status >= 400:
            try:
                body = await reply.read()
            finally:
                reply.release()
            # LiteLLM's stream handler passes the body as bytes (its error text reads b'...').
            _raise_mapped(model, reply.status, reply.headers, body)
        return openai_chunks(reply, model)

    async def complete(self, call: ProviderCall, sending: Callable[[], None]) -> dict[str, Any]:
        """One whole call: the chat completion LiteLLM's ``transform_response`` makes of it."""
        model = call.deployment.pinned_model
        url, headers, data = self._request(call, stream=False)
        sending()
        async with self._transport.send(url, data, headers, timeout(call)) as reply:
            body = await reply.read()
            status, reply_headers = reply.status, reply.headers
        if status >= 400:
            _raise_mapped(model, status, reply_headers, body.decode("utf-8", "replace"))
        raw = httpx.Response(status, headers=list(reply_headers.items()), content=body)
        try:
            response = self._config.transform_response(
                model=model,
                raw_response=raw,
                model_response=ModelResponse(),
                logging_obj=_NoLogging(),
                api_key=None,
                request_data=orjson.loads(data),
                messages=call.messages,
                optional_params={},
                litellm_params={},
                encoding=None,
                json_mode=False,
            )
        except Exception as exc:
            raise_as_litellm(model, exc)
        out: dict[str, Any] = response.model_dump(exclude_none=True)
        hidden = getattr(response, "_hidden_params", None) or {}
        served = hidden.get("provider_response_model")
        out["model"] = served if isinstance(served, str) and served else out.get("model")
        return out

    def _request(self, call: ProviderCall, *, stream: bool) -> tuple[str, dict[str, str], bytes]:
        """URL, headers and body, built by the steps LiteLLM's Anthropic handler takes."""
        deployment = call.deployment
        model = deployment.pinned_model
        messages = copy.deepcopy(call.messages)
        url = _url(deployment)
        litellm_params: dict[str, Any] = {"api_base": url}
        optional = self._optional_params(model, messages, call.params, stream)
        headers = self._headers(
            model, _api_key(deployment, call.key_index), url, optional, messages
        )
        data = self._config.transform_request(
            model=model,
            messages=messages,
            optional_params=copy.deepcopy(optional),
            litellm_params=litellm_params,
            headers=headers,
        )
        headers, filtered = update_request_with_filtered_beta(
            headers=headers, request_data=data, provider="anthropic"
        )
        data = dict(
            strip_beta_gated_request_body(
                filtered, headers, drop_params=None, model=model, provider="anthropic"
            )
        )
        if stream:
            data["stream"] = True
        return url, {**headers, "user-agent": USER_AGENT}, orjson.dumps(data)

    def _optional_params(
        self, model: str, messages: list[dict[str, Any]], params: Mapping[str, Any], stream: bool
    ) -> dict[str, Any]:
        """LiteLLM's ``get_optional_params``, remembered per model, parameters and roles: for
        the plain requests sent here it reads nothing else (no tools, no content parts), and
        its model-capability lookups were the largest part of building a request (~0.7 ms)."""
        sent = {k: v for k, v in params.items() if k != "stream_options" or stream}
        roles = tuple(m["role"] for m in messages)
        key = (model, orjson.dumps(sent, option=orjson.OPT_SORT_KEYS), stream, roles)
        found = self._optional_memo.get(key)
        if found is None:
            found = get_optional_params(
                model=model,
                custom_llm_provider="anthropic",
                messages=copy.deepcopy(messages),
                stream=stream,
                **sent,
            )
            found.pop("stream", None)
            found = {**found, "is_vertex_request": False}
            _remember(self._optional_memo, key, found)
        return copy.deepcopy(found)

    def _headers(
        self,
        model: str,
        key: str | None,
        url: str,
        optional: dict[str, Any],
        messages: list[dict[str, Any]],
    ) -> dict[str, str]:
        """``AnthropicConfig.validate_environment``, remembered per model, key, URL and
        parameters: for a static key and text messages its headers depend on nothing else."""
        memo_key = (model, key, url, orjson.dumps(optional, option=orjson.OPT_SORT_KEYS))
        found = self._headers_memo.get(memo_key)
        if found is None:
            found = self._config.validate_environment(
                api_key=key,
                headers={},
                model=model,
                messages=copy.deepcopy(messages),
                optional_params=copy.deepcopy(optional),
                litellm_params={"api_base": url},
                api_base=url,
            )
            _remember(self._headers_memo, memo_key, found)
        return dict(found)


_MEMO_SIZE = 512


def _remember(memo: dict[Any, Any], key: Any, value: Any) -> None:
    """Bounded: a gateway sees a handful of parameter sets; a flood of distinct ones only
    costs the lookups again."""
    if len(memo) >= _MEMO_SIZE:
        memo.clear()
    memo[key] = value


class _NoLogging:
    """``transform_response`` reports the raw answer to LiteLLM's logging object; a direct
    call has none (that bookkeeping is what this path leaves out)."""

    def post_call(self, *args: Any, **kwargs: Any) -> None:
        return None


def _raise_mapped(
    model: str, status: int, headers: Mapping[str, str], body: bytes | str
) -> NoReturn:
    """The provider's error status as the exception LiteLLM's Router raises for it."""
    error = AnthropicError(status_code=status, message=body, headers=httpx.Headers(headers))
    raise_as_litellm(model, error)


def _url(deployment: Deployment) -> str:
    """The URL LiteLLM's ``completion`` computes for an ``anthropic/`` model."""
    base = (
        deployment.api_base
        or litellm.api_base
        or get_secret("ANTHROPIC_API_BASE")
        or get_secret("ANTHROPIC_BASE_URL")
        or ANTHROPIC_BASE
    )
    if get_secret_bool("LITELLM_ANTHROPIC_DISABLE_URL_SUFFIX"):
        return str(base)
    return str(ensure_api_route(str(base), "v1/messages"))


def _api_key(deployment: Deployment, key_index: int) -> str | None:
    if deployment.api_keys:
        return deployment.api_keys[key_index].get_secret_value()
    key = litellm.anthropic_key or litellm.api_key or os.environ.get("ANTHROPIC_API_KEY")
    return str(key) if key else None
