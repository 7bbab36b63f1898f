"""POST /v1/embeddings: the openai SDK's embeddings.create works through the gateway, fails over,
is priced, counted in the ledger and traced, and never crosses with chat deployments."""

from __future__ import annotations

import base64
import struct

import httpx
import openai
import pytest

from tests.conftest import ConfigFactory, Providers
from tests.endpoint_support import (
    ENDPOINT_CONFIG,
    attribute,
    endpoint_gateway,
    ledger,
    observations,
    spans,
)

SMALL = 2e-8  # USD per token of text-embedding-3-small in LiteLLM's price map

pytestmark = pytest.mark.usefixtures("fresh_langfuse")


def client(gateway) -> openai.OpenAI:  # type: ignore[no-untyped-def]
    return openai.OpenAI(base_url=gateway.openai_base, api_key="x", max_retries=0)


def test_a_list_of_texts_gets_one_vector_each_priced_and_counted(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway, exporter = endpoint_gateway(make_config, serve)
    raw = client(gateway).embeddings.with_raw_response.create(
        model="embed", input=["the quick brown fox", "jumps over"], dimensions=16
    )
    answer = raw.parse()
    assert [len(item.embedding) for item in answer.data] == [16, 16]
    assert answer.model == "text-embedding-3-small"
    assert raw.headers["x-router-deployment"] == "embed-primary"
    tokens = answer.usage.prompt_tokens
    assert tokens > 0
    assert float(raw.headers["x-router-cost-usd"]) == round(tokens * SMALL, 9)
    assert ledger(gateway)["groups"]["embed"] == round(tokens * SMALL, 9)
    (embedding,) = observations(spans(gateway, exporter), "llm:openai")
    assert attribute(embedding, "type") == "embedding"
    assert attribute(embedding, "usage_details")["input"] == tokens
    assert attribute(embedding, "cost_details")["total"] == tokens * SMALL


def test_a_failing_primary_is_answered_by_the_fallback_and_both_are_traced(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    providers.openai.set_mode("500")
    gateway, exporter = endpoint_gateway(make_config, serve)
    raw = client(gateway).embeddings.with_raw_response.create(model="embed", input="hello")
    assert raw.headers["x-router-deployment"] == "embed-fallback"
    assert raw.headers["x-router-attempts"] == "2"
    tokens = raw.parse().usage.prompt_tokens
    assert float(raw.headers["x-router-cost-usd"]) == round(tokens * SMALL, 9)
    report = ledger(gateway)
    assert report["deployments"] == {
        "embed-primary": 0.0,
        "embed-fallback": round(tokens * SMALL, 9),
    }
    traced = spans(gateway, exporter)
    assert len(observations(traced, "embed")) == 1  # one trace, named after the group
    failed, served = sorted(observations(traced, "llm:openai"), key=lambda s: s.start_time)
    assert (attribute(failed, "level"), attribute(served, "level")) == ("ERROR", "DEFAULT")
    assert served.attributes["langfuse.observation.metadata.deployment"] == '"embed-fallback"'
    assert attribute(served, "cost_details")["total"] == tokens * SMALL


def test_a_hung_primary_is_left_at_its_first_token_limit(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    providers.openai.set_mode("hang")
    gateway, _ = endpoint_gateway(make_config, serve)
    raw = client(gateway).embeddings.with_raw_response.create(model="embed", input="hello")
    assert raw.headers["x-router-deployment"] == "embed-fallback"
    assert providers.local.stats()["by_path"] == {"/v1/embeddings": 1}


def test_base64_vectors_decode_to_the_float_ones(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway, _ = endpoint_gateway(make_config, serve)
    floats = client(gateway).embeddings.create(model="embed", input="same text", dimensions=8)
    raw = httpx.post(
        f"{gateway.openai_base}/embeddings",
        json={"model": "embed", "input": "same text", "dimensions": 8, "encoding_format": "base64"},
        timeout=10,
    ).json()
    packed = base64.b64decode(raw["data"][0]["embedding"])
    decoded = struct.unpack(f"<{len(packed) // 4}f", packed)
    # The SDK itself asks for base64 and decodes it, so both are the same float32 values.
    assert list(decoded) == floats.data[0].embedding
    assert len(decoded) == 8


def test_token_arrays_are_embedded_and_counted_by_their_length(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway, _ = endpoint_gateway(make_config, serve)
    answer = client(gateway).embeddings.create(model="embed", input=[[1, 2, 3], [4, 5]])
    assert len(answer.data) == 2
    assert answer.usage.prompt_tokens == 5
    assert providers.openai.last_request()["body"]["input"] == [[1, 2, 3], [4, 5]]


def test_chat_and_embedding_models_never_get_each_others_requests(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway, _ = endpoint_gateway(make_config, serve)
    with client(gateway) as sdk:
        try:
            sdk.embeddings.create(model="chat", input="hi")
        except openai.NotFoundError as exc:
            assert "POST /v1/chat/completions" in str(exc)
        else:
            raise AssertionError("a chat model answered an embeddings request")
        try:
            sdk.chat.completions.create(model="embed", messages=[{"role": "user", "content": "x"}])
        except openai.NotFoundError:
            pass
        else:
            raise AssertionError("an embedding model answered a chat request")
    assert providers.openai.stats()["requests"] == 0


def test_default_fallbacks_of_another_kind_are_never_planned(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    providers.openai.set_mode("500")
    providers.local.set_mode("500")
    gateway, _ = endpoint_gateway(
        make_config, serve, "router_settings:\n  default_fallbacks: [chat]\n"
    )
    response = httpx.post(
        f"{gateway.openai_base}/embeddings", json={"model": "embed", "input": "x"}, timeout=10
    )
    assert response.status_code == 503
    assert providers.anthropic.stats()["requests"] == 0  # chat's fallback, never tried
    message = response.json()["error"]["message"]
    assert "embed-primary" in message and "embed-fallback" in message


def test_an_empty_or_invalid_input_is_refused_before_any_provider(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway, _ = endpoint_gateway(make_config, serve)
    url = f"{gateway.openai_base}/embeddings"
    for body, param in (
        ({"model": "embed", "input": ""}, "input"),
        ({"model": "embed", "input": []}, "input"),
        ({"model": "embed", "input": "x", "encoding_format": "int8"}, "encoding_format"),
        ({"model": "embed", "input": "x", "api_base": "http://evil"}, "api_base"),
    ):
        response = httpx.post(url, json=body, timeout=10)
        assert response.status_code == 400, body
        assert response.json()["error"]["param"].startswith(param)
    assert providers.openai.stats()["requests"] == 0


def test_repeated_embeddings_are_answered_from_the_cache(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway, _ = endpoint_gateway(make_config, serve)
    first = client(gateway).embeddings.with_raw_response.create(model="embed", input="cached")
    second = client(gateway).embeddings.with_raw_response.create(model="embed", input="cached")
    assert (first.headers["x-router-cache"], second.headers["x-router-cache"]) == ("miss", "hit")
    assert second.parse().data[0].embedding == first.parse().data[0].embedding
    assert providers.openai.stats()["requests"] == 1


def test_a_fallback_to_another_embedding_model_is_warned_about(make_config: ConfigFactory) -> None:
    text = ENDPOINT_CONFIG.replace(
        "      model: openai/text-embedding-3-small\n      api_base: os.environ/LOCAL_BASE",
        "      model: openai/text-embedding-3-large\n      api_base: os.environ/LOCAL_BASE",
    )
    assert text != ENDPOINT_CONFIG
    warned = [w for w in make_config(text=text).warnings if "embedding group 'embed'" in w]
    assert len(warned) == 1
    assert "text-embedding-3-large, text-embedding-3-small" in warned[0]
    assert not [w for w in make_config(text=ENDPOINT_CONFIG).warnings if "embedding group" in w]
