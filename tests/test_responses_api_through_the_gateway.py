"""POST /v1/responses: the openai SDK's responses.create works through the gateway, streamed or
not, fails over across providers, is priced, counted and traced; previous_response_id continues
a conversation from responses stored per team; tools, reasoning and text formats translate."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.conftest import ConfigFactory, Providers
from tests.endpoint_support import attribute, endpoint_gateway, ledger, observations, spans

pytestmark = pytest.mark.usefixtures("fresh_langfuse")
KEYS = """
  client_keys:
    - {team: search, key: sk-search-1}
    - {team: support, key: sk-support-1}
"""
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def client(gateway, key: str = "x") -> openai.OpenAI:  # type: ignore[no-untyped-def]
    """An SDK client; tests close it (with) so no connection outlives the test."""
    return openai.OpenAI(base_url=gateway.openai_base, api_key=key, max_retries=0)


def test_a_response_fails_over_and_is_priced_counted_and_traced(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    providers.openai.set_mode("500")
    gateway, exporter = endpoint_gateway(make_config, serve)
    raw = client(gateway).responses.with_raw_response.create(
        model="chat", input="Hello there", instructions="Be brief."
    )
    response = raw.parse()
    assert response.object == "response" and response.status == "completed"
    assert response.output_text == "fake reply to: Hello there"
    assert response.id.startswith("resp_")
    assert raw.headers["x-router-deployment"] == "anthropic-fallback"
    assert response.model == "claude-3-5-sonnet-20241022"
    usage = response.usage
    assert usage is not None
    cost = usage.input_tokens * 0.000003 + usage.output_tokens * 0.000015
    assert float(raw.headers["x-router-cost-usd"]) == pytest.approx(cost, abs=1e-9)
    assert ledger(gateway)["groups"]["chat"] == pytest.approx(cost, abs=1e-9)
    sent = providers.anthropic.last_request()["body"]
    assert (
        sent["system"] == [{"type": "text", "text": "Be brief."}] or sent["system"] == "Be brief."
    )
    traced = spans(gateway, exporter)
    (failed,) = observations(traced, "llm:openai")
    (served,) = observations(traced, "llm:anthropic")
    assert (attribute(failed, "level"), attribute(served, "level")) == ("ERROR", "DEFAULT")
    assert attribute(served, "cost_details")["total"] == pytest.approx(cost, abs=1e-9)
    assert "api:responses" in served.attributes["langfuse.trace.tags"]


def test_a_streamed_response_fails_over_before_its_first_event(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    providers.openai.set_mode("hang")
    gateway, exporter = endpoint_gateway(make_config, serve)
    with client(gateway).responses.with_streaming_response.create(
        model="chat", input="Hello there", stream=True
    ) as raw:
        assert raw.headers["x-router-deployment"] == "anthropic-fallback"
        events = list(raw.parse())
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == "fake reply to: Hello there"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    completed = events[-1].response
    assert completed.usage is not None and completed.usage.output_tokens > 0
    assert len({e.response.id for e in events if hasattr(e, "response")}) == 1
    assert ledger(gateway)["deployments"]["anthropic-fallback"] > 0
    (served,) = observations(spans(gateway, exporter), "llm:anthropic")
    assert attribute(served, "usage_details")["output"] == completed.usage.output_tokens


def test_previous_response_id_continues_the_conversation_on_any_provider(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway, _ = endpoint_gateway(make_config, serve)
    sdk = client(gateway)
    first = sdk.responses.create(model="chat", input="My name is Ann.", instructions="Be kind.")
    providers.openai.set_mode("500")  # the next turn is served by another provider
    second = sdk.responses.create(
        model="chat", input="What is my name?", previous_response_id=first.id
    )
    assert second.previous_response_id == first.id
    sent = providers.anthropic.last_request()["body"]
    said = json.dumps(sent["messages"])
    assert "My name is Ann." in said and first.output_text in said and "What is my name?" in said
    assert "Be kind." not in json.dumps(sent.get("system", ""))  # instructions are not carried
    providers.openai.set_mode(None)
    with sdk.responses.stream(model="chat", input="Again?", previous_response_id=second.id) as s:
        third = s.get_final_response()
    assert "What is my name?" in json.dumps(providers.anthropic.last_request()["body"])
    assert sdk.responses.retrieve(third.id).output_text == third.output_text


def test_stored_responses_belong_to_their_team(
    make_config: ConfigFactory, serve, providers: Providers, redis_url: str
) -> None:
    extra = f"router_settings:\n  redis_url: {redis_url}\n"
    gateway, _ = endpoint_gateway(make_config, serve, KEYS + extra)
    mine = client(gateway, "sk-search-1").responses.create(model="chat", input="secret plan")
    other = client(gateway, "sk-support-1")
    with pytest.raises(openai.NotFoundError, match="not found"):
        other.responses.create(model="chat", input="and?", previous_response_id=mine.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(mine.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.delete(mine.id)
    owner = client(gateway, "sk-search-1")
    assert owner.responses.retrieve(mine.id).id == mine.id
    owner.responses.delete(mine.id)
    with pytest.raises(openai.NotFoundError):
        owner.responses.retrieve(mine.id)


def test_a_response_asked_not_to_be_stored_cannot_be_continued(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway, _ = endpoint_gateway(make_config, serve)
    sdk = client(gateway)
    unstored = sdk.responses.create(model="chat", input="hi", store=False)
    assert unstored.store is False
    with pytest.raises(openai.NotFoundError):
        sdk.responses.create(model="chat", input="and?", previous_response_id=unstored.id)


def test_function_tools_round_trip_through_a_function_call_output(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway, _ = endpoint_gateway(make_config, serve)
    sdk = client(gateway)
    first = sdk.responses.create(model="chat", input="Weather in Paris?", tools=[WEATHER])
    (call,) = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather"
    sent = providers.openai.last_request()["body"]
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    second = sdk.responses.create(
        model="chat",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
        tools=[WEATHER],
    )
    roles = [m["role"] for m in providers.openai.last_request()["body"]["messages"]]
    assert roles == ["user", "assistant", "tool"]
    assert second.output_text.startswith("fake reply")


THINKER = """
  - model_name: thinker
    litellm_params:
      model: anthropic/claude-3-7-sonnet-20250219
      api_base: os.environ/ANTHROPIC_BASE
      api_key: os.environ/ANTHROPIC_API_KEY
    model_info: {id: thinker-only}
