"""Direct embeddings calls behave exactly as calls through LiteLLM's Router (the embeddings half
of test_direct_calls_match_litellm.py).

A plain embeddings request to an ``openai/`` deployment goes direct; each case sends the
same request to a gateway with ``transport.direct_openai`` on and one with it off, over
the same fake provider, and compares what the provider receives and what the caller sees:
status, vectors (float and base64), usage, cost and how a failure was classified.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.conftest import BASE_CONFIG, ConfigFactory, Providers

EMBED = """
  - model_name: embed
    litellm_params:
      model: openai/text-embedding-3-small
      api_base: os.environ/OPENAI_BASE
      api_key: os.environ/OPENAI_API_KEY
    model_info: {id: embed-only}
  - model_name: ada
    litellm_params:
      model: openai/text-embedding-ada-002
      api_base: os.environ/OPENAI_BASE
      api_key: os.environ/OPENAI_API_KEY
    model_info: {id: ada-only}
"""
FAST = """
router_plugins:
  transport: {direct_openai: %s}
  cache: {mode: "off"}
  failover: {first_token_timeout_s: 0.3, first_token_ceiling_s: 1.0, backoff_base_s: 0.01,
             backoff_cap_s: 0.01}
"""


def _gateways(make_config: ConfigFactory, serve: Any) -> dict[str, Any]:
    return {
        flag: serve(make_config(FAST % flag, text=BASE_CONFIG + EMBED))
        for flag in ("true", "false")
    }


def _seen(gateway: Any, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{gateway.openai_base}/embeddings", json=body, timeout=10)
    seen: dict[str, Any] = {
        "status": response.status_code,
        **{h: response.headers.get(h) for h in ("x-router-model", "x-router-attempts")},
    }
    if response.status_code != 200:
        error = response.json()["error"]
        seen["error"] = (error["code"], re.sub(r"after \d+ ms", "", error["message"]))
        return seen
    answer = response.json()
    seen["cost"] = response.headers["x-router-cost-usd"]
    seen["answer"] = (
        answer["model"],
        [(d["index"], d["embedding"]) for d in answer["data"]],
        {k: answer["usage"][k] for k in ("prompt_tokens", "total_tokens")},
    )
    return seen


PLAIN = [
    {"input": "hello"},
    {"input": ["one", "two"], "user": "u-1"},
    {"input": [[1, 2, 3], [4]]},
    {"input": "hello", "dimensions": 8},
    {"input": "hello", "encoding_format": "float"},
]


@pytest.mark.parametrize("extra", PLAIN, ids=["text", "texts_user", "tokens", "dims", "float"])
def test_a_plain_request_reaches_the_provider_as_through_litellm(
    make_config: ConfigFactory, serve: Any, providers: Providers, extra: dict[str, Any]
) -> None:
    gateways = _gateways(make_config, serve)
    sent, seen = [], []
    for gateway in gateways.values():
        seen.append(_seen(gateway, {"model": "embed", **extra}))
        last = providers.openai.last_request()
        sent.append((last["body"], last["headers"]["authorization"]))
    assert providers.openai.stats()["by_client"] == {"llm-router": 1, "AsyncOpenAI": 1}
    assert seen[0]["status"] == 200
    assert sent[0] == sent[1]
    assert seen[0] == seen[1]


def test_base64_vectors_are_the_same_bytes_on_both_paths(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    """Through LiteLLM they are asked as floats and encoded by us (LiteLLM's typed response
    cannot hold base64): the caller gets the same bytes as the provider's own base64."""
    gateways = _gateways(make_config, serve)
    body = {"model": "embed", "input": ["a", "b"], "encoding_format": "base64", "dimensions": 4}
    direct, via_litellm = (_seen(g, body) for g in gateways.values())
    assert direct["status"] == 200 and isinstance(direct["answer"][1][0][1], str)
    assert direct == via_litellm


def test_dimensions_for_a_model_without_them_go_through_litellm_which_drops_them(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    gateway = _gateways(make_config, serve)["true"]
    seen = _seen(gateway, {"model": "ada", "input": "hello", "dimensions": 8})
    assert seen["status"] == 200
    assert providers.openai.stats()["by_client"] == {"AsyncOpenAI": 1}
    assert "dimensions" not in providers.openai.last_request()["body"]


@pytest.mark.parametrize("mode", ["500", "503", "429:1", "401", "400", "garbage", "hang"])
def test_every_provider_fault_is_classified_the_same_on_both_paths(
    make_config: ConfigFactory, serve: Any, providers: Providers, mode: str
) -> None:
    gateways = _gateways(make_config, serve)
    providers.openai.set_mode(mode)
    direct, via_litellm = (_seen(g, {"model": "embed", "input": "x"}) for g in gateways.values())
    assert direct["status"] != 200
    assert direct == via_litellm
