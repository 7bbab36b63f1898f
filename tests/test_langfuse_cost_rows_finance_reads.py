"""The spans the gateway exports become the Langfuse rows finance needs.

Each test sends real requests, decodes the OTLP protobuf the SDK posted to a loopback
receiver, and maps every span through Langfuse's own ingestion rules
(``tests/langfuse_ingestion.py``, source named there). On every row: the team is the
user, the request's outcome facts are tags, and every generation carries a cost (0
included, so Langfuse never prices one itself) in canonical, non-overlapping buckets.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from plugins.version_history import config_hash
from router_config.config.schema import RouterConfig
from router_config.registry import gateway_version
from tests.conftest import ConfigFactory, Providers
from tests.failover_support import wait_for
from tests.langfuse_ingestion import (
    CANONICAL_USAGE,
    INGESTION_MAP,
    SERVER_ATTRIBUTES,
    OtlpReceiver,
    Row,
    measures,
)

KEY = "sk-client-finance-0001"
LF = """
router_plugins:
  client_keys:
    - {key: os.environ/CLIENT_KEY, team: search, alias: search-app}
  langfuse:
    public_key: pk-lf-test
    secret_key: sk-lf-secret-test
    host: HOST
    environment: production
"""
AUTH = {"authorization": f"Bearer {KEY}"}
HELLO = [{"role": "user", "content": "What did finance spend on LLMs last month?"}]

pytestmark = pytest.mark.usefixtures("fresh_langfuse")


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    server = OtlpReceiver()
    yield server
    server.close()


class Run:
    """A gateway exporting to the receiver; ``finish`` stops it (flushing) and maps rows."""

    def __init__(self, make_config: ConfigFactory, serve: Any, url: str, extra: str) -> None:
        self.config: RouterConfig = make_config(LF.replace("HOST", url) + extra, CLIENT_KEY=KEY)
        self.gateway = serve(self.config)
        self.url = f"{self.gateway.openai_base}/chat/completions"

    def post(self, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
        return httpx.post(
            self.url,
            json={"model": "chat", "messages": HELLO, **body},
            headers={**AUTH, **(headers or {})},
            timeout=10,
        )

    def finish(self, receiver: OtlpReceiver) -> list[Row]:
        self.gateway.stop()
        return receiver.rows()


def _generations(rows: list[Row]) -> list[Row]:
    return [r for r in rows if r.is_generation]


def _root(rows: list[Row]) -> Row:
    (root,) = [r for r in rows if not r.parent_id]
    return root


def _assert_every_row_is_the_teams(rows: list[Row], request_id: str) -> None:
    assert rows
    for row in rows:
        assert row["userId"] == "search", row.name
        assert row["traceName"] == "chat"
        assert row["metadata"]["key_alias"] == "search-app"
        assert row["metadata"]["request_id"] == request_id
        assert row["metadata"]["model_group"] == "chat"
        assert row["environment"] == "production"


def _assert_costed_in_canonical_buckets(generation: Row) -> None:
    usage, cost = generation["usageDetails"], generation["costDetails"]
    assert set(usage) <= CANONICAL_USAGE, usage
    assert set(cost) <= CANONICAL_USAGE, cost
    assert generation.total_cost is not None  # Langfuse never prices it itself
    counted = measures(usage)
    assert counted["inputTokens"] + counted["outputTokens"] == counted["totalTokens"]
    parts = sum(v for k, v in cost.items() if k != "total")
    assert abs(parts - cost["total"]) < 1e-12


def test_a_success_is_one_costed_generation_owned_by_the_team(
    make_config: ConfigFactory, serve, providers: Providers, receiver: OtlpReceiver
) -> None:
    run = Run(make_config, serve, receiver.url, "")
    response = run.post(headers={"x-session-id": "conversation-42"})
    rows = run.finish(receiver)
    assert response.status_code == 200
    _assert_every_row_is_the_teams(rows, response.headers["x-request-id"])
    assert {row["sessionId"] for row in rows} == {"conversation-42"}
    (generation,) = _generations(rows)
    assert generation.name == "llm:openai"
    assert generation["modelName"] == "gpt-4o-2024-08-06"
    assert generation["metadata"]["deployment"] == "openai-primary"
    assert generation["metadata"]["provider"] == "openai"
    assert generation["metadata"]["served"] is True
    assert generation["tags"] == ["outcome:ok"]
    _assert_costed_in_canonical_buckets(generation)
    usage = response.json()["usage"]
    assert measures(generation["usageDetails"])["totalTokens"] == usage["total_tokens"]
    assert abs(generation.total_cost - float(response.headers["x-router-cost-usd"])) < 1e-9
    # Context: release = gateway version, version = config hash, a named service.
    assert generation["release"] == gateway_version()
    assert generation["version"] == config_hash(run.config)
    assert generation["serviceName"] == "llm-router"
    assert generation["serviceVersion"] == gateway_version()
    # The result's facts are on the root span: no extra event spans per request.
    assert len(rows) == 2
    root = _root(rows)
    assert root["metadata"]["served_deployment"] == "openai-primary"
    assert root["metadata"]["attempts"] == 1


def test_a_fallback_tags_the_served_generation_so_its_cost_filters_by_fallback(
    make_config: ConfigFactory, serve, providers: Providers, receiver: OtlpReceiver
) -> None:
    providers.openai.set_mode("500")
    run = Run(make_config, serve, receiver.url, "")
    response = run.post()
    rows = run.finish(receiver)
    assert response.headers["x-router-provider"] == "anthropic"
    _assert_every_row_is_the_teams(rows, response.headers["x-request-id"])
    failed, served = _generations(rows)
    assert (failed.name, served.name) == ("llm:openai", "llm:anthropic")
    assert failed["level"] == "ERROR"
    assert failed["statusMessage"].startswith("server_error")
    assert failed.total_cost == 0
    assert failed["metadata"]["attempt_outcome"] == "error"
    assert served["level"] == "DEFAULT" and served["metadata"]["served"] is True
    for row in rows:
        assert "fallback" in row["tags"] and "outcome:ok" in row["tags"]
        assert "fallback" in row["metadata"]["facts"]
    for generation in (failed, served):
        _assert_costed_in_canonical_buckets(generation)
    fallback_cost = sum(g.total_cost or 0 for g in _generations(rows) if "fallback" in g["tags"])
    assert fallback_cost == served.total_cost > 0
    root = _root(rows)
    assert root["metadata"]["fallback_from"] == "openai-primary"
    assert root["metadata"]["fallback_reason"] == "server_error"
    assert len(rows) == 3  # root and two generations, no event spans


def test_a_stream_is_costed_when_it_ends(
    make_config: ConfigFactory, serve, providers: Providers, receiver: OtlpReceiver
) -> None:
    run = Run(make_config, serve, receiver.url, "")
    response = run.post(stream=True)
    rows = run.finish(receiver)
    assert "[DONE]" in response.text
    _assert_every_row_is_the_teams(rows, response.headers["x-request-id"])
    (generation,) = _generations(rows)
    _assert_costed_in_canonical_buckets(generation)
    assert generation.total_cost > 0
    assert generation["usageDetails"]["output"] > 0
    assert generation["completionStartTime"].endswith("Z")
    assert generation["tags"] == ["outcome:ok"]


def test_a_cached_answer_is_a_tagged_trace_with_no_provider_cost(
    make_config: ConfigFactory, serve, providers: Providers, receiver: OtlpReceiver
) -> None:
    run = Run(make_config, serve, receiver.url, "")
    run.post(temperature=0)
    second = run.post(temperature=0)
    rows = run.finish(receiver)
    assert second.headers["x-router-cache"] == "hit"
    hit = [r for r in rows if r.trace_id == rows_of(rows, second)[0].trace_id]
    _assert_every_row_is_the_teams(hit, second.headers["x-request-id"])
    (root,) = hit  # answered from the cache: no generation, nothing billed
    assert "cache:hit" in root["tags"] and "outcome:cached" in root["tags"]
    assert len(_generations(rows)) == 1  # the first request's


def rows_of(rows: list[Row], response: httpx.Response) -> list[Row]:
    request_id = response.headers["x-request-id"]
    return [r for r in rows if r["metadata"].get("request_id") == request_id]


def test_provider_cached_tokens_are_counted_once_in_their_own_bucket(
    make_config: ConfigFactory, serve, providers: Providers, receiver: OtlpReceiver
) -> None:
    providers.openai.set_usage(cached_tokens=8)
    priced = """