"""


def test_reasoning_and_a_json_format_are_translated_for_the_provider(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway, _ = endpoint_gateway(make_config, serve, models=THINKER)
    with client(gateway) as sdk:
        sdk.responses.create(
            model="thinker",
            input="Think, then answer.",
            reasoning={"effort": "low"},
            max_output_tokens=4096,
        )
        sent = providers.anthropic.last_request()["body"]
        assert sent["max_tokens"] == 4096
        assert sent["thinking"]["type"] == "enabled"  # effort became Anthropic's thinking
        sdk.responses.create(
            model="openai-only",
            input="Answer in JSON.",
            text={"format": {"type": "json_object"}},
        )
    assert providers.openai.last_request()["body"]["response_format"] == {"type": "json_object"}


def test_what_the_gateway_cannot_do_is_refused_by_name(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway, _ = endpoint_gateway(make_config, serve)
    url = f"{gateway.openai_base}/responses"
    for body, param in (
        ({"model": "chat", "input": "x", "background": True}, "background"),
        ({"model": "chat", "input": "x", "tools": [{"type": "file_search"}]}, "tools"),
        ({"model": "chat", "input": "x", "conversation": "conv_1"}, "conversation"),
        ({"model": "chat", "input": ""}, "input"),
    ):
        response = httpx.post(url, json=body, timeout=10)
        assert response.status_code == 400, body
        assert response.json()["error"]["param"].startswith(param)
    assert providers.openai.stats()["requests"] == 0


def test_a_stream_that_breaks_after_its_first_token_ends_with_an_error_event(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    providers.openai.set_mode("break:2")
    gateway, _ = endpoint_gateway(make_config, serve)
    kinds: list[str] = []
    with (
        client(gateway) as sdk,
        pytest.raises(openai.APIError, match="failed after the stream started"),
    ):
        for event in sdk.responses.create(model="openai-only", input="hi", stream=True):
            kinds.append(event.type)
    assert "response.output_text.delta" in kinds and "response.completed" not in kinds


def test_a_gateway_told_to_keep_no_responses_refuses_previous_response_id(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway, _ = endpoint_gateway(make_config, serve, "  responses: {store: false}\n")
    with client(gateway) as sdk:
        first = sdk.responses.create(model="chat", input="hi")
        assert first.store is False
        with pytest.raises(openai.BadRequestError, match="keeps no responses"):
            sdk.responses.create(model="chat", input="and?", previous_response_id=first.id)
        with pytest.raises(openai.NotFoundError):
            sdk.responses.retrieve(first.id)
