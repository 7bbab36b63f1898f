"""Direct calls to OpenAI-format deployments behave exactly as calls through LiteLLM's Router.

Each case sends the same request to two gateways over the same fake provider,
one with ``transport.direct_openai`` on (the default) and one with it off,
and compares what the caller sees: status, error, answer, usage, cost, and how
the failure was classified (the 503 names each attempt's reason). The other direct
paths have their own halves: test_direct_calls_match_litellm_for_embeddings.py and
test_direct_calls_match_litellm_for_text.py (legacy completions).
"""

from __future__ import annotations

import re
import socket
from typing import Any

import httpx
import pytest

from router_config.providers.direct_openai import is_direct
from tests.conftest import BASE_CONFIG, ConfigFactory, Providers

HI = [{"role": "user", "content": "hi"}]
FAST = """
router_plugins:
  transport: {direct_openai: %s}
  failover: {first_token_timeout_s: 0.3, first_token_ceiling_s: 1.0, backoff_base_s: 0.01,
             backoff_cap_s: 0.01}
"""


def openai_only_with(param: str) -> str:
    """BASE_CONFIG with one more litellm_params line on the openai-only deployment."""
    marker = "  - model_name: openai-only\n    litellm_params:\n"
    return BASE_CONFIG.replace(marker, f"{marker}      {param}\n")


def _gateways(make_config: ConfigFactory, serve: Any) -> dict[str, Any]:
    return {
        "direct": serve(make_config(FAST % "true")),
        "litellm": serve(make_config(FAST % "false")),
    }