model_list:
  - model_name: chat
    litellm_params: {model: openai/gpt-4o-2024-08-06, api_base: os.environ/OPENAI_BASE, api_key: k}
    model_info: {input_cost_per_token: 0.0000025, output_cost_per_token: 0.00001,
                 cache_read_input_token_cost: 0.00000125}
"""
    run = Run(lambda extra, **env: make_config(extra, text=priced, **env), serve, receiver.url, "")
    response = run.post()
    rows = run.finish(receiver)
    (generation,) = _generations(rows)
    usage = response.json()["usage"]
    details = generation["usageDetails"]
    assert details["input_cached_tokens"] == 8
    assert details["input"] == usage["prompt_tokens"] - 8
    assert measures(details)["inputTokens"] == usage["prompt_tokens"]  # not 8 more
    assert generation["costDetails"]["input_cached_tokens"] == pytest.approx(8 * 0.00000125)
    _assert_costed_in_canonical_buckets(generation)


def test_when_every_provider_is_down_each_generation_is_an_error_costing_zero(
    make_config: ConfigFactory, serve, providers: Providers, receiver: OtlpReceiver
) -> None:
    for fake in (providers.openai, providers.anthropic, providers.local):
        fake.set_mode("503")
    run = Run(make_config, serve, receiver.url, "")
    response = run.post()
    rows = run.finish(receiver)
    assert response.status_code == 503
    _assert_every_row_is_the_teams(rows, response.headers["x-request-id"])
    generations = _generations(rows)
    assert len(generations) >= 3
    for generation in generations:
        assert generation["level"] == "ERROR"
        assert generation.total_cost == 0
        _assert_costed_in_canonical_buckets(generation)
        assert "outcome:all_providers_failed" in generation["tags"]
    assert _root(rows)["level"] == "ERROR"


def test_a_budget_skipped_deployment_is_a_zero_cost_warning_not_a_priced_call(
    make_config: ConfigFactory, serve, providers: Providers, receiver: OtlpReceiver
) -> None:
    budgets = """
  budgets:
    providers:
      openai: {monthly_usd: 0.0000001}
