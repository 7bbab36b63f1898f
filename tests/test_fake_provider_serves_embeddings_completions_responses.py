"""The fake provider serves embeddings, legacy completions and the Responses API, read by the
openai SDK, with the same fault and latency modes as chat."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from router_config.testing import FakeProviderServer


@pytest.fixture(scope="module")
def fake():  # type: ignore[no-untyped-def]
    with FakeProviderServer() as server:
        yield server


@pytest.fixture
def sdk(fake):  # type: ignore[no-untyped-def]
    fake.reset()
    with openai.OpenAI(base_url=fake.openai_base, api_key="x", max_retries=0) as client:
        yield client


def test_embeddings_are_deterministic_unit_vectors_of_the_asked_size(sdk) -> None:  # type: ignore[no-untyped-def]
    first = sdk.embeddings.create(model="text-embedding-3-small", input=["a", "b"], dimensions=32)
    again = sdk.embeddings.create(model="text-embedding-3-small", input="a", dimensions=32)
    assert [len(d.embedding) for d in first.data] == [32, 32]
    assert first.data[0].embedding == again.data[0].embedding != first.data[1].embedding
    assert abs(sum(x * x for x in first.data[0].embedding) - 1) < 1e-3
    assert first.usage.prompt_tokens == first.usage.total_tokens > 0


def test_base64_embeddings_carry_the_same_vector(fake) -> None:  # type: ignore[no-untyped-def]
    import base64
    import struct

    def embed(fmt: str) -> object:
        body = {"model": "m", "input": "text", "dimensions": 4, "encoding_format": fmt}
        reply = httpx.post(f"{fake.openai_base}/embeddings", json=body, timeout=5)
        return reply.json()["data"][0]["embedding"]

    floats, packed = embed("float"), embed("base64")
    assert isinstance(packed, str)
    unpacked = struct.unpack("<4f", base64.b64decode(packed))
    assert [round(x, 6) for x in unpacked] == floats


def test_a_completion_streams_and_answers_whole_alike(sdk) -> None:  # type: ignore[no-untyped-def]
    whole = sdk.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say hi", max_tokens=10)
    chunks = list(
        sdk.completions.create(
            model="gpt-3.5-turbo-instruct",
            prompt="Say hi",
            max_tokens=10,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    streamed = "".join(c.choices[0].text for c in chunks if c.choices)
    assert streamed == whole.choices[0].text == "fake reply to: Say hi"
    assert chunks[-1].usage == whole.usage


def test_a_response_streams_openais_event_sequence(sdk) -> None:  # type: ignore[no-untyped-def]
    whole = sdk.responses.create(model="gpt-4o", input="hello there")
    events = list(sdk.responses.create(model="gpt-4o", input="hello there", stream=True))
    kinds = [e.type for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-3:] == [
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[-1].response.output_text == whole.output_text == "fake reply to: hello there"


def test_a_response_calls_the_requests_function_tool(sdk) -> None:  # type: ignore[no-untyped-def]
    tool = {"type": "function", "name": "lookup", "parameters": {"type": "object"}}
    response = sdk.responses.create(model="gpt-4o", input="find it", tools=[tool])
    (call,) = response.output
    assert (call.type, call.name) == ("function_call", "lookup")


@pytest.mark.parametrize("path", ["embeddings", "completions", "responses"])
@pytest.mark.parametrize("mode", ["500", "429:3", "401", "garbage"])
def test_fault_modes_apply_to_every_path(fake, path: str, mode: str) -> None:  # type: ignore[no-untyped-def]
    body = {"model": "m", "input": "x", "prompt": "x"}
    reply = httpx.post(
        f"{fake.openai_base}/{path}", json=body, headers={"x-fake-mode": mode}, timeout=5
    )
    expected = {"500": 500, "429:3": 429, "401": 401, "garbage": 200}[mode]
    assert reply.status_code == expected
    if mode == "429:3":
        assert reply.headers["retry-after"] == "3"
    if mode == "garbage":
        with pytest.raises(ValueError):
            reply.json()


@pytest.mark.parametrize("path", ["embeddings", "completions", "responses"])
def test_a_hung_provider_never_answers_on_any_path(fake, path: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{fake.openai_base}/{path}",
            json={"model": "m", "input": "x", "prompt": "x"},
            headers={"x-fake-mode": "hang"},
            timeout=httpx.Timeout(1, read=0.3),
        )


def test_latency_mode_delays_an_embedding_by_its_time_to_first_token(fake) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    reply = httpx.post(
        f"{fake.openai_base}/embeddings",
        json={"model": "m", "input": "x"},
        headers={"x-fake-mode": "latency:ttft=200"},
        timeout=5,
    )
    assert reply.status_code == 200
    assert time.monotonic() - started >= 0.2  # not before its latency (a lower bound only)


@pytest.mark.parametrize("path", ["completions", "responses"])
def test_a_stream_breaks_after_n_tokens_on_every_streaming_path(fake, path: str) -> None:  # type: ignore[no-untyped-def]
    events = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream(
            "POST",
            f"{fake.openai_base}/{path}",
            json={"model": "m", "input": "x", "prompt": "x", "stream": True},
            headers={"x-fake-mode": "break:2"},
            timeout=5,
        ) as reply,
    ):
        events.extend(line for line in reply.iter_lines() if line.startswith("data:"))
    assert events  # some arrived before the connection dropped
