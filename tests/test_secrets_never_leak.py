"""A run with known secret values: no log line, error body, header, metrics or health page,
alert or exported Langfuse span contains any of them (not even all but the last 4 chars)."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.conftest import BASE_CONFIG, ConfigFactory, Providers
from tests.failover_support import FAST_FAILOVER, WebhookReceiver

SECRETS = {
    "MASTER_KEY": "sk-master-leakcheck-9f3a1c",
    "CLIENT_KEY": "sk-client-leakcheck-7b21e0",
    "OPENAI_KEY_A": "sk-prov-leakcheck-A1A1",
    "OPENAI_KEY_B": "9f86d081884c7d659a2feaa0c55ab2b2",  # a shape no pattern knows (Azure-like)
    "ANTHROPIC_API_KEY": "sk-ant-leakcheck-C3C3",
    "LANGFUSE_SECRET": "sk-lf-leakcheck-D4D4",
}
CONFIG = (
    BASE_CONFIG.replace(
        "      api_key: os.environ/OPENAI_API_KEY\n      order: 1",
        "      api_keys: [os.environ/OPENAI_KEY_A, os.environ/OPENAI_KEY_B]\n      order: 1",
        1,
    )
    + "general_settings:\n  master_key: os.environ/MASTER_KEY\n"
)

pytestmark = pytest.mark.usefixtures("fresh_langfuse")


def test_no_secret_appears_anywhere(
    make_config: ConfigFactory,
    serve,
    providers: Providers,
    redis_url: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    webhook = WebhookReceiver()
    extra = FAST_FAILOVER + (
        "  client_keys:\n    - key: os.environ/CLIENT_KEY\n      team: search\n      rpm: 100\n"
        f"  alerts:\n    sinks:\n      - type: webhook\n        url: {webhook.url}\n"
        "  langfuse:\n    public_key: pk-lf-leakcheck\n"
        "    secret_key: os.environ/LANGFUSE_SECRET\n    host: http://127.0.0.1:9\n"
        f"router_settings:\n  redis_url: {redis_url}\n"
    )
    exporter = InMemorySpanExporter()
    loggers = [logging.getLogger(), logging.getLogger("llm_router")]  # ours do not propagate
    for logger in loggers:
        logger.addHandler(caplog.handler)
    seen: list[str] = []
    try:
        gateway = serve(make_config(extra, text=CONFIG, **SECRETS), span_exporter=exporter)
        client = {"authorization": f"Bearer {SECRETS['CLIENT_KEY']}"}
        admin = {"authorization": f"Bearer {SECRETS['MASTER_KEY']}"}
        url = f"{gateway.base_url}/v1/chat/completions"
        hi = [{"role": "user", "content": "hi"}]

        def post(headers: dict[str, str], **body: Any) -> None:
            response = httpx.post(url, headers=headers, json={"model": "chat", **body}, timeout=10)
            seen.append(f"{response.status_code} {dict(response.headers)} {response.text}")

        providers.openai.revoke_key(SECRETS["OPENAI_KEY_A"])  # echoed whole in its 401
        post(client, messages=hi)  # key A refused, key B answers
        post(client, messages=hi, stream=True)
        post({"authorization": "Bearer sk-wrong-key-000000"}, messages=hi)
        post(client, messages=hi, api_key=SECRETS["MASTER_KEY"])  # refused by name
        providers.openai.revoke_key(SECRETS["OPENAI_KEY_B"])
        providers.anthropic.revoke_key(SECRETS["ANTHROPIC_API_KEY"])
        post(client, messages=hi)  # every key refused: the local model answers
        providers.local.set_mode("400")
        post(client, messages=hi)  # a provider's 400 goes back to the caller
        for path in ("/metrics", "/health/providers", "/admin/spend", "/v1/models"):
            seen.append(httpx.get(f"{gateway.base_url}{path}", headers=admin).text)
        gateway.stop()  # flushes the Langfuse batch
    finally:
        for logger in loggers:
            logger.removeHandler(caplog.handler)
        webhook.close()

    spans = [
        f"{s.name} {dict(s.attributes or {})} {s.status.description} "
        + str([(e.name, dict(e.attributes or {})) for e in s.events])
        for s in exporter.get_finished_spans()
    ]
    records = [f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in caplog.records]
    output = capfd.readouterr()
    everything = {
        "responses": "\n".join(seen),
        "spans": "\n".join(spans),
        "log records": "\n".join(records),
        "stdout/stderr": output.out + output.err,
        "alerts": str(webhook.received),
    }
    assert len(spans) > 10 and len(records) > 10 and webhook.received  # the run really ran
    assert "...A1A1" in everything["alerts"]  # the fingerprint is what may be shown
    assert "...b2b2" in everything["log records"]  # key B's 401 echoed it: redacted by value
    for name, secret in SECRETS.items():
        for where, text in everything.items():
            assert secret[:-4] not in text, f"{name} leaked into {where}"
