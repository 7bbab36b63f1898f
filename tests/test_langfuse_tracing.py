"""Every request is a Langfuse trace and every provider attempt a generation, with provider,
served version, usage, cost and latency; no secret or prompt text leaves by default."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import orjson
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.conftest import ConfigFactory, Providers
from tests.langfuse_ingestion import OtlpReceiver

LF = """
router_plugins:
  langfuse:
    public_key: pk-lf-test
    secret_key: sk-lf-secret-test
    host: HOST
    log_content: CONTENT
"""
SECRET_PROMPT = "my password is hunter2"

pytestmark = pytest.mark.usefixtures("fresh_langfuse")


def run(
    make_config: ConfigFactory,
    serve,
    *bodies: dict[str, Any],
    content: bool = False,  # type: ignore[no-untyped-def]
    host: str = "http://127.0.0.1:9",
) -> tuple[list[Any], list[httpx.Response]]:
    exporter = InMemorySpanExporter()
    config = make_config(LF.replace("HOST", host).replace("CONTENT", str(content).lower()))
    gateway = serve(config, span_exporter=exporter)
    responses = [
        httpx.post(f"{gateway.openai_base}/chat/completions", json=b, timeout=10) for b in bodies
    ]
    gateway.stop()  # flushes the batch
    return list(exporter.get_finished_spans()), responses


def body(**extra: Any) -> dict[str, Any]:
    return {"model": "chat", "messages": [{"role": "user", "content": SECRET_PROMPT}], **extra}


def meta(span: Any, key: str) -> Any:
    return orjson.loads(span.attributes[f"langfuse.observation.metadata.{key}"])


def named(spans: list[Any], name: str) -> list[Any]:
    return [s for s in spans if s.name == name]


def test_a_successful_request_is_a_trace_with_one_generation(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    spans, (response,) = run(make_config, serve, body())
    (root,) = named(spans, "chat")
    (gen,) = named(spans, "llm:openai")
    assert root.attributes["user.id"] == "default"  # the team (no client keys: "default")
    assert gen.attributes["langfuse.observation.model.name"] == "gpt-4o-2024-08-06"
    usage = orjson.loads(gen.attributes["langfuse.observation.usage_details"])
    cost = orjson.loads(gen.attributes["langfuse.observation.cost_details"])
    assert usage["input"] == response.json()["usage"]["prompt_tokens"]
    assert abs(cost["total"] - float(response.headers["x-router-cost-usd"])) < 1e-9
    assert meta(gen, "deployment") == "openai-primary"
    assert gen.parent.span_id == root.context.span_id
    assert len(spans) == 2  # the result is on the root span: no event spans per request


def test_a_fallback_is_two_generations_the_first_an_error(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    providers.openai.set_mode("500")
    spans, _ = run(make_config, serve, body())
    (failed,) = named(spans, "llm:openai")
    (served,) = named(spans, "llm:anthropic")
    assert failed.attributes["langfuse.observation.level"] == "ERROR"
    assert failed.attributes["langfuse.observation.status_message"].startswith("server_error")
    assert served.attributes["langfuse.observation.level"] == "DEFAULT"
    (root,) = named(spans, "chat")
    assert meta(root, "fallback_from") == "openai-primary"
    assert "fallback" in served.attributes["langfuse.trace.tags"]


def test_when_every_provider_fails_each_attempt_is_an_error_and_the_trace_too(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    for fake in (providers.openai, providers.anthropic, providers.local):
        fake.set_mode("503")
    spans, (response,) = run(make_config, serve, body())
    assert response.status_code == 503
    generations = [s for s in spans if s.name.startswith("llm:")]
    assert len(generations) >= 3
    assert {g.attributes["langfuse.observation.level"] for g in generations} == {"ERROR"}
    assert named(spans, "chat")[0].attributes["langfuse.observation.level"] == "ERROR"


def test_a_stream_records_usage_and_cost_after_it_ends(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    spans, _ = run(make_config, serve, body(stream=True))
    (gen,) = named(spans, "llm:openai")
    usage = orjson.loads(gen.attributes["langfuse.observation.usage_details"])
    assert usage["output"] > 0
    assert orjson.loads(gen.attributes["langfuse.observation.cost_details"])["total"] > 0


def test_a_cache_hit_is_a_trace_without_a_provider_generation(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    spans, responses = run(make_config, serve, body(temperature=0), body(temperature=0))
    assert responses[1].headers["x-router-cache"] == "hit"
    assert len(named(spans, "chat")) == 2
    assert len(named(spans, "llm:openai")) == 1
    tags = [s.attributes["langfuse.trace.tags"] for s in named(spans, "chat")]
    assert any("cache:hit" in t for t in tags)


def test_no_secret_or_prompt_text_is_exported_by_default(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    spans, _ = run(make_config, serve, body())
    exported = orjson.dumps([dict(s.attributes) for s in spans], default=str).decode()
    for secret in (SECRET_PROMPT, "sk-test-openai-0001", "sk-ant-test-0002", "sk-lf-secret"):
        assert secret not in exported


def test_log_content_sends_prompt_and_completion(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    spans, _ = run(make_config, serve, body(), content=True)
    exported = orjson.dumps([dict(s.attributes) for s in spans], default=str).decode()
    assert SECRET_PROMPT in exported and "fake reply to" in exported


def test_spans_reach_a_loopback_otlp_receiver_with_basic_auth_and_ingestion_version(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    receiver = OtlpReceiver()
    try:
        config = make_config(LF.replace("HOST", receiver.url).replace("CONTENT", "false"))
        gateway = serve(config)
        httpx.post(f"{gateway.openai_base}/chat/completions", json=body(), timeout=10)
        gateway.stop()
    finally:
        receiver.close()
    assert receiver.posts
    headers, request = receiver.posts[0]
    assert headers["path"] == "/api/public/otel/v1/traces"
    expected = base64.b64encode(b"pk-lf-test:sk-lf-secret-test").decode()
    assert headers["authorization"] == f"Basic {expected}"
    assert headers["x-langfuse-ingestion-version"] == "4"
    names = {s.name for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans}
    assert {"chat", "llm:openai"} <= names


def test_langfuse_unreachable_never_fails_a_request(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    config = make_config(LF.replace("HOST", "http://127.0.0.1:9").replace("CONTENT", "false"))
    gateway = serve(config)
    statuses = [
        httpx.post(f"{gateway.openai_base}/chat/completions", json=body(), timeout=10).status_code
        for _ in range(5)
    ]
    assert statuses == [200] * 5
