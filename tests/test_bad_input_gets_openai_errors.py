"""Bad input gets an OpenAI-shaped JSON error with the right status and the param named,
never a stack trace, and never reaches a provider."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ConfigFactory, Providers

HI = [{"role": "user", "content": "hi"}]


def assert_openai_error(
    response: httpx.Response, status: int, code: str, param: str | None = None
) -> None:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code
    assert error["param"] == param
    assert "Traceback" not in response.text


@pytest.fixture
def url(make_config: ConfigFactory, serve) -> str:  # type: ignore[no-untyped-def]
    config = make_config(
        "\nrouter_plugins:\n  server:\n    max_body_bytes: 2000\n    max_messages: 3\n"
    )
    return f"{serve(config).openai_base}/chat/completions"


def test_body_that_is_not_json_is_400(url: str) -> None:
    response = httpx.post(url, content=b"{not json", headers={"content-type": "application/json"})
    assert_openai_error(response, 400, "invalid_request")


def test_body_that_is_a_json_list_is_400(url: str) -> None:
    assert_openai_error(httpx.post(url, json=[1, 2]), 400, "invalid_request")


def test_missing_messages_is_400_naming_messages(url: str) -> None:
    assert_openai_error(httpx.post(url, json={"model": "chat"}), 400, "invalid_request", "messages")


def test_out_of_range_temperature_is_400_naming_temperature(url: str) -> None:
    response = httpx.post(url, json={"model": "chat", "messages": HI, "temperature": 7})
    assert_openai_error(response, 400, "invalid_request", "temperature")


def test_unknown_parameter_is_400_naming_it(url: str) -> None:
    response = httpx.post(url, json={"model": "chat", "messages": HI, "tempreature": 0})
    assert_openai_error(response, 400, "invalid_request", "tempreature")


def test_bad_message_role_is_400_naming_the_message(url: str) -> None:
    response = httpx.post(url, json={"model": "chat", "messages": [{"role": "robot"}]})
    assert_openai_error(response, 400, "invalid_request", "messages.0.role")


def test_unknown_model_is_404_model_not_found(url: str) -> None:
    response = httpx.post(url, json={"model": "gpt-9", "messages": HI})
    assert_openai_error(response, 404, "model_not_found", "model")


def test_body_over_the_size_limit_is_413(url: str) -> None:
    big = [{"role": "user", "content": "x" * 5000}]
    assert_openai_error(
        httpx.post(url, json={"model": "chat", "messages": big}), 413, "request_too_large"
    )


def test_too_many_messages_is_400_naming_messages(url: str) -> None:
    response = httpx.post(url, json={"model": "chat", "messages": HI * 4})
    assert_openai_error(response, 400, "invalid_request", "messages")


def test_unknown_route_is_an_openai_shaped_404(url: str) -> None:
    response = httpx.get(url.replace("/chat/completions", "/nothing-here"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unsupported_endpoint"
    assert "GET /v1/nothing-here is not an endpoint" in response.json()["error"]["message"]


def test_no_bad_request_reaches_a_provider(url: str, providers: Providers) -> None:
    httpx.post(url, json={"model": "chat"})
    httpx.post(url, json={"model": "chat", "messages": HI, "temperature": 7})
    httpx.post(url, content=b"{")
    assert providers.openai.stats()["requests"] == 0
