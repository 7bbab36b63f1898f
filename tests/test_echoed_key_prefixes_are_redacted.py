"""A provider that echoes the beginning of our key in its error text: no run of 8 or more of
the key's leading characters reaches the caller or the log."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import orjson
import pytest

from router_config.redact import Redactor
from router_config.testing._background import BackgroundServer
from tests.conftest import ConfigFactory

KEY = "q7Zr2mXvB9tLk4PwN8sYc3Hd6FgJ1a"  # 30 characters of no recognisable shape
assert len(KEY) == 30


def leaked(text: str) -> bool:
    """Does ``text`` hold 8 or more leading characters of ``KEY``?"""
    return KEY[:8] in text


class EchoingProvider:
    """An OpenAI-compatible endpoint that refuses every request, quoting the first 18
    characters of the key it was sent, as some providers do."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        auth = dict(scope["headers"]).get(b"authorization", b"").decode()
        echoed = auth.removeprefix("Bearer ")[:18]
        body = orjson.dumps(
            {
                "error": {
                    "message": f"Invalid value for 'temperature' with key {echoed}... (see docs)",
                    "type": "invalid_request_error",
                    "param": "temperature",
                    "code": None,
                }
            }
        )
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def test_an_echoed_key_prefix_reaches_neither_caller_nor_log(
    make_config: ConfigFactory, serve, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("llm_router")
    logger.addHandler(caplog.handler)
    try:
        with BackgroundServer(EchoingProvider()) as provider:
            config = make_config(
                "",
                text=(
                    "model_list:\n  - model_name: echo\n    litellm_params:\n"
                    "      model: openai/gpt-4o-2024-08-06\n"
                    "      api_base: os.environ/ECHO_BASE\n      api_key: os.environ/ECHO_KEY\n"
                    "    model_info: {free: true}\n"
                ),
                ECHO_BASE=provider.openai_base,
                ECHO_KEY=KEY,
            )
            gateway = serve(config)
            answer = httpx.post(
                f"{gateway.openai_base}/chat/completions",
                json={"model": "echo", "messages": [{"role": "user", "content": "hi"}]},
                timeout=10,
            )
    finally:
        logger.removeHandler(caplog.handler)
    assert answer.status_code == 400
    assert "see docs" in answer.text  # the provider's reason does reach the caller...
    assert not leaked(answer.text)  # ...without the key
    assert "...gJ1a" in answer.text  # its fingerprint (last four characters) instead
    lines = [orjson.dumps(getattr(r, "fields", r.getMessage())).decode() for r in caplog.records]
    assert any("see docs" in line for line in lines)
    assert not any(leaked(line) for line in lines)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"key {KEY[:8]} end", "key ...gJ1a end"),
        (f"key {KEY[:7]} end", f"key {KEY[:7]} end"),  # 7 characters: not an echo
        (f"key {KEY[:18]}... and {KEY}!", "key ...gJ1a... and ...gJ1a!"),
        (f"{KEY[:12]}{KEY[:12]}", "...gJ1a...gJ1a"),
    ],
)
def test_runs_of_eight_or_more_leading_characters_are_replaced(text: str, expected: str) -> None:
    assert Redactor([KEY])(text) == expected