def _seen(gateway: Any, model: str, *, stream: bool = False) -> dict[str, Any]:
    """What a caller observes of one request, without timings and ids."""
    body: dict[str, Any] = {"model": model, "messages": HI, "stream": stream}
    if stream:
        body["stream_options"] = {"include_usage": True}
    response = httpx.post(f"{gateway.openai_base}/chat/completions", json=body, timeout=10)
    seen: dict[str, Any] = {
        "status": response.status_code,
        **{
            h: response.headers.get(h)
            for h in ("x-router-provider", "x-router-model", "x-router-attempts")
        },
    }
    if response.status_code != 200:
        error = response.json()["error"]
        seen["error"] = (error["code"], re.sub(r"after \d+ ms", "", error["message"]))
    elif stream:
        chunks = [line[6:] for line in response.text.splitlines() if line.startswith("data: {")]
        decoded = [httpx.Response(200, content=c).json() for c in chunks]
        seen["text"] = "".join(
            (c.get("delta") or {}).get("content") or "" for d in decoded for c in d["choices"]
        )
        # OpenAI's three counts (LiteLLM adds zeroed *_details of its own to stream usage).
        seen["usage"] = [
            {k: d["usage"][k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
            for d in decoded
            if d.get("usage")
        ]
        seen["models"] = {d["model"] for d in decoded}
    else:
        answer = response.json()
        seen["cost"] = response.headers["x-router-cost-usd"]
        # LiteLLM drops a message's null fields (OpenAI sends "refusal": null) and adds zeroed
        # usage details of its own: the caller sees the same answer either way.
        message = {k: v for k, v in answer["choices"][0]["message"].items() if v is not None}
        counts = {
            k: answer["usage"][k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")
        }
        seen["answer"] = (answer["model"], message, counts)
    return seen


def test_an_openai_format_deployment_is_called_directly_unless_turned_off(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    gateways = _gateways(make_config, serve)
    _seen(gateways["direct"], "openai-only")
    assert providers.openai.stats()["by_client"] == {"llm-router": 1}
    _seen(gateways["litellm"], "openai-only")
    assert providers.openai.stats()["by_client"] == {"llm-router": 1, "AsyncOpenAI": 1}
    _seen(gateways["direct"], "local-only")  # vLLM has a LiteLLM config of its own
    assert providers.local.stats()["by_client"] == {"litellm": 1}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_answers_usage_and_cost_are_the_same_on_both_paths(
    make_config: ConfigFactory, serve: Any, providers: Providers, stream: bool
) -> None:
    gateways = _gateways(make_config, serve)
    direct = _seen(gateways["direct"], "openai-only", stream=stream)
    assert direct["status"] == 200
    assert direct == _seen(gateways["litellm"], "openai-only", stream=stream)


@pytest.mark.parametrize(
    "mode", ["500", "503", "429:1", "401", "403", "400", "context", "garbage", "hang"]
)
def test_every_provider_fault_is_classified_the_same_on_both_paths(
    make_config: ConfigFactory, serve: Any, providers: Providers, mode: str
) -> None:
    gateways = _gateways(make_config, serve)
    providers.openai.set_mode(mode)
    alone = _seen(gateways["direct"], "openai-only")
    assert alone["status"] != 200
    via_litellm = _seen(gateways["litellm"], "openai-only")
    assert alone == via_litellm
    failed_over = _seen(gateways["direct"], "chat")
    assert failed_over == _seen(gateways["litellm"], "chat")


def test_a_provider_that_refuses_connections_is_classified_the_same_on_both_paths(
    make_config: ConfigFactory, serve: Any
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/v1"  # closed again before use
    seen = [
        _seen(serve(make_config(FAST % flag, OPENAI_BASE=dead)), "openai-only")
        for flag in ("true", "false")
    ]
    assert seen[0]["status"] == 503
    assert "connection" in seen[0]["error"][1]
    assert seen[0] == seen[1]


def test_a_stream_that_breaks_midway_ends_the_same_on_both_paths(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    gateways = _gateways(make_config, serve)
    providers.openai.set_mode("break")
    results = []
    for gateway in gateways.values():
        body = {"model": "openai-only", "messages": HI, "stream": True}
        with httpx.stream(
            "POST", f"{gateway.openai_base}/chat/completions", json=body, timeout=10
        ) as response:
            text = response.read().decode()
        results.append((response.status_code, "stream_interrupted" in text, "[DONE]" in text))
    assert results[0] == results[1] == (200, True, False)


@pytest.mark.parametrize("scheme", ["http://", ""], ids=["with_scheme", "without_scheme"])
def test_direct_calls_go_through_the_proxy_the_environment_names(
    make_config: ConfigFactory,
    serve: Any,
    providers: Providers,
    monkeypatch: pytest.MonkeyPatch,
    scheme: str,
) -> None:
    # The provider's host does not resolve: only the proxy (our fake provider, which
    # answers absolute-form requests like a forward proxy would pass them) can reach it.
    # Without a scheme it is http://, as httpx (LiteLLM's client) reads it.
    monkeypatch.setenv("HTTP_PROXY", scheme + providers.openai.base_url.split("://", 1)[1])
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")  # the test's own calls go direct
    gateway = serve(make_config(FAST % "true", OPENAI_BASE="http://provider.invalid/v1"))
    seen = _seen(gateway, "openai-only")
    assert seen["status"] == 200, seen
    assert providers.openai.stats()["by_client"] == {"llm-router": 1}


PLAIN = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi", "name": "ann"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "again"},
    ],
    "temperature": 0.2,
    "top_p": 0.9,
    "n": 1,
    "max_tokens": 20,
    "stop": ["\n\n"],
    "presence_penalty": 0.1,
    "frequency_penalty": 0.1,
    "logit_bias": {"50256": -100},
    "logprobs": True,
    "top_logprobs": 2,
    "seed": 7,
    "user": "u-1",
}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_plain_request_reaches_the_provider_byte_for_byte_as_through_litellm(
    make_config: ConfigFactory, serve: Any, providers: Providers, stream: bool
) -> None:
    gateways = _gateways(make_config, serve)
    sent = []
    for gateway in gateways.values():
        body = {"model": "openai-only", **PLAIN, "stream": stream}
        response = httpx.post(f"{gateway.openai_base}/chat/completions", json=body, timeout=10)
        assert response.status_code == 200, response.text
        seen = providers.openai.last_request()
        sent.append((seen["body"], seen["headers"]["authorization"]))
    assert providers.openai.stats()["by_client"] == {"llm-router": 1, "AsyncOpenAI": 1}
    assert sent[0] == sent[1]


@pytest.mark.parametrize(
    "extra",
    [
        {"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]},
        {"tool_choice": "auto"},
        {"response_format": {"type": "json_object"}},
        {
            "messages": [
                {"role": "developer", "content": "be nice"},
                {"role": "user", "content": "hi"},
            ]
        },
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this?"},
                        {"type": "image_url", "image_url": "https://example.com/cat.png"},
                    ],
                }
            ]
        },
    ],
    ids=["tools", "tool_choice_alone", "response_format", "developer_role", "image_url_string"],
)
def test_a_request_litellm_would_rewrite_goes_through_litellm(
    make_config: ConfigFactory, serve: Any, providers: Providers, extra: dict[str, Any]
) -> None:
    gateway = serve(make_config(FAST % "true"))
    body = {"model": "openai-only", "messages": HI, **extra}
    response = httpx.post(f"{gateway.openai_base}/chat/completions", json=body, timeout=10)
    assert response.status_code == 200, response.text
    assert providers.openai.stats()["by_client"] == {"AsyncOpenAI": 1}


def test_a_stream_without_usage_is_counted_and_reported_the_same_on_both_paths(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    gateways = _gateways(make_config, serve)
    providers.openai.set_mode("nousage")
    direct = _seen(gateways["direct"], "openai-only", stream=True)
    assert direct["usage"] and direct["usage"][0]["total_tokens"] > 0
    assert direct == _seen(gateways["litellm"], "openai-only", stream=True)


def test_a_deployment_stream_timeout_cuts_a_stalled_stream_on_the_direct_path(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    text = openai_only_with("stream_timeout: 0.3")
    gateway = serve(make_config(FAST % "true", text=text))
    providers.openai.set_mode("stall:5000")  # a 5 s pause after the first token
    body = {"model": "openai-only", "messages": HI, "stream": True}
    with httpx.stream(
        "POST", f"{gateway.openai_base}/chat/completions", json=body, timeout=10
    ) as response:
        text_seen = response.read().decode()
    # Cut by the deployment's 0.3 s limit; after the 5 s pause it would have ended normally.
    assert "stream_interrupted" in text_seen and "[DONE]" not in text_seen


def test_a_request_that_does_not_stream_is_streamed_upstream_alike_on_both_paths(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    """Liveness by first token: a caller that wants one body is served from a stream (with
    usage), and the provider receives the same streaming request from either path."""
    gateways = _gateways(make_config, serve)
    sent = []
    for gateway in gateways.values():
        body = {"model": "openai-only", "messages": HI, "stream_options": {"include_usage": True}}
        response = httpx.post(f"{gateway.openai_base}/chat/completions", json=body, timeout=10)
        assert response.status_code == 200, response.text
        sent.append(providers.openai.last_request()["body"])
    assert sent[0]["stream"] is True and sent[0]["stream_options"] == {"include_usage": True}
    assert sent[0] == sent[1]


def test_more_than_four_stop_sequences_are_cut_to_four_as_litellm_does(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    gateway = serve(make_config(FAST % "true"))
    body = {"model": "openai-only", "messages": HI, "stop": ["a", "b", "c", "d", "e"]}
    response = httpx.post(f"{gateway.openai_base}/chat/completions", json=body, timeout=10)
    assert response.status_code == 200, response.text
    assert providers.openai.last_request()["body"]["stop"] == ["a", "b", "c", "d"]


def test_a_deployment_with_no_key_anywhere_is_refused_alike_on_both_paths(
    make_config: ConfigFactory, serve: Any, providers: Providers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    text = BASE_CONFIG.replace(
        "      api_key: os.environ/OPENAI_API_KEY\n    model_info:\n      input_cost_per_token",
        "    model_info:\n      input_cost_per_token",
    )
    assert text != BASE_CONFIG
    seen = [
        _seen(serve(make_config(FAST % flag, text=text)), "openai-only")
        for flag in ("true", "false")
    ]
    assert seen[0]["status"] == 503
    assert seen[0] == seen[1]
    assert providers.openai.stats()["requests"] == 0  # never sent without a key


def test_a_deployment_timeout_yields_to_the_gateways_as_in_litellms_router(
    make_config: ConfigFactory, serve: Any, providers: Providers
) -> None:
    text = openai_only_with("timeout: 0.2")
    providers.openai.set_mode("slow:500")
    seen = [
        _seen(serve(make_config(FAST % flag, text=text)), "openai-only")
        for flag in ("true", "false")
    ]
    assert seen[0]["status"] == 200
    assert seen[0] == seen[1]


def test_a_model_litellm_sends_to_the_responses_api_is_not_called_directly(
    make_config: ConfigFactory,
) -> None:
    text = BASE_CONFIG.replace(
        "      id: openai-primary\n", "      id: openai-primary\n      mode: responses\n"
    )
    config = make_config(text=text)
    assert not is_direct(config.deployment("openai-primary"))
    assert is_direct(make_config().deployment("openai-primary"))
