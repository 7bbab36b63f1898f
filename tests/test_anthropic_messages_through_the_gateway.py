"""POST /v1/messages: the anthropic SDK's messages.create works through the gateway, streamed or
not, with Anthropic's shapes in and out; it fails over between Anthropic- and OpenAI-format
deployments, and is priced, counted in the ledger and traced like chat."""

from __future__ import annotations

import anthropic
import httpx
import pytest

from tests.conftest import ConfigFactory, Providers
from tests.endpoint_support import attribute, endpoint_gateway, ledger, observations, spans

pytestmark = pytest.mark.usefixtures("fresh_langfuse")
HELLO = [{"role": "user", "content": "Hello there"}]
# Anthropic first, OpenAI's format as its fallback.
CLAUDE_FIRST = """
router_settings:
  fallbacks: [{anthropic-only: [openai-only]}]
"""
WEATHER = {
    "name": "get_weather",
    "description": "Weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def client(gateway, key: str = "x") -> anthropic.Anthropic:  # type: ignore[no-untyped-def]
    return anthropic.Anthropic(base_url=gateway.base_url, api_key=key, max_retries=0)


def test_a_message_fails_over_and_is_priced_counted_and_traced(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    providers.anthropic.set_mode("500")
    gateway, exporter = endpoint_gateway(make_config, serve, CLAUDE_FIRST)
    with client(gateway) as sdk:
        raw = sdk.messages.with_raw_response.create(
            model="anthropic-only", max_tokens=100, messages=HELLO, system="Be brief."
        )
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "text"
    assert message.content[0].text == "fake reply to: Hello there"
    assert message.stop_reason == "end_turn"
    assert raw.headers["x-router-provider"] == "openai"  # an OpenAI-format fallback answered
    assert message.model == "gpt-4o-2024-08-06"
    sent = providers.openai.last_request()["body"]
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    cost = message.usage.input_tokens * 0.0000025 + message.usage.output_tokens * 0.00001
    assert float(raw.headers["x-router-cost-usd"]) == pytest.approx(cost, abs=1e-9)
    assert ledger(gateway)["deployments"]["openai-only.openai.0"] == pytest.approx(cost, abs=1e-9)
    traced = spans(gateway, exporter)
    (failed,) = observations(traced, "llm:anthropic")
    (served,) = observations(traced, "llm:openai")
    assert (attribute(failed, "level"), attribute(served, "level")) == ("ERROR", "DEFAULT")
    assert attribute(served, "cost_details")["total"] == pytest.approx(cost, abs=1e-9)
    assert "api:messages" in served.attributes["langfuse.trace.tags"]


def test_a_streamed_message_fails_over_before_its_first_event(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    providers.openai.set_mode("hang")
    gateway, exporter = endpoint_gateway(make_config, serve)
    with (
        client(gateway) as sdk,
        sdk.messages.stream(model="chat", max_tokens=100, messages=HELLO) as stream,
    ):
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "fake reply to: Hello there"
    assert final.model == "claude-3-5-sonnet-20241022"  # the version that served it
    assert final.usage.output_tokens > 0
    assert providers.anthropic.stats()["requests"] == 1
    report = ledger(gateway)
    assert report["deployments"]["anthropic-fallback"] > 0
    (served,) = observations(spans(gateway, exporter), "llm:anthropic")
    assert attribute(served, "usage_details")["output"] == final.usage.output_tokens


def test_tool_use_round_trips_in_anthropics_shape_over_an_openai_deployment(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway, _ = endpoint_gateway(make_config, serve)
    with client(gateway) as sdk:
        first = sdk.messages.create(
            model="openai-only", max_tokens=100, messages=HELLO, tools=[WEATHER]
        )
        (use,) = [block for block in first.content if block.type == "tool_use"]
        assert use.name == "get_weather" and first.stop_reason == "tool_use"
        second = sdk.messages.create(
            model="openai-only",
            max_tokens=100,
            tools=[WEATHER],
            messages=[
                *HELLO,
                {"role": "assistant", "content": [use.model_dump()]},
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sun"}],
                },
            ],
        )
    roles = [m["role"] for m in providers.openai.last_request()["body"]["messages"]]
    assert roles == ["user", "assistant", "tool"]
    assert second.content[0].type == "text"


def test_errors_are_anthropic_shaped_and_read_by_the_sdk(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    for fake in (providers.openai, providers.anthropic, providers.local):
        fake.set_mode("503")
    gateway, _ = endpoint_gateway(make_config, serve)
    with client(gateway) as sdk:
        with pytest.raises(anthropic.InternalServerError) as failed:
            sdk.messages.create(model="chat", max_tokens=10, messages=HELLO)
        assert failed.value.body["type"] == "error"  # type: ignore[index]
        assert failed.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
        with pytest.raises(anthropic.NotFoundError, match="does not exist"):
            sdk.messages.create(model="nope", max_tokens=10, messages=HELLO)
        with pytest.raises(anthropic.BadRequestError, match="max_tokens"):
            sdk.messages.create(model="chat", max_tokens=0, messages=HELLO)


def test_the_anthropic_sdk_authenticates_with_its_own_header(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    keys = "  client_keys:\n    - {team: search, key: sk-search-1}\n"
    gateway, _ = endpoint_gateway(make_config, serve, keys)
    with client(gateway, "sk-search-1") as sdk:
        assert sdk.messages.create(model="chat", max_tokens=10, messages=HELLO).content
    with client(gateway, "sk-wrong") as sdk, pytest.raises(anthropic.AuthenticationError):
        sdk.messages.create(model="chat", max_tokens=10, messages=HELLO)
    raw = httpx.post(f"{gateway.base_url}/v1/messages", json={"model": "chat"}, timeout=5)
    assert raw.status_code == 401 and raw.json()["type"] == "error"


def test_a_stream_that_breaks_after_its_first_token_ends_with_an_error_event(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    providers.openai.set_mode("break:2")
    gateway, _ = endpoint_gateway(make_config, serve)
    received: list[str] = []
    with (
        client(gateway) as sdk,
        pytest.raises(anthropic.APIStatusError, match="failed after the stream started"),
        sdk.messages.stream(model="openai-only", max_tokens=100, messages=HELLO) as stream,
    ):
        received.extend(stream.text_stream)
    assert "".join(received).startswith("fake")  # the caller saw the start, then an error
    assert providers.anthropic.stats()["requests"] == 0


def test_count_tokens_counts_the_prompt_without_calling_a_provider(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway, _ = endpoint_gateway(make_config, serve)
    with client(gateway) as sdk:
        short = sdk.messages.count_tokens(model="chat", messages=HELLO)
        longer = sdk.messages.count_tokens(
            model="chat", messages=HELLO, system="You are a careful assistant.", tools=[WEATHER]
        )
        with pytest.raises(anthropic.NotFoundError):
            sdk.messages.count_tokens(model="embed", messages=HELLO)
    assert 0 < short.input_tokens < longer.input_tokens
    assert providers.openai.stats()["requests"] == providers.anthropic.stats()["requests"] == 0


def test_a_client_that_leaves_a_stream_ends_the_request_and_it_is_paid_for(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    from tests.failover_support import wait_for

    providers.openai.set_mode("stall:4000")  # the provider pauses after its first token
    gateway, _ = endpoint_gateway(make_config, serve)
    live = gateway.app.state.live
    body = {"model": "openai-only", "max_tokens": 50, "messages": HELLO, "stream": True}
    with (
        httpx.Client(timeout=10) as http,
        http.stream("POST", f"{gateway.base_url}/v1/messages", json=body) as reply,
    ):
        assert next(reply.iter_lines()).startswith("event: message_start")
        assert live.current.inflight == 1
    assert wait_for(lambda: live.current.inflight == 0, seconds=2)  # over at once, not in 4 s
    assert ledger(gateway)["deployments"]["openai-only.openai.0"] > 0  # what it generated
