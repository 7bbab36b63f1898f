"""Direct calls to Anthropic deployments behave exactly as calls through LiteLLM's Router.

Each case sends the same request to two gateways over the same fake provider, one
with ``transport.direct_anthropic`` on (the default) and one with it off, and compares
what the caller sees (status, error, every stream chunk but its id and time, answer,
usage with cache reads and writes, cost, headers, the failure reason each attempt got)
and what the provider receives (body and headers).
"""

from __future__ import annotations

import re
import socket
from typing import Any

import httpx
import pytest

from router_config.providers.direct_anthropic import is_direct_anthropic
from tests.conftest import BASE_CONFIG, ConfigFactory, Providers

HI = [{"role": "user", "content": "hi"}]
LONG = [{"role": "user", "content": "tell me more " * 10}]  # more tokens than it caches
FAST = """
router_plugins:
  transport: {direct_anthropic: %s}
  failover: {first_token_timeout_s: 0.3, first_token_ceiling_s: 1.0, backoff_base_s: 0.01,
             backoff_cap_s: 0.01}
"""
HEADERS = ("x-router-provider", "x-router-model", "x-router-attempts", "x-router-cost-usd")


def _gateways(make_config: ConfigFactory, serve: Any, text: str = BASE_CONFIG) -> list[Any]:
    return [serve(make_config(FAST % flag, text=text)) for flag in ("true", "false")]


def _seen(gateway: Any, model: str, *, stream: bool = False, **extra: Any) -> dict[str, Any]:
    """What a caller observes of one request, without ids, times and latencies."""
    body: dict[str, Any] = {"model": model, "messages": HI, "stream": stream, **extra}
    if stream:
        body["stream_options"] = {"include_usage": True}
    response = httpx.post(f"{gateway.openai_base}/chat/completions", json=body, timeout=10)
    seen: dict[str, Any] = {"status": response.status_code}
    seen.update((h, response.headers.get(h)) for h in HEADERS)
    if response.status_code != 200:
        error = response.json()["error"]
        seen["error"] = (error["code"], re.sub(r"after \d+ ms", "", error["message"]))
    elif stream:
        seen["chunks"] = [
            _without_ids(httpx.Response(200, content=line[6:]).json())
            for line in response.text.splitlines()
            if line.startswith("data: {")
        ]
    else:
        seen["answer"] = {k: v for k, v in response.json().items() if k not in ("id", "created")}
    return seen


def _without_ids(chunk: dict[str, Any]) -> dict[str, Any]:
    """A chunk without its id and time, and without the ``cost`` LiteLLM's stream wrapper
    adds to a stream's usage (its own extension of OpenAI's usage: the direct path, like
    direct OpenAI calls, leaves it out; the gateway bills from token counts either way)."""
    out = {k: v for k, v in chunk.items() if k not in ("id", "created")}
    if "usage" in out:
        out["usage"] = {k: v for k, v in out["usage"].items() if k != "cost"}
    return out


