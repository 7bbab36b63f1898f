"""Direct legacy completions behave exactly as calls through LiteLLM's Router (the /completions
half of test_direct_calls_match_litellm.py).

A plain text completion to a deployment whose own ``/completions`` LiteLLM calls unchanged
(``text-completion-openai/``, or an ``openai/`` model that is not an OpenAI chat model)
goes direct. Each case sends the same request to a gateway with ``transport.direct_openai``
on and one with it off, over the same fake provider, and compares what the provider
receives and what the caller sees.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.conftest import BASE_CONFIG, ConfigFactory, Providers

TEXT = """
  - model_name: instruct
    litellm_params:
      model: text-completion-openai/gpt-3.5-turbo-instruct
      api_base: os.environ/OPENAI_BASE
      api_key: os.environ/OPENAI_API_KEY
    model_info:
      id: instruct-only
      input_cost_per_token: 0.0000015
      output_cost_per_token: 0.000002
  - model_name: compatible
    litellm_params:
      model: openai/my-base-model
      api_base: os.environ/OPENAI_BASE
      api_key: os.environ/OPENAI_API_KEY
    model_info: {id: compatible-only, free: true}
"""
FAST = """
router_plugins:
  transport: {direct_openai: %s}
  cache: {mode: "off"}
  failover: {first_token_timeout_s: 0.3, first_token_ceiling_s: 1.0, backoff_base_s: 0.01,
             backoff_cap_s: 0.01}
"""


def _gateways(make_config: ConfigFactory, serve: Any) -> list[Any]:
    return [serve(make_config(FAST % flag, text=BASE_CONFIG + TEXT)) for flag in ("true", "false")]


def _seen(gateway: Any, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{gateway.openai_base}/completions", json=body, timeout=10)
    seen: dict[str, Any] = {
        "status": response.status_code,
        **{h: response.headers.get(h) for h in ("x-router-model", "x-router-attempts")},
    }
    if response.status_code != 200:
        error = response.json()["error"]
        seen["error"] = (error["code"], re.sub(r"after \d+ ms", "", error["message"]))
    elif body.get("stream"):
        chunks = [line[6:] for line in response.text.splitlines() if line.startswith("data: {")]
        decoded = [httpx.Response(200, content=c).json() for c in chunks]
        seen["text"] = "".join(c.get("text") or "" for d in decoded for c in d["choices"])
        seen["usage"] = [
            {k: d["usage"][k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
            for d in decoded
            if d.get("usage")
        ]
    else:
        answer = response.json()
        seen["cost"] = response.headers["x-router-cost-usd"]
        seen["answer"] = (
            answer["model"],
            [
                {k: c.get(k) for k in ("index", "text", "finish_reason", "logprobs")}
                for c in answer["choices"]
            ],
            {k: answer["usage"][k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")},
        )
    return seen


PLAIN = [
    {"prompt": "Once upon a time"},
    {"prompt": "hi", "max_tokens": 3, "temperature": 0.2, "top_p": 0.9, "stop": ["\n"]},
    {"prompt": "hi", "presence_penalty": 0.1, "frequency_penalty": 0.1, "seed": 7, "user": "u"},
    {"prompt": "hi", "logit_bias": {"50256": -100}, "suffix": "end"},
    {"prompt": ["one", "two"], "n": 2, "logprobs": 2, "echo": True, "best_of": 2},
    {"prompt": "hi", "stream": True, "stream_options": {"include_usage": True}},
]


@pytest.mark.parametrize("model", ["instruct", "compatible"])
@pytest.mark.parametrize(
    "extra", PLAIN, ids=["prompt", "sampling", "penalties", "bias", "n", "stream"]
)
def test_a_plain_request_reaches_the_provider_as_through_litellm(
    make_config: ConfigFactory,
    serve: Any,
    providers: Providers,
    extra: dict[str, Any],
    model: str,
) -> None:
    sent, seen = [], []
    for gateway in _gateways(make_config, serve):
        seen.append(_seen(gateway, {"model": model, **extra}))
        last = providers.openai.last_request()
        sent.append((last["body"], last["headers"]["authorization"]))
    assert providers.openai.stats()["by_client"] == {"llm-router": 1, "AsyncOpenAI": 1}
    assert providers.openai.stats()["by_path"] == {"/v1/completions": 2}
    assert seen[0]["status"] == 200, seen[0]
    assert sent[0] == sent[1]
    assert seen[0] == seen[1]


@pytest.mark.parametrize("mode", ["500", "503", "429:1", "401", "400", "garbage", "hang"])
def test_every_provider_fault_is_classified_the_same_on_both_paths(
    make_config: ConfigFactory, serve: Any, providers: Providers, mode: str
) -> None:
    gateways = _gateways(make_config, serve)
    providers.openai.set_mode(mode)
    direct, via_litellm = (_seen(g, {"model": "instruct", "prompt": "x"}) for g in gateways)
    assert direct["status"] != 200
    assert direct == via_litellm


def test_a_chat_model_gets_litellms_translation_not_a_direct_call(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    gateway = _gateways(make_config, serve)[0]
    assert _seen(gateway, {"model": "openai-only", "prompt": "hi"})["status"] == 200
    assert providers.openai.stats()["by_path"] == {"/v1/chat/completions": 1}
