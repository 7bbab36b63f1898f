"""Hostile bodies get 4xx, never 5xx, and never reach a provider or move a breaker.

Deep nesting in every place JSON can nest in a chat request, huge counts, invalid
UTF-8 and lone surrogates, giant strings, and schemathesis' generated requests, all
sent to a real gateway with the cache on (``temperature: 0``: the cache key is built
from the request, which is where a 300-deep body used to give a 500). At the end
``/health/providers`` (master key) shows every breaker closed with no failure counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import ConfigFactory, Providers

MASTER = "sk-master-hostile-7c1e"
AUTH = {"authorization": f"Bearer {MASTER}", "content-type": "application/json"}
HI = [{"role": "user", "content": "hi"}]
DEPTHS = (65, 300, 1000, 1100)  # past our 64; past orjson.dumps' 255; Python's ~1000; orjson's


def list_nest(depth: int) -> bytes:
    return b"[" * depth + b"1" + b"]" * depth


def dict_nest(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def body(fragment: bytes) -> bytes:
    """A chat body with ``fragment`` spliced in where ``@`` stands."""
    return b'{"model": "chat", "temperature": 0, ' + fragment + b"}"


# Where a caller can put something nested: each splices NEST (a list or object) somewhere.
PLACES: dict[str, bytes] = {
    "messages": b'"messages": NEST',
    "a message field": b'"messages": [{"role": "user", "content": "hi", "extra": NEST}]',
    "content parts": b'"messages": [{"role": "user", "content": [NEST]}]',
    "a content part": b'"messages": [{"role": "user", "content": [{"type": "text", '
    b'"text": "hi", "x": NEST}]}]',
    "tool calls": b'"messages": [{"role": "assistant", "tool_calls": [{"id": "c", '
    b'"type": "function", "function": {"name": "f", "arguments": NEST}}]}]',
    "tools": b'"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": '
    b'"function", "function": {"name": "f", "parameters": NEST}}]',
    "tool_choice": b'"messages": [{"role": "user", "content": "hi"}], "tool_choice": NEST',
    "response_format": b'"messages": [{"role": "user", "content": "hi"}], "response_format": '
    b'{"type": "json_schema", "json_schema": {"name": "s", "schema": NEST}}',
    "metadata": b'"messages": [{"role": "user", "content": "hi"}], "metadata": {"k": NEST}',
    "logit_bias": b'"messages": [{"role": "user", "content": "hi"}], "logit_bias": NEST',
    "stream_options": b'"messages": [{"role": "user", "content": "hi"}], "stream_options": NEST',
    "prediction": b'"messages": [{"role": "user", "content": "hi"}], "prediction": '
    b'{"type": "content", "content": NEST}',
}


@pytest.fixture
def gateway(make_config: ConfigFactory, serve) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    config = make_config("general_settings:\n  master_key: os.environ/MASTER\n", MASTER=MASTER)
    server = serve(config)
    yield server
    assert_breakers_untouched(server.base_url)


def post(gateway: Any, content: bytes, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{gateway.openai_base}/chat/completions",
        content=content,
        headers={**AUTH, **headers},
        timeout=30,
    )


def assert_refused(response: httpx.Response, status: int = 400) -> None:
    assert response.status_code == status, response.text[:300]
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert len(response.content) < 1000  # no echo of what was sent


def assert_breakers_untouched(base_url: str) -> None:
    health = httpx.get(f"{base_url}/health/providers", headers=AUTH, timeout=10).json()
    for deployment, state in health["deployments"].items():
        assert state["state"] == "closed", deployment
        assert state["consecutive_failures"] == 0, deployment
        assert state["last_error"] is None, deployment


@pytest.mark.parametrize("place", list(PLACES))
@pytest.mark.parametrize("shape", ["list", "object"])
def test_nesting_too_deep_anywhere_is_a_400(
    gateway: Any, providers: Providers, place: str, shape: str
) -> None:
    nest = list_nest if shape == "list" else dict_nest
    for depth in DEPTHS:
        response = post(gateway, body(PLACES[place].replace(b"NEST", nest(depth))))
        assert_refused(response)
    assert providers.openai.stats()["requests"] == 0


def test_nesting_within_the_limit_is_served(gateway: Any, providers: Providers) -> None:
    schema = b'{"type": "object", "properties": {"a": ' * 9 + b"{}" + b"}}" * 9
    fragment = PLACES["response_format"].replace(b"NEST", schema)
    response = post(gateway, body(fragment))
    assert response.status_code == 200, response.text
    again = post(gateway, body(fragment))  # the cache key of a nested request, too
    assert again.headers["x-router-cache"] == "hit"


@pytest.mark.parametrize(
    ("name", "content", "param"),
    [
        ("messages over max_messages", {"messages": HI * 501}, "messages"),
        ("a megabyte of messages", {"messages": [{"role": "user"}] * 40_000}, "messages"),
        ("tools", {"messages": HI, "tools": [{}] * 10_001}, "tools"),
        ("content parts", {"messages": [{"role": "user", "content": [{}] * 10_001}]}, "messages"),
        ("logit_bias", {"messages": HI, "logit_bias": {str(i): 1 for i in range(10_001)}}, None),
        ("stop", {"messages": HI, "stop": ["x"] * 10_001}, "stop"),
        ("n", {"messages": HI, "n": 10**6}, "n"),
        ("top-level keys", {"messages": HI, **{f"k{i}": 1 for i in range(10_001)}}, None),
    ],
)
def test_huge_counts_are_a_400(
    gateway: Any, providers: Providers, name: str, content: dict[str, Any], param: str | None
) -> None:
    response = post(gateway, orjson.dumps({"model": "chat", "temperature": 0, **content}))
    assert_refused(response)
    if param is not None:
        assert response.json()["error"]["param"] == param
    assert providers.openai.stats()["requests"] == 0


@pytest.mark.parametrize(
    "text",
    [
        b'"\xff\xfe"',  # not UTF-8 at all
        b'"\xc0\xaf"',  # an overlong encoding of '/'
        b'"\xed\xa0\x80"',  # a surrogate encoded as UTF-8 (CESU-8)
        b'"\\ud800"',  # a lone high surrogate, escaped
        b'"\\udc00 tail"',  # a lone low surrogate, escaped
        b'"\\ud800\\u0041"',  # a high surrogate followed by a non-surrogate
        b"NaN",
        b"Infinity",
        b"1e400",
    ],
)
def test_invalid_text_and_numbers_are_a_400(
    gateway: Any, providers: Providers, text: bytes
) -> None:
    response = post(gateway, body(b'"messages": [{"role": "user", "content": ' + text + b"}]"))
    assert_refused(response)
    assert providers.openai.stats()["requests"] == 0


@pytest.mark.parametrize(
    "content",
    [b"", b"   ", b"[]", b'"chat"', b"1", b"null", b"{", b'{"model": "chat"}{}'],
)
def test_bodies_that_are_no_request_are_a_400(gateway: Any, content: bytes) -> None:
    assert_refused(post(gateway, content))


MSGS = b'"messages": [{"role": "user", "content": "hi"}]'


@pytest.mark.parametrize(
    ("fragment", "param"),
    [
        (MSGS + b', "model": "' + b"m" * 900_000 + b'"', "model"),  # the last "model" counts
        (MSGS + b', "' + b"k" * 100_000 + b'": 1', None),
        (MSGS + b', "user": "' + b"u" * 900_000 + b'"', "user"),
        (
            MSGS + b', "tools": [{"type": "function", "function": {"name": "f", '
            b'"parameters": {"' + b"p" * 5_000 + b'": {}}}}]',
            "tools",
        ),
    ],
    ids=["model", "a key", "user", "a schema key"],
)
def test_giant_strings_where_none_belong_are_a_400_that_echoes_nothing(
    gateway: Any, providers: Providers, fragment: bytes, param: str | None
) -> None:
    response = post(gateway, body(fragment))
    assert_refused(response)
    assert response.json()["error"]["param"] == param
    assert providers.openai.stats()["requests"] == 0


def test_a_giant_model_version_header_is_a_400(gateway: Any) -> None:
    response = post(
        gateway,
        orjson.dumps({"model": "chat", "messages": HI}),
        **{"x-router-model-version": "v" * 20_000},
    )
    assert_refused(response)


def test_a_giant_message_within_the_body_limit_is_served(gateway: Any) -> None:
    big = [{"role": "user", "content": "word " * 180_000}]
    response = post(gateway, orjson.dumps({"model": "chat", "messages": big}))
    assert response.status_code == 200


def test_a_chunked_body_over_the_limit_is_a_413(gateway: Any) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"model": "chat", "messages": [{"role": "user", "content": "'
        for _ in range(40):  # 40 x 64 KB = 2.6 MB, past the 1 MB limit, no Content-Length
            yield b"x" * 65_536

    response = httpx.post(
        f"{gateway.openai_base}/chat/completions", content=chunks(), headers=AUTH, timeout=30
    )
    assert_refused(response, 413)


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=lambda m: m.value)
def test_generated_requests_get_no_5xx(gateway: Any, mode: schemathesis.GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(f"{gateway.base_url}/openapi.json")
    chat = next(
        result.ok()
        for result in schema.get_all_operations()
        if result.ok().path == "/v1/chat/completions"
    )

    @given(case=chat.as_strategy(generation_mode=mode))
    @settings(
        max_examples=40,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        response = case.call(headers={"authorization": f"Bearer {MASTER}"}, timeout=15)
        assert response.status_code < 500, response.text[:300]

    check()
