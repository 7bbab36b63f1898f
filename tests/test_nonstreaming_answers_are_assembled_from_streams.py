"""A caller that does not ask for a stream is served from one, and cannot tell.

The gateway always streams from the provider (so a hang shows at the first
token) and assembles the body. On the direct path the assembled body must equal
the body the provider sends whole; through LiteLLM's Router it must equal what
LiteLLM answers for the same request without streaming: content, tool calls,
JSON answers, log probabilities, every choice of ``n``, a reasoning model's thinking
(``reasoning_content``, a field the gateway does not know, joined), finish reasons, usage
with its details, ``system_fingerprint``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import litellm
import pytest

from tests.conftest import ConfigFactory, Providers

HI = [{"role": "user", "content": "hello there"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        },
    }
]
PLAIN = {
    "text": {"messages": HI},
    "logprobs and n": {"messages": HI, "logprobs": True, "top_logprobs": 2, "n": 2},
    "cut by max_tokens": {"messages": HI, "max_tokens": 2},
}
TRANSLATED = {
    "text": {"messages": HI},
    "tool call": {"messages": HI, "tools": TOOLS},
    "json answer": {"messages": HI, "response_format": {"type": "json_object"}},
    "cut by max_tokens": {"messages": HI, "max_tokens": 2},
}


def _ask(gateway: Any, model: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{gateway.openai_base}/chat/completions", json={"model": model, **body}, timeout=10
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def _comparable(body: dict[str, Any]) -> dict[str, Any]:
    """Without what differs per request (ids, timestamps) or only in spelling: null fields
    and LiteLLM's empty extras, zero-valued usage details and the ``text_tokens`` LiteLLM
    adds to a stream's usage (always the completion count), a tool call's index, the
    whitespace of its JSON arguments."""
    out = _drop_nulls({k: v for k, v in body.items() if k not in ("id", "created")})
    for choice in out.get("choices", ()):
        choice.pop("provider_specific_fields", None)
        message = choice.get("message", {})
        message.pop("provider_specific_fields", None)
        for call in message.get("tool_calls", ()):
            call.pop("index", None)
            assert call.pop("id")  # each answer has its own
            call["function"]["arguments"] = json.loads(call["function"]["arguments"])
    usage = out.get("usage", {})
    for key in [k for k, v in usage.items() if isinstance(v, dict)]:
        usage[key] = {k: v for k, v in usage[key].items() if v and k != "text_tokens"}
        if not usage[key]:
            del usage[key]
    return out


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


@pytest.mark.parametrize("case", list(PLAIN))
def test_the_direct_path_assembles_the_body_the_provider_sends_whole(
    make_config: ConfigFactory, serve: Any, providers: Providers, case: str
) -> None:
    providers.openai.set_usage(cached_tokens=2, reasoning_tokens=3)
    body = PLAIN[case]
    ours = _ask(serve(make_config()), "openai-only", body)
    sent = providers.openai.last_request()["body"]
    assert sent["stream"] is True  # the provider was asked for a stream
    whole = httpx.post(
        f"{providers.openai.openai_base}/chat/completions",
        json={"model": "gpt-4o-2024-08-06", **body},
        timeout=10,
    ).json()
    assert ours["object"] == "chat.completion"
    assert _comparable(ours) == _comparable(whole)
    assert ours["usage"] == whole["usage"]  # details included, as the provider reported them


REASONER = """
model_list:
  - model_name: reasoner
    litellm_params:
      model: openai/deepseek-r1-distill-llama-8b
      api_base: os.environ/LOCAL_BASE
      api_key: none
    model_info: {version: deepseek-r1-distill-llama-8b@sha-test, free: true}
"""


def test_a_reasoning_models_thinking_is_assembled_whole(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    """Its ``reasoning_content`` (a field the gateway does not know) comes in pieces
    before the answer, and is joined as the provider sends it whole. (LiteLLM, which
    calls a reasoning model, adds its own estimate of reasoning tokens to a stream's
    usage; the counts the provider reported are the same.)"""
    ours = _ask(serve(make_config(text=REASONER)), "reasoner", {"messages": HI})
    assert providers.local.last_request()["body"]["stream"] is True
    whole = httpx.post(
        f"{providers.local.openai_base}/chat/completions",
        json={"model": "deepseek-r1-distill-llama-8b", "messages": HI},
        timeout=10,
    ).json()
    assert ours["choices"][0]["message"]["reasoning_content"] == "Let me think about it."
    assert _comparable(ours)["choices"] == _comparable(whole)["choices"]
    for count in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert ours["usage"][count] == whole["usage"][count]


@pytest.mark.parametrize("case", list(TRANSLATED))
@pytest.mark.parametrize("group", ["openai-only", "anthropic-only"])
def test_the_router_path_assembles_what_litellm_answers_whole(
    make_config: ConfigFactory, serve: Any, providers: Providers, case: str, group: str
) -> None:
    gateway = serve(make_config("router_plugins:\n  transport: {direct_openai: false}\n"))
    body = TRANSLATED[case]
    ours = _ask(gateway, group, body)
    deployment = gateway.gateway.config.deployment(f"{group}.{group.split('-')[0]}.0")
    whole = asyncio.run(_litellm_whole(deployment.litellm_params, body))
    assert _comparable(ours) == _comparable(whole)


async def _litellm_whole(params: Any, body: dict[str, Any]) -> dict[str, Any]:
    router = litellm.Router(
        model_list=[{"model_name": "m", "litellm_params": dict(params)}], num_retries=0
    )
    try:
        response = await router.acompletion(model="m", num_retries=0, **body)
    finally:
        await litellm.close_litellm_async_clients()
    return dict(response.model_dump(exclude_none=True))


def test_a_tool_call_streamed_by_openai_is_one_call_with_null_content(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    ours = _ask(serve(make_config()), "openai-only", {"messages": HI, "tools": TOOLS})
    message = ours["choices"][0]["message"]
    assert message["content"] is None and len(message["tool_calls"]) == 1
    assert ours["choices"][0]["finish_reason"] == "tool_calls"
    assert json.loads(message["tool_calls"][0]["function"]["arguments"]) == {"query": "hello there"}