def test_an_anthropic_deployment_is_called_directly_unless_turned_off(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    direct, via_litellm = _gateways(make_config, serve)
    assert _seen(direct, "anthropic-only")["status"] == 200
    assert providers.anthropic.stats()["by_client"] == {"llm-router": 1}
    assert _seen(via_litellm, "anthropic-only")["status"] == 200
    assert providers.anthropic.stats()["by_client"] == {"llm-router": 1, "litellm": 1}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_answers_usage_cache_tokens_and_cost_are_the_same_on_both_paths(
    make_config: ConfigFactory, serve: Any, providers: Providers, stream: bool
) -> None:
    providers.anthropic.set_usage(cached_tokens=3, cache_creation_tokens=2)
    direct, via_litellm = _gateways(make_config, serve)
    seen = _seen(direct, "anthropic-only", stream=stream, messages=LONG)
    assert seen["status"] == 200, seen
    usage = seen["chunks"][-1]["usage"] if stream else seen["answer"]["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == 3
    assert usage["cache_creation_input_tokens"] == 2
    assert seen == _seen(via_litellm, "anthropic-only", stream=stream, messages=LONG)
    assert providers.anthropic.stats()["by_client"] == {"llm-router": 1, "litellm": 1}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_served_model_that_differs_from_the_pin_is_reported_alike(
    make_config: ConfigFactory, serve: Any, providers: Providers, stream: bool
) -> None:
    providers.anthropic.set_served_model("claude-3-5-sonnet-20241022-drifted")
    direct, via_litellm = _gateways(make_config, serve)
    seen = _seen(direct, "anthropic-only", stream=stream)
    assert seen["x-router-model"] == "claude-3-5-sonnet-20241022-drifted"
    assert seen == _seen(via_litellm, "anthropic-only", stream=stream)


@pytest.mark.parametrize(
    "mode",
    ["500", "503", "529", "429:7", "401", "403", "400", "context", "garbage", "hang"],
)
def test_every_provider_fault_is_classified_the_same_on_both_paths(
    make_config: ConfigFactory, serve: Any, providers: Providers, mode: str
) -> None:
    direct, via_litellm = _gateways(make_config, serve)
    providers.anthropic.set_mode(mode)
    for stream in (False, True):
        alone = _seen(direct, "anthropic-only", stream=stream)
        assert alone["status"] != 200
        assert alone == _seen(via_litellm, "anthropic-only", stream=stream)
    # The fallback fails too: the primary is down, the local server answers (a 400 is the
    # caller's fault and a context overflow goes to context fallbacks: no failover).
    providers.openai.set_mode("500")
    failed_over = _seen(direct, "chat")
    expected = None if mode in ("400", "context") else "hosted_vllm"
    assert failed_over["x-router-provider"] == expected
    assert failed_over == _seen(via_litellm, "chat")
    assert providers.anthropic.stats()["by_client"]["llm-router"] >= 2


def test_a_rate_limited_fallback_keeps_the_providers_retry_after(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    direct, via_litellm = _gateways(make_config, serve)
    providers.anthropic.set_mode("429:7")
    seen = [
        httpx.post(
            f"{g.openai_base}/chat/completions",
            json={"model": "anthropic-only", "messages": HI},
            timeout=10,
        )
        for g in (direct, via_litellm)
    ]
    assert seen[0].status_code == 429 or seen[0].status_code == 503
    assert seen[0].headers.get("retry-after") == seen[1].headers.get("retry-after")
    assert seen[0].status_code == seen[1].status_code


def test_the_primary_down_is_served_by_the_direct_anthropic_fallback(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    direct, via_litellm = _gateways(make_config, serve)
    providers.openai.set_mode("500")
    seen = _seen(direct, "chat", stream=True)
    assert seen["x-router-provider"] == "anthropic"
    assert seen == _seen(via_litellm, "chat", stream=True)


def test_a_provider_that_refuses_connections_is_classified_the_same_on_both_paths(
    make_config: ConfigFactory, serve: Any
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"  # closed again before use
    seen = [
        _seen(serve(make_config(FAST % flag, ANTHROPIC_BASE=dead)), "anthropic-only")
        for flag in ("true", "false")
    ]
    assert seen[0]["status"] == 503
    assert "connection" in seen[0]["error"][1]
    assert seen[0] == seen[1]


@pytest.mark.parametrize("mode", ["break", "cut"], ids=["connection_drops", "closes_early"])
def test_a_stream_that_ends_midway_ends_the_same_on_both_paths(
    make_config: ConfigFactory, serve: Any, providers: Providers, mode: str
) -> None:
    """Dropped, or closed cleanly before Anthropic's ``message_delta``: every text delta
    received is relayed, then the caller is told the stream was interrupted (never a
    finish that passes a cut answer off as whole)."""
    gateways = _gateways(make_config, serve)
    providers.anthropic.set_mode(f"{mode}:2")
    results = []
    for gateway in gateways:
        body = {"model": "anthropic-only", "messages": HI, "stream": True}
        with httpx.stream(
            "POST", f"{gateway.openai_base}/chat/completions", json=body, timeout=10
        ) as response:
            text = response.read().decode()
        chunks = [
            httpx.Response(200, content=line[6:]).json()
            for line in text.splitlines()
            if line.startswith("data: {") and '"choices"' in line
        ]
        relayed = "".join(
            c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]
        )
        finished = any(c["choices"] and c["choices"][0].get("finish_reason") for c in chunks)
        results.append(
            (response.status_code, "stream_interrupted" in text, "[DONE]" in text, relayed)
        )
        assert not finished
    assert results[0] == results[1]
    assert results[0][:3] == (200, True, False)
    assert results[0][3]  # the two tokens sent before the end


def test_a_cut_answer_is_not_served_to_a_caller_that_does_not_stream(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    providers.anthropic.set_mode("cut:2")
    direct, via_litellm = _gateways(make_config, serve)
    seen = _seen(direct, "anthropic-only")
    assert seen["status"] == 503, seen
    assert seen == _seen(via_litellm, "anthropic-only")


def test_a_request_litellm_cannot_build_is_the_callers_error_on_both_paths(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    """Anthropic needs a message that is not a system prompt: LiteLLM refuses to build the
    request, nothing is sent, and no provider is blamed."""
    only_system = [{"role": "system", "content": "Be brief."}]
    direct, via_litellm = _gateways(make_config, serve)
    seen = _seen(direct, "anthropic-only", messages=only_system)
    assert seen["status"] == 400, seen
    assert seen["error"][0] == "invalid_request"
    assert seen == _seen(via_litellm, "anthropic-only", messages=only_system)
    assert providers.anthropic.stats()["by_client"] == {}


PLAIN = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "again"},
    ],
    "temperature": 0.2,
    "top_p": 0.9,
    "max_tokens": 20,
    "stop": ["\n\n", "END"],
    "user": "u-1",
}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize(
    "extra",
    [{}, {"max_completion_tokens": 30, "max_tokens": None}, {"stop": "END"}],
    ids=["plain", "max_completion_tokens", "one_stop_string"],
)
def test_a_plain_request_reaches_the_provider_as_through_litellm(
    make_config: ConfigFactory,
    serve: Any,
    providers: Providers,
    stream: bool,
    extra: dict[str, Any],
) -> None:
    sent = []
    for gateway in _gateways(make_config, serve):
        body = {"model": "anthropic-only", **PLAIN, "stream": stream, **extra}
        body = {k: v for k, v in body.items() if v is not None}
        response = httpx.post(f"{gateway.openai_base}/chat/completions", json=body, timeout=10)
        assert response.status_code == 200, response.text
        seen = providers.anthropic.last_request()
        headers = {
            k: v
            for k, v in seen["headers"].items()
            if k in ("x-api-key", "anthropic-version", "anthropic-beta", "content-type", "accept")
        }
        sent.append((seen["body"], headers))
    assert providers.anthropic.stats()["by_client"] == {"llm-router": 1, "litellm": 1}
    assert sent[0][1]["x-api-key"] == "sk-ant-test-0002"
    assert sent[0] == sent[1]


@pytest.mark.parametrize(
    "extra",
    [
        {"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]},
        {"response_format": {"type": "json_object"}},
        {"n": 1},
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "what is this?"}],
                }
            ]
        },
        {"stop": ["a", "b", "c", "d", "e"]},  # LiteLLM keeps the first 4
    ],
    ids=["tools", "response_format", "n", "content_parts", "five_stops"],
)
def test_a_request_beyond_plain_text_goes_through_litellm(
    make_config: ConfigFactory, serve: Any, providers: Providers, extra: dict[str, Any]
) -> None:
    gateway = serve(make_config(FAST % "true"))
    body = {"model": "anthropic-only", "messages": HI, **extra}
    response = httpx.post(f"{gateway.openai_base}/chat/completions", json=body, timeout=10)
    assert response.status_code == 200, response.text
    assert providers.anthropic.stats()["by_client"] == {"litellm": 1}


