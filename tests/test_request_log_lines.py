"""One JSON line per request and per attempt, with stable keys, no prompt text, no secrets."""

from __future__ import annotations

import logging

import httpx
import orjson
import pytest

from tests.conftest import ConfigFactory, Providers
from tests.failover_support import wait_for

SECRET_PROMPT = "the launch code is 0000-swordfish"


def test_request_and_attempt_lines_carry_the_stable_keys(
    make_config: ConfigFactory, serve, providers: Providers, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("llm_router")
    logger.addHandler(caplog.handler)
    try:
        providers.openai.set_mode("500")
        gateway = serve(make_config())
        response = httpx.post(
            f"{gateway.openai_base}/chat/completions",
            timeout=10,
            json={"model": "chat", "messages": [{"role": "user", "content": SECRET_PROMPT}]},
        )
        assert response.status_code == 200
        # The request's line is written once its answer is sent, just after it.
        assert wait_for(lambda: any(_is_request(r) for r in caplog.records))
    finally:
        logger.removeHandler(caplog.handler)
    events = [r.fields for r in caplog.records if hasattr(r, "fields")]  # type: ignore[attr-defined]
    attempts = [e for e in events if e["event"] == "attempt"]
    (request,) = [e for e in events if e["event"] == "request"]
    assert [a["outcome"] for a in attempts] == ["error", "ok"]
    assert attempts[0]["reason"] == "server_error"
    assert request["provider"] == "anthropic"
    assert request["served_model"] == "claude-3-5-sonnet-20241022"
    assert request["attempts"] == 2 and request["outcome"] == "ok" and request["status"] == 200
    assert request["request_id"] == response.headers["x-request-id"]
    assert request["cost_usd"] > 0 and request["latency_ms"] > 0
    dumped = orjson.dumps(events).decode()
    assert SECRET_PROMPT not in dumped
    assert "sk-test-openai-0001" not in dumped and "sk-ant-test-0002" not in dumped


def _is_request(record: logging.LogRecord) -> bool:
    return bool(getattr(record, "fields", {}).get("event") == "request")
