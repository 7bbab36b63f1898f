"""The fake provider speaks OpenAI's and Anthropic's APIs and injects the faults tests need."""

from __future__ import annotations

import httpx
import openai
import pytest

from router_config.testing import FakeProviderServer

HI = [{"role": "user", "content": "hello there"}]


@pytest.fixture(scope="module")
def fake():  # type: ignore[no-untyped-def]
    with FakeProviderServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _reset(fake) -> None:  # type: ignore[no-untyped-def]
    fake.reset()


def post(fake, path: str, body: dict, **headers: str) -> httpx.Response:  # type: ignore[no-untyped-def, type-arg]
    return httpx.post(f"{fake.base_url}{path}", json=body, headers=headers, timeout=5)


def test_openai_shape_has_realistic_usage_and_the_requested_model(fake) -> None:  # type: ignore[no-untyped-def]
    with openai.OpenAI(base_url=fake.openai_base, api_key="x", max_retries=0) as client:
        completion = client.chat.completions.create(model="gpt-4o-2024-08-06", messages=HI)
    assert completion.model == "gpt-4o-2024-08-06"
    assert completion.choices[0].message.content == "fake reply to: hello there"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 3 + 3 and completion.usage.completion_tokens == 5


def test_cached_and_reasoning_tokens_are_reported_when_asked(fake) -> None:  # type: ignore[no-untyped-def]
    body = post(
        fake,
        "/v1/chat/completions",
        {"model": "m", "messages": HI},
        **{"x-fake-cached-tokens": "4", "x-fake-reasoning-tokens": "7"},
    ).json()
    assert body["usage"]["prompt_tokens_details"] == {"cached_tokens": 4}
    assert body["usage"]["completion_tokens_details"] == {"reasoning_tokens": 7}
    assert body["usage"]["completion_tokens"] == 5 + 7


def test_anthropic_shape_reports_input_and_output_tokens(fake) -> None:  # type: ignore[no-untyped-def]
    body = post(
        fake,
        "/v1/messages",
        {"model": "claude-3-5-sonnet-20241022", "messages": HI, "max_tokens": 100},
    ).json()
    assert body["type"] == "message" and body["content"][0]["text"].startswith("fake reply")
    assert body["usage"]["input_tokens"] == 6 and body["usage"]["output_tokens"] == 5


def test_anthropic_stream_sends_named_events_in_order(fake) -> None:  # type: ignore[no-untyped-def]
    with httpx.stream(
        "POST",
        f"{fake.base_url}/v1/messages",
        timeout=5,
        json={"model": "c", "messages": HI, "max_tokens": 100, "stream": True},
    ) as response:
        events = [line[7:] for line in response.iter_lines() if line.startswith("event: ")]
    assert events[0] == "message_start" and events[-1] == "message_stop"
    assert "content_block_delta" in events and "message_delta" in events


def test_429_mode_sends_retry_after_header(fake) -> None:  # type: ignore[no-untyped-def]
    response = post(fake, "/v1/chat/completions", {"model": "m~429:20", "messages": HI})
    assert response.status_code == 429 and response.headers["retry-after"] == "20"


