"""One call to one deployment with one key: the only code that sends a provider request.

Three paths sit behind it. Plain requests to deployments that speak OpenAI's
format unchanged go direct over a pooled client (``direct_openai``: LiteLLM's per-call
bookkeeping was half our CPU per request); plain requests to Anthropic deployments go
over the same pool, translated by LiteLLM's own Anthropic code (``direct_anthropic``);
everything else goes through LiteLLM's Router, which translates for its provider. All
give the attempt loop the same thing: an iterator of OpenAI-shaped chunk dicts, or for a
deployment that cannot stream, a whole chat completion dict.

Calls are streamed whether or not the caller asked for a stream (see
``assemble``); ``can_stream`` says which deployments cannot, from the config
(``model_info.supports_native_streaming: false``), LiteLLM's price map, or a
provider that refused a stream once.

The call's type picks LiteLLM's entry point: ``acompletion`` for chat,
``atext_completion`` for legacy completions (LiteLLM calls ``/completions`` for
completion models and translates for chat models) and ``aembedding`` for
embeddings, which are never streamed (one whole answer per call).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx
import litellm

from router_config.config.schema import Deployment
from router_config.providers.build import key_entry_name
from router_config.providers.direct_anthropic import (
    DirectAnthropic,
    has_anthropic_key,
    is_direct_anthropic,
    is_plain_anthropic,
)
from router_config.providers.direct_openai import DirectOpenAI, is_direct, is_plain
from router_config.providers.embedding_calls import as_base64, is_plain_embedding, without_base64
from router_config.providers.provider_call import ProviderCall
from router_config.providers.sent import mark_sent, new_marker
from router_config.providers.text_calls import is_plain_text, speaks_completions


@dataclass(frozen=True)
class Completion:
    """A full answer, the model the provider says served it, and LiteLLM's cost if it gave one."""

    body: dict[str, Any]
    served_model: str | None
    litellm_cost: float | None = None


