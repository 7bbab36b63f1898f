"""Every parameter of OpenAI's chat completions API is accepted, and LiteLLM's request metadata
and tags (logged, never sent to a provider); credentials, endpoints, fallbacks and retries
stay refused with a message that says why."""

from __future__ import annotations

import logging
import typing

import httpx
import pytest
from openai.types.chat import completion_create_params

from router_config.api.chat_request import ChatRequest
from tests.conftest import ConfigFactory, Providers
from tests.failover_support import wait_for


def test_every_parameter_of_the_installed_openai_package_is_a_field() -> None:
    openai_params = set(typing.get_type_hints(completion_create_params.CompletionCreateParamsBase))
    assert openai_params <= set(ChatRequest.model_fields), openai_params - set(
        ChatRequest.model_fields
    )


def test_newer_openai_and_litellm_parameters_are_accepted(
    make_config: ConfigFactory, serve, providers: Providers, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = serve(make_config())
    logger = logging.getLogger("llm_router")
    logger.addHandler(caplog.handler)
    try:
        reply = httpx.post(
            f"{gateway.openai_base}/chat/completions",
            timeout=10,
            json={
                "model": "openai-only",
                "messages": [{"role": "user", "content": "hi"}],
                "prompt_cache_key": "tenant-42",
                "safety_identifier": "user-hash-1",
                "web_search_options": {},
                "thinking": {"type": "enabled", "budget_tokens": 1024},
                "metadata": {"tags": ["search"], "trace_id": "t-1", "generation_name": "g"},
                "tags": ["beta"],
            },
        )
        # The request's line is written once its answer is sent, just after it.
        assert wait_for(
            lambda: any(getattr(r, "fields", {}).get("event") == "request" for r in caplog.records)
        )
    finally:
        logger.removeHandler(caplog.handler)
    assert reply.status_code == 200, reply.text
    sent = providers.openai.last_request()["body"]
    assert "tags" not in sent and "trace_id" not in str(sent.get("metadata", ""))
    (line,) = [
        r.fields  # type: ignore[attr-defined]
        for r in caplog.records
        if getattr(r, "fields", {}).get("event") == "request"
    ]
    assert line["metadata"]["trace_id"] == "t-1"
    assert line["request_tags"] == ["beta", "search"]


@pytest.mark.parametrize(
    ("param", "value", "why"),
    [
        ("fallbacks", ["other"], "fallbacks and retries are the gateway's configuration"),
        ("num_retries", 3, "x-router-timeout-ms"),
        ("api_base", "http://evil", "credentials and endpoints come only from the gateway"),
        ("mock_response", "hi", "test-only argument"),
        ("input_cost_per_token", 0, "prices come from the configuration"),
    ],
)
def test_refused_parameters_say_why(
    make_config: ConfigFactory, serve, param: str, value: object, why: str
) -> None:
    gateway = serve(make_config())
    reply = httpx.post(
        f"{gateway.openai_base}/chat/completions",
        timeout=10,
        json={"model": "chat", "messages": [{"role": "user", "content": "hi"}], param: value},
    )
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["param"] == param and why in error["message"]
