"""A CustomLogger configured the LiteLLM way (``litellm_settings.callbacks: module.instance``,
the module beside the config) fires for every attempt on both call paths, streaming or not,
with LiteLLM's kwargs; its pre-call hook modifies or refuses requests; its bugs never fail a
request; LiteLLM's own built-in loggers fire through LiteLLM's logging."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from router_config.config.callback_names import load_callback
from router_config.config.loader import load_config
from router_config.errors import ConfigError
from tests.conftest import Providers

HANDLER = Path(__file__).parent / "litellm_configs" / "custom_callbacks.py"
CONFIG = """
model_list:
  - model_name: chat
    litellm_params:
      model: openai/gpt-4o-2024-08-06
      api_base: os.environ/OPENAI_BASE
      api_key: os.environ/OPENAI_API_KEY
      order: 1
    model_info: {id: openai-direct}
  - model_name: chat
    litellm_params:
      model: anthropic/claude-3-5-haiku-20241022
      api_base: os.environ/ANTHROPIC_BASE
      api_key: os.environ/ANTHROPIC_API_KEY
      order: 2
    model_info:
      id: anthropic-router
      input_cost_per_token: 0.000001
      output_cost_per_token: 0.000002
litellm_settings:
  callbacks: custom_callbacks.proxy_handler_instance
"""


@pytest.fixture
def gateway(tmp_path: Path, providers: Providers, serve) -> Iterator[tuple[Any, Any]]:  # type: ignore[no-untyped-def]
    """A gateway whose config sits beside its own copy of the docs-style handler."""
    shutil.copy(HANDLER, tmp_path / "custom_callbacks.py")
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    server = serve(load_config(path, environ=providers.env()))
    handler = load_callback("custom_callbacks.proxy_handler_instance", str(path))
    yield server, handler


def wait_for(events: list[tuple[Any, ...]], kind: str, count: int) -> list[tuple[Any, ...]]:
    """Logging events run in the background: wait (bounded) until ``count`` have fired."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = [e for e in events if e[0] == kind]
        if len(found) >= count:
            return found
        time.sleep(0.02)
    return [e for e in events if e[0] == kind]


def ask(server: Any, text: str = "hi", **kwargs: Any) -> Any:
    client = openai.OpenAI(base_url=server.openai_base, api_key="k", max_retries=0)
    return client.chat.completions.with_raw_response.create(
        model="chat", messages=[{"role": "user", "content": text}], **kwargs
    )


def test_success_events_fire_on_the_direct_path_with_litellm_kwargs(gateway: Any) -> None:
    server, handler = gateway
    reply = ask(server)
    ((_, kwargs, response),) = wait_for(handler.events, "success", 1)
    assert reply.headers["x-router-deployment"] == "openai-direct"
    assert server.gateway.calls.direct_ids == frozenset({"openai-direct"})  # the direct path
    slo = kwargs["standard_logging_object"]
    assert slo["model_id"] == "openai-direct" and slo["model_group"] == "chat"
    assert kwargs["response_cost"] == pytest.approx(float(reply.headers["x-router-cost-usd"]))
    assert slo["response_cost"] == kwargs["response_cost"]
    assert kwargs["litellm_params"]["metadata"]["hooked"] is True  # set by the pre-call hook
    assert response.choices[0].message.content == reply.parse().choices[0].message.content
    assert wait_for(handler.events, "sync_success", 1)
    assert wait_for(handler.events, "post_call_success", 1)


def test_a_stream_fires_one_success_event_with_the_assembled_answer(gateway: Any) -> None:
    server, handler = gateway
    stream = ask(server, stream=True).parse()
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    ((_, kwargs, response),) = wait_for(handler.events, "success", 1)
    assert kwargs["stream"] is True
    assert response.choices[0].message.content == text
    assert kwargs["standard_logging_object"]["model_id"] == "openai-direct"


