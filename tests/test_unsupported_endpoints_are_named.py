"""A path the gateway does not serve gets an OpenAI-shaped 404 naming the endpoint as not
supported, and a wrong method a 405 saying so: never a bare "Not Found"."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.conftest import ConfigFactory


@pytest.mark.parametrize(
    ("method", "path", "name"),
    [
        ("POST", "/v1/files", "Files"),
        ("GET", "/v1/batches/batch_1", "Batch"),
        ("POST", "/v1/images/generations", "Images"),
        ("POST", "/v1/audio/transcriptions", "Audio"),
        ("POST", "/v1/moderations", "Moderations"),
        ("POST", "/v1/fine_tuning/jobs", "Fine-tuning"),
        ("GET", "/v1/vector_stores", "Vector stores"),
    ],
)
def test_an_openai_endpoint_the_gateway_does_not_serve_is_named(
    make_config: ConfigFactory, serve, method: str, path: str, name: str
) -> None:
    gateway = serve(make_config())
    response = httpx.request(method, f"{gateway.base_url}{path}", json={}, timeout=5)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "unsupported_endpoint"
    assert error["type"] == "invalid_request_error"
    assert f"OpenAI's {name} API ({method} {path}) is not supported" in error["message"]
    assert "POST /v1/embeddings" in error["message"]  # and what it does serve


def test_the_openai_sdk_reports_the_named_error(make_config: ConfigFactory, serve) -> None:
    gateway = serve(make_config())
    with (
        openai.OpenAI(base_url=gateway.openai_base, api_key="x", max_retries=0) as client,
        pytest.raises(openai.NotFoundError, match="Images API"),
    ):
        client.images.generate(model="dall-e-3", prompt="a cat")


def test_a_wrong_method_on_a_served_path_says_so(make_config: ConfigFactory, serve) -> None:
    gateway = serve(make_config())
    response = httpx.get(f"{gateway.openai_base}/chat/completions", timeout=5)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert "GET is not allowed on /v1/chat/completions" in response.json()["error"]["message"]