class ProviderCalls:
    """Calls deployments directly when LiteLLM would send OpenAI's format unchanged."""

    def __init__(
        self,
        router: Any,
        deployments: Sequence[Deployment],
        *,
        direct: bool,
        direct_anthropic: bool = False,
    ) -> None:
        self._router = router
        transport = DirectOpenAI() if direct or direct_anthropic else None
        self._transport = transport
        self._direct = transport if direct else None
        self._anthropic = (
            DirectAnthropic(transport) if transport is not None and direct_anthropic else None
        )
        # Deployments called with LiteLLM's Anthropic translation over our pool.
        self.anthropic_ids = (
            frozenset(d.id for d in deployments if is_direct_anthropic(d))
            if direct_anthropic
            else frozenset()
        )
        self.direct_ids = (
            frozenset(d.id for d in deployments if is_direct(d)) if direct else frozenset()
        )
        # Deployments whose own /completions LiteLLM calls unchanged (text_calls).
        self.text_ids = (
            frozenset(d.id for d in deployments if speaks_completions(d)) if direct else frozenset()
        )
        self._no_stream = {d.id for d in deployments if not _streams(d)}

    def can_stream(self, deployment: Deployment, call: str = "chat") -> bool:
        """Embeddings have no stream; other calls stream unless the deployment cannot."""
        return call != "embedding" and deployment.id not in self._no_stream

    def refuses_streams(self, deployment: Deployment) -> None:
        """The provider refused a stream for this deployment: call it whole from now on."""
        self._no_stream.add(deployment.id)

    def _goes_anthropic(self, call: ProviderCall) -> bool:
        return (
            call.call == "chat"
            and call.deployment.id in self.anthropic_ids
            and is_plain_anthropic(call.messages, call.params)
            and has_anthropic_key(call)
        )

    def _goes_direct(self, call: ProviderCall) -> bool:
        if call.call == "text_completion":
            return (
                call.deployment.id in self.text_ids
                and is_plain_text(call.params)
                and DirectOpenAI.has_key(call)
            )
        if call.deployment.id not in self.direct_ids or not DirectOpenAI.has_key(call):
            return False
        if call.call == "embedding":
            return is_plain_embedding(call.deployment, call.params)
        return is_plain(call.messages, call.params)

    async def warm_up(self, deployments: Sequence[Deployment]) -> None:
        """LiteLLM imports and builds much of a provider's code on its first call: 0.5-1 s
        measured for Anthropic, which a first request would spend inside its failover time.
        One mocked call per provider routed through LiteLLM, at start, moves that here.
        Nothing is sent (``mock_response``) and no callback logs it (``no-log``)."""
        seen: set[str] = set()
        for dep in deployments:
            if dep.id in self.direct_ids or dep.provider in seen or dep.mode == "embedding":
                continue
            seen.add(dep.provider)
            with contextlib.suppress(Exception):  # a warm-up that fails costs nothing
                chunks = await self._router.acompletion(
                    model=key_entry_name(dep, 0),
                    messages=[{"role": "user", "content": "warm-up"}],
                    stream=True,
                    mock_response="warm-up",
                    num_retries=0,
                    **{"no-log": True},
                )
                async for _ in chunks:
                    pass

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()

    async def complete(self, call: ProviderCall) -> Completion:
        """One non-streaming call (a deployment that cannot stream)."""
        holder = new_marker()
        try:
            if self._direct is not None and self._goes_direct(call):
                mark_sent()
                if call.call == "embedding":
                    body = await self._direct.embed(call)
                else:
                    body = await self._direct.complete(call)
                return Completion(body, body.get("model"))
            if self._anthropic is not None and self._goes_anthropic(call):
                body = await self._anthropic.complete(call, mark_sent)
                return Completion(body, body.get("model"))
            response = await self._via_router(call)
        except Exception as exc:
            exc.llm_router_sent = holder[0]  # type: ignore[attr-defined]
            raise
        body = response.model_dump(exclude_none=True)
        if call.call == "embedding" and call.params.get("encoding_format") == "base64":
            body = as_base64(body)  # asked as floats from LiteLLM: see embedding_calls
        for choice in body.get("choices") or ():
            choice.pop("provider_specific_fields", None)  # LiteLLM's, not OpenAI's
        hidden = getattr(response, "_hidden_params", {}) or {}
        cost = hidden.get("response_cost")
        return Completion(
            body,
            hidden.get("provider_response_model") or body.get("model"),
            float(cost) if isinstance(cost, int | float) else None,
        )

    async def stream(self, call: ProviderCall) -> AsyncIterator[dict[str, Any]]:
        """A streaming call: chunk dicts; closing the iterator releases the connection."""
        holder = new_marker()
        try:
            if self._direct is not None and self._goes_direct(call):
                mark_sent()
                return await self._direct.stream(call)
            if self._anthropic is not None and self._goes_anthropic(call):
                return await self._anthropic.stream(call, mark_sent)
            return _dicts(aiter(await self._via_router(call)), text=call.call == "text_completion")
        except Exception as exc:
            exc.llm_router_sent = holder[0]  # type: ignore[attr-defined]
            raise

    async def _via_router(self, call: ProviderCall) -> Any:
        common: dict[str, Any] = {
            "model": key_entry_name(call.deployment, call.key_index),
            "timeout": httpx.Timeout(call.read_s, connect=call.connect_s),
            "num_retries": 0,
        }
        if call.stream and not call.caller_streams:
            # The Router would apply the deployment's stream_timeout to our stream; LiteLLM
            # gives a request that does not stream its plain timeout (ours), so do we.
            common["stream_timeout"] = call.read_s
        if call.call == "embedding":
            params, _ = without_base64(call.params)
            return await self._router.aembedding(**common, **params)
        if call.call == "text_completion":
            return await self._router.atext_completion(stream=call.stream, **common, **call.params)
        return await self._router.acompletion(
            messages=call.messages, stream=call.stream, **common, **call.params
        )


def _streams(deployment: Deployment) -> bool:
    declared = deployment.model_info.get("supports_native_streaming")
    if isinstance(declared, bool):
        return declared
    return _map_streams(deployment.pinned_model, deployment.provider)


@cache
def _map_streams(model: str, provider: str) -> bool:
    """LiteLLM's price map says ``supports_native_streaming: false`` for models such as
    o1-pro; anything it does not know is assumed to stream."""
    try:
        info = litellm.get_model_info(model=model, custom_llm_provider=provider)
    except Exception:  # unknown to the map
        return True
    return info.get("supports_native_streaming") is not False


async def _dicts(
    chunks: AsyncIterator[Any], *, text: bool = False
) -> AsyncIterator[dict[str, Any]]:
    try:
        async for chunk in chunks:
            out = chunk.model_dump(exclude_none=True)
            for choice in out.get("choices") or () if text else ():
                # OpenAI's legacy chunks always carry these; LiteLLM's omit the empty ones.
                choice.setdefault("text", "")
                choice.setdefault("logprobs", None)
                choice.setdefault("finish_reason", None)
            # LiteLLM puts the requested name on each chunk; the provider's own (a drifted
            # version, say) is kept in its hidden params.
            hidden = getattr(chunk, "_hidden_params", None) or {}
            served = hidden.get("provider_response_model")
            if isinstance(served, str) and served:
                out["model"] = served
            yield out
    finally:
        # A stream that broke or was abandoned must give its connection back now;
        # LiteLLM leaves that to garbage collection, after the event loop may be gone.
        closer = getattr(chunks, "aclose", None)
        if closer is not None:
            with contextlib.suppress(Exception):
                await closer()
