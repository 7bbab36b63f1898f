"""POST /v1/completions: the openai SDK's completions.create works through the gateway, streamed
or not, fails over, is priced, counted in the ledger and traced; completion models get the
prompt itself, chat models LiteLLM's translation of it."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.conftest import ConfigFactory, Providers
from tests.endpoint_support import attribute, endpoint_gateway, ledger, observations, spans

pytestmark = pytest.mark.usefixtures("fresh_langfuse")
# A completion model on the "local" fake: LiteLLM calls /completions for it.
INSTRUCT = """
  - model_name: instruct
    litellm_params:
      model: text-completion-openai/gpt-3.5-turbo-instruct
      api_base: os.environ/LOCAL_BASE
      api_key: os.environ/OPENAI_API_KEY
    model_info:
      id: instruct-only
      input_cost_per_token: 0.0000015
      output_cost_per_token: 0.000002
"""


def client(gateway) -> openai.OpenAI:  # type: ignore[no-untyped-def]
    return openai.OpenAI(base_url=gateway.openai_base, api_key="x", max_retries=0)


def test_a_completion_fails_over_and_is_priced_counted_and_traced(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    providers.openai.set_mode("500")
    gateway, exporter = endpoint_gateway(make_config, serve)
    raw = client(gateway).completions.with_raw_response.create(
        model="chat", prompt="Say hello", max_tokens=20
    )
    completion = raw.parse()
    assert completion.object == "text_completion"
    assert completion.choices[0].text == "fake reply to: Say hello"
    assert raw.headers["x-router-deployment"] == "anthropic-fallback"
    usage = completion.usage
    assert usage is not None
    cost = usage.prompt_tokens * 0.000003 + usage.completion_tokens * 0.000015
    assert float(raw.headers["x-router-cost-usd"]) == pytest.approx(cost, abs=1e-9)
    assert ledger(gateway)["deployments"]["anthropic-fallback"] == pytest.approx(cost, abs=1e-9)
    traced = spans(gateway, exporter)
    (failed,) = observations(traced, "llm:openai")
    (served,) = observations(traced, "llm:anthropic")
    assert (attribute(failed, "level"), attribute(served, "level")) == ("ERROR", "DEFAULT")
    assert attribute(served, "cost_details")["total"] == pytest.approx(cost, abs=1e-9)
    assert "api:completions" in served.attributes["langfuse.trace.tags"]


def test_a_streamed_completion_fails_over_before_its_first_token(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    providers.openai.set_mode("hang")
    gateway, exporter = endpoint_gateway(make_config, serve)
    with client(gateway).completions.with_streaming_response.create(
        model="chat", prompt="Say hello", stream=True, stream_options={"include_usage": True}
    ) as response:
        assert response.headers["x-router-deployment"] == "anthropic-fallback"
        chunks = list(response.parse())
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == "fake reply to: Say hello"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert all(c.object == "text_completion" for c in chunks)
    report = ledger(gateway)
    assert report["deployments"]["anthropic-fallback"] > 0
    (served,) = observations(spans(gateway, exporter), "llm:anthropic")
    assert attribute(served, "usage_details")["output"] == chunks[-1].usage.completion_tokens


def test_a_completion_model_gets_the_prompt_itself_with_every_choice(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway, _ = endpoint_gateway(make_config, serve, models=INSTRUCT)
    answer = client(gateway).completions.create(
        model="instruct", prompt=["first", "second"], n=2, logprobs=1, echo=True, max_tokens=10
    )
    sent = providers.local.last_request()
    assert sent["body"]["prompt"] == ["first", "second"]  # /completions, not chat
    assert providers.local.stats()["by_path"] == {"/v1/completions": 1}
    assert [c.index for c in answer.choices] == [0, 1, 2, 3]  # 2 prompts x n=2, all kept
    assert answer.choices[0].text.startswith("first")  # echoed
    assert answer.choices[0].logprobs is not None


def test_a_chat_model_gets_the_prompt_as_a_user_message(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway, _ = endpoint_gateway(make_config, serve)
    client(gateway).completions.create(model="openai-only", prompt="Once upon a time")
    body = providers.openai.last_request()["body"]
    assert body["messages"] == [{"role": "user", "content": "Once upon a time"}]


def test_a_bad_completion_request_is_refused_naming_the_parameter(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway, _ = endpoint_gateway(make_config, serve)
    url = f"{gateway.openai_base}/completions"
    for body, param in (
        ({"model": "chat"}, "prompt"),
        ({"model": "chat", "prompt": "x", "logprobs": 9}, "logprobs"),
        ({"model": "chat", "prompt": "x", "messages": []}, "messages"),
        ({"model": "embed", "prompt": "x"}, "model"),
    ):
        response = httpx.post(url, json=body, timeout=10)
        assert response.status_code in (400, 404), body
        assert response.json()["error"]["param"] == param
    assert providers.openai.stats()["requests"] == 0