def test_context_mode_is_a_400_context_length_error(fake) -> None:  # type: ignore[no-untyped-def]
    response = post(
        fake, "/v1/chat/completions", {"model": "m", "messages": HI}, **{"x-fake-mode": "context"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "context_length_exceeded"


def test_garbage_mode_answers_200_with_a_body_that_is_not_json(fake) -> None:  # type: ignore[no-untyped-def]
    response = post(fake, "/v1/chat/completions", {"model": "m~garbage", "messages": HI})
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


def test_break_mode_drops_the_stream_after_n_chunks(fake) -> None:  # type: ignore[no-untyped-def]
    with (
        openai.OpenAI(base_url=fake.openai_base, api_key="x", max_retries=0) as client,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        list(client.chat.completions.create(model="m~break:2", messages=HI, stream=True))


def test_hang_mode_never_answers(fake) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{fake.openai_base}/chat/completions",
            timeout=0.3,
            json={"model": "m~hang", "messages": HI},
        )


def test_control_endpoint_sets_a_mode_and_a_drifted_model_until_reset(fake) -> None:  # type: ignore[no-untyped-def]
    httpx.post(f"{fake.base_url}/_fake/control", json={"mode": "503"})
    assert post(fake, "/v1/chat/completions", {"model": "m", "messages": HI}).status_code == 503
    httpx.post(
        f"{fake.base_url}/_fake/control", json={"mode": None, "served_model": "gpt-4o-2024-11-20"}
    )
    body = post(fake, "/v1/chat/completions", {"model": "gpt-4o-2024-08-06", "messages": HI})
    assert body.json()["model"] == "gpt-4o-2024-11-20"
    stats = httpx.get(f"{fake.base_url}/_fake/stats").json()
    assert stats["requests"] == 2 and stats["by_mode"] == {"503": 1, "ok": 1}
    httpx.post(f"{fake.base_url}/_fake/reset")
    assert httpx.get(f"{fake.base_url}/_fake/stats").json()["requests"] == 0


def _sse(fake, body: dict, mode: str) -> list[tuple[float, dict]]:  # type: ignore[no-untyped-def, type-arg]
    """Each chunk of an OpenAI stream with the seconds since the request was sent."""
    import time

    out = []
    started = time.monotonic()
    with httpx.stream(
        "POST",
        f"{fake.openai_base}/chat/completions",
        json={**body, "stream": True},
        headers={"x-fake-mode": mode},
        timeout=10,
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: {"):
                out.append((time.monotonic() - started, __import__("json").loads(line[6:])))
    return out


def test_latency_mode_waits_for_the_first_token_then_streams_at_its_rate(fake) -> None:  # type: ignore[no-untyped-def]
    chunks = _sse(fake, {"model": "m", "messages": HI}, "latency:ttft=300,tps=50,tokens=10")
    contents = [
        (t, c) for t, c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")
    ]
    assert len(contents) == 10
    assert contents[0][0] >= 0.3  # nothing before the time to first token
    # 50 tokens a second after it; measured from the start, since a loaded client may read
    # the first chunk late and the rest in a burst.
    assert contents[-1][0] >= 0.3 + 9 * 0.02


def test_latency_mode_can_send_the_role_chunk_first_and_hang_after_n_tokens(fake) -> None:  # type: ignore[no-untyped-def]
    with (
        pytest.raises(httpx.ReadTimeout),
        httpx.stream(
            "POST",
            f"{fake.openai_base}/chat/completions",
            json={"model": "m", "messages": HI, "stream": True},
            headers={"x-fake-mode": "latency:ttft=5000,role_first=1"},
            timeout=httpx.Timeout(1, read=0.5),
        ) as response,
    ):
        lines = response.iter_lines()
        assert '"role":"assistant"' in next(lines)  # sent at once, before the first token
        list(lines)
    chunks = []
    with (
        pytest.raises(httpx.ReadTimeout),
        httpx.stream(
            "POST",
            f"{fake.openai_base}/chat/completions",
            json={"model": "m", "messages": HI, "stream": True},
            headers={"x-fake-mode": "hangafter:2"},
            timeout=httpx.Timeout(1, read=0.5),
        ) as response,
    ):
        chunks.extend(response.iter_lines())
    assert sum('"content":"' in c and '"content":""' not in c for c in chunks) == 2


def test_prefill_time_grows_with_the_prompt(fake) -> None:  # type: ignore[no-untyped-def]
    long = [{"role": "user", "content": "word " * 4000}]  # about 5,000 tokens
    chunks = _sse(fake, {"model": "m", "messages": long}, "latency:prefill=100,tokens=1")
    assert chunks[0][0] >= 0.5  # 100 ms per 1,000 prompt tokens


def test_tools_logprobs_and_n_choices_say_the_same_streamed_and_whole(fake) -> None:  # type: ignore[no-untyped-def]
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]
    whole = post(
        fake, "/v1/chat/completions", {"model": "m", "messages": HI, "tools": tools}
    ).json()
    call = whole["choices"][0]["message"]["tool_calls"][0]
    assert (
        call["function"]["name"] == "lookup"
        and whole["choices"][0]["finish_reason"] == "tool_calls"
    )
    streamed = _sse(fake, {"model": "m", "messages": HI, "tools": tools}, "ok")
    pieces = [
        c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
        for _, c in streamed
        if c["choices"] and c["choices"][0]["delta"].get("tool_calls")
    ]
    assert "".join(pieces) == call["function"]["arguments"]
    body = {"model": "m", "messages": HI, "n": 2, "logprobs": True, "top_logprobs": 2}
    whole = post(fake, "/v1/chat/completions", body).json()
    assert [c["index"] for c in whole["choices"]] == [0, 1]
    assert len(whole["choices"][0]["logprobs"]["content"][0]["top_logprobs"]) == 2
    texts: dict[int, str] = {}
    for _, chunk in _sse(fake, body, "ok"):
        for choice in chunk["choices"]:
            texts[choice["index"]] = texts.get(choice["index"], "") + (
                choice["delta"].get("content") or ""
            )
    assert texts == {c["index"]: c["message"]["content"] for c in whole["choices"]}


def test_nostream_mode_refuses_streams_like_a_model_that_cannot_stream(fake) -> None:  # type: ignore[no-untyped-def]
    body = {"model": "m~nostream", "messages": HI}
    assert post(fake, "/v1/chat/completions", body).status_code == 200
    refused = post(fake, "/v1/chat/completions", {**body, "stream": True})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "stream"