WHOLE = BASE_CONFIG.replace(
    "  - model_name: anthropic-only\n    litellm_params:\n"
    "      model: anthropic/claude-3-5-sonnet-20241022\n"
    "      api_base: os.environ/ANTHROPIC_BASE\n"
    "      api_key: os.environ/ANTHROPIC_API_KEY\n"
    "    model_info:\n",
    "  - model_name: anthropic-only\n    litellm_params:\n"
    "      model: anthropic/claude-3-5-sonnet-20241022\n"
    "      api_base: os.environ/ANTHROPIC_BASE\n"
    "      api_key: os.environ/ANTHROPIC_API_KEY\n"
    "    model_info:\n      supports_native_streaming: false\n",
)


@pytest.mark.parametrize("mode", ["ok", "529", "context", "garbage"])
def test_a_deployment_called_whole_answers_the_same_on_both_paths(
    make_config: ConfigFactory, serve: Any, providers: Providers, mode: str
) -> None:
    assert WHOLE != BASE_CONFIG
    providers.anthropic.set_usage(cached_tokens=3, cache_creation_tokens=2)
    providers.anthropic.set_mode(mode)
    direct, via_litellm = _gateways(make_config, serve, WHOLE)
    for stream in (False, True):
        seen = _seen(direct, "anthropic-only", stream=stream, messages=LONG)
        assert (seen["status"] == 200) is (mode == "ok")
        assert seen == _seen(via_litellm, "anthropic-only", stream=stream, messages=LONG)
    assert providers.anthropic.last_request()["body"].get("stream") is None


def test_which_deployments_qualify(make_config: ConfigFactory) -> None:
    config = make_config()
    assert is_direct_anthropic(config.deployment("anthropic-fallback"))
    assert not is_direct_anthropic(config.deployment("openai-primary"))
    extra = BASE_CONFIG.replace(
        "      id: anthropic-fallback\n",
        "      id: anthropic-fallback\n",
    ).replace(
        "      api_key: os.environ/ANTHROPIC_API_KEY\n      order: 2\n",
        "      api_key: os.environ/ANTHROPIC_API_KEY\n      order: 2\n"
        "      extra_headers: {anthropic-beta: x}\n",
    )
    assert extra != BASE_CONFIG
    assert not is_direct_anthropic(make_config(text=extra).deployment("anthropic-fallback"))