def test_a_fallback_fires_a_failure_then_a_success_on_the_router_path(
    gateway: Any, providers: Providers
) -> None:
    server, handler = gateway
    providers.openai.set_mode("500")
    for stream in (False, True):
        reply = ask(server, stream=stream)
        if stream:
            list(reply.parse())
        assert reply.headers["x-router-deployment"] == "anthropic-router"
    failures = wait_for(handler.events, "failure", 2)
    successes = wait_for(handler.events, "success", 2)
    assert [f[1]["standard_logging_object"]["model_id"] for f in failures] == ["openai-direct"] * 2
    assert all(f[1]["standard_logging_object"]["status"] == "failure" for f in failures)
    assert type(failures[0][1]["exception"]).__name__ == "APIError"
    assert [s[1]["standard_logging_object"]["model_id"] for s in successes] == [
        "anthropic-router"
    ] * 2
    assert [s[1]["stream"] for s in successes] == [False, True]
    assert successes[0][1]["response_cost"] > 0


def test_the_pre_call_hook_modifies_or_refuses_a_request(
    gateway: Any, providers: Providers
) -> None:
    server, handler = gateway
    ask(server, "modify me")
    assert providers.openai.last_request()["body"]["temperature"] == 0.2
    assert ("pre_call", "chat", "default") in handler.events
    with pytest.raises(openai.BadRequestError) as refused:
        ask(server, "forbidden words")
    assert "Violated content safety policy" in refused.value.message
    answered = ask(server, "Hello world").parse()  # a string: LiteLLM answers with it
    assert answered.choices[0].message.content == "This is an invalid response"
    with pytest.raises(openai.BadRequestError) as moderated:
        ask(server, "moderate me")
    assert "Moderation said no" in moderated.value.message
    rerouted = ask(server, "reroute me")  # the hook set data["model"]
    assert rerouted.headers["x-router-deployment"] == "anthropic-router"


def test_a_bug_in_a_callback_never_fails_the_request(
    gateway: Any, caplog: pytest.LogCaptureFixture
) -> None:
    server, handler = gateway
    logger = logging.getLogger("llm_router")
    logger.addHandler(caplog.handler)
    broken = type(handler).async_log_success_event

    async def explode(self: Any, *args: Any) -> None:
        raise RuntimeError("logger is down")

    type(handler).async_log_success_event = explode
    try:
        first = ask(server, "crash please")  # the pre-call hook raises KeyError: logged
        second = ask(server)  # the success logger raises: logged by LiteLLM, not ours to see
        assert first.parse().choices[0].message.content
        assert second.parse().choices[0].message.content
    finally:
        type(handler).async_log_success_event = broken
        logger.removeHandler(caplog.handler)
    errors = [
        r.fields
        for r in caplog.records
        if getattr(r, "fields", {}).get("event") == "callback_error"
    ]  # type: ignore[attr-defined]
    assert errors[0]["hook"] == "async_pre_call_hook" and errors[0]["error_class"] == "KeyError"


def test_a_litellm_built_in_logger_fires_through_litellm_logging(
    tmp_path: Path, providers: Providers, serve: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from router_config.config.callback_names import callback_instance

    monkeypatch.setenv("OTEL_EXPORTER", "in_memory")
    path = tmp_path / "otel.yaml"
    path.write_text(CONFIG.replace("custom_callbacks.proxy_handler_instance", '["otel"]'))
    server = serve(load_config(path, environ=providers.env()))
    otel = callback_instance("otel", str(path))
    ask(server)
    deadline = time.monotonic() + 5
    while not otel.config.exporter.get_finished_spans() and time.monotonic() < deadline:
        time.sleep(0.05)
    names = [s.name for s in otel.config.exporter.get_finished_spans()]
    assert names, "LiteLLM's OpenTelemetry logger exported no span"


def test_replaced_unknown_and_missing_callbacks_are_named(
    tmp_path: Path, providers: Providers
) -> None:
    path = tmp_path / "c.yaml"
    text = CONFIG.replace(
        "callbacks: custom_callbacks.proxy_handler_instance",
        'success_callback: ["langfuse", "prometheus", "no-such-logger"]',
    )
    path.write_text(text)
    config = load_config(path, environ=providers.env())
    warnings = "\n".join(config.warnings)
    assert "langfuse: not applied: llm-router traces to Langfuse itself" in warnings
    assert "prometheus: not applied: GET /metrics" in warnings
    assert "no-such-logger: not applied: LiteLLM has no logger class for it" in warnings
    path.write_text(CONFIG.replace("custom_callbacks.", "missing_module."))
    with pytest.raises(ConfigError) as refused:
        load_config(path, environ=providers.env())
    issue = refused.value.issues[0]
    assert issue.path == "litellm_settings.callbacks"
    assert str(tmp_path / "missing_module.py") in issue.fix