"""
    run = Run(make_config, serve, receiver.url, budgets)
    response = run.post()
    rows = run.finish(receiver)
    assert response.headers["x-router-provider"] == "anthropic"
    assert providers.openai.stats()["requests"] == 0  # never called
    _assert_every_row_is_the_teams(rows, response.headers["x-request-id"])
    skipped, served = _generations(rows)
    assert skipped.name == "llm:openai"
    assert skipped["level"] == "WARNING"
    assert skipped["statusMessage"] == "skipped: budget spent: provider:openai"
    assert skipped.total_cost == 0  # sent as 0: Langfuse would otherwise price gpt-4o
    assert skipped["usageDetails"] == {"input": 0, "output": 0, "total": 0}
    _assert_costed_in_canonical_buckets(served)
    assert "fallback" in served["tags"] and served.total_cost > 0
    assert _root(rows)["metadata"]["fallback_reason"] == "budget spent: provider:openai"


def test_a_stream_the_client_abandons_still_ends_its_generation_with_a_cost(
    make_config: ConfigFactory, serve, providers: Providers, receiver: OtlpReceiver
) -> None:
    providers.openai.set_mode("stall:3000")  # pauses after the first token
    run = Run(make_config, serve, receiver.url, "")
    live = run.gateway.app.state.live
    body = {"model": "chat", "messages": HELLO, "stream": True}
    with (
        httpx.Client(timeout=10) as client,
        client.stream("POST", run.url, json=body, headers=AUTH) as r,
    ):
        assert next(r.iter_lines()).startswith("data: ")
    assert wait_for(lambda: live.current.inflight == 0, seconds=2)
    time.sleep(0.05)  # the end hooks ran; let the span processor see the ended spans
    rows = run.finish(receiver)
    (generation,) = _generations(rows)
    assert generation.total_cost is not None
    _assert_costed_in_canonical_buckets(generation)
    assert generation["userId"] == "search"
    assert generation["level"] in ("WARNING", "DEFAULT")


def test_the_sdk_writes_the_attribute_names_the_server_reads() -> None:
    from langfuse._client.attributes import LangfuseOtelSpanAttributes as sdk

    assert {name: getattr(sdk, name) for name in SERVER_ATTRIBUTES} == SERVER_ATTRIBUTES
    mapped = " ".join(m.otel for m in INGESTION_MAP)
    assert all(attribute in mapped for attribute in SERVER_ATTRIBUTES.values())


def test_an_environment_langfuse_would_refuse_is_a_config_error_naming_the_key(
    make_config: ConfigFactory,
) -> None:
    from router_config.errors import ConfigError

    for bad in ("Production", "langfuse-prod", "x" * 41):
        with pytest.raises(ConfigError) as caught:
            make_config(f"router_plugins:\n  langfuse:\n    environment: {bad}\n")
        assert "router_plugins.langfuse.environment" in str(caught.value)


def test_the_root_is_a_root_when_litellm_otel_instruments_the_app(
    make_config: ConfigFactory,
    serve: Any,
    providers: Providers,
    receiver: OtlpReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """LiteLLM's ``otel`` callback instruments FastAPI: each request then runs inside a
    ``fastapi.endpoint`` span that Langfuse never receives. Our trace must not hang from it."""
    monkeypatch.setenv("OTEL_EXPORTER", "in_memory")
    run = Run(make_config, serve, receiver.url, 'litellm_settings:\n  callbacks: ["otel"]\n')
    response = run.post()
    rows = run.finish(receiver)
    assert response.status_code == 200
    root = _root(rows)
    assert root.name == "chat"
    (generation,) = _generations(rows)
    assert generation.parent_id == root.span_id
