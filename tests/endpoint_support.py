"""What the endpoint tests share: a config with embedding models beside the chat groups,
Langfuse to an in-memory exporter, and readers for the ledger and the spans."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.conftest import BASE_CONFIG, ConfigFactory

# One embedding model served by two fake providers (a fallback must be the same model: vectors
# of different models cannot be compared), the primary on "openai", the fallback on "local";
# priced from LiteLLM's map (no prices declared).
EMBEDDINGS = """
  - model_name: embed
    litellm_params:
      model: openai/text-embedding-3-small
      api_base: os.environ/OPENAI_BASE
      api_key: os.environ/OPENAI_API_KEY
      order: 1
    model_info: {id: embed-primary}
  - model_name: embed
    litellm_params:
      model: openai/text-embedding-3-small
      api_base: os.environ/LOCAL_BASE
      api_key: os.environ/OPENAI_API_KEY
      order: 2
    model_info: {id: embed-fallback}
"""
SETTINGS = """
router_plugins:
  failover: {first_token_timeout_s: 1.0}
  breaker: {cooldown_s: 30}
  langfuse:
    public_key: pk-lf-test
    secret_key: sk-lf-secret-test
    host: http://127.0.0.1:9
"""
ENDPOINT_CONFIG = BASE_CONFIG + EMBEDDINGS


def endpoint_gateway(
    make_config: ConfigFactory, serve: Any, extra: str = "", *, models: str = ""
) -> tuple[Any, InMemorySpanExporter]:
    """A gateway of ``ENDPOINT_CONFIG`` (plus ``models`` entries, then ``extra`` settings)
    tracing to an in-memory exporter."""
    exporter = InMemorySpanExporter()
    config = make_config(SETTINGS + extra, text=ENDPOINT_CONFIG + models)
    return serve(config, span_exporter=exporter), exporter


def spans(gateway: Any, exporter: InMemorySpanExporter) -> list[Any]:
    """Every span, once the gateway has stopped (which flushes the batch)."""
    gateway.stop()
    return list(exporter.get_finished_spans())


def observations(spans: list[Any], name: str) -> list[Any]:
    return [s for s in spans if s.name == name]


def attribute(span: Any, key: str) -> Any:
    """A Langfuse observation attribute, decoded when it is JSON."""
    value = span.attributes[f"langfuse.observation.{key}"]
    try:
        return orjson.loads(value)
    except (orjson.JSONDecodeError, TypeError):
        return value


def ledger(gateway: Any) -> dict[str, Any]:
    """This month's spend as ``/admin/spend`` reports it."""
    report: dict[str, Any] = httpx.get(f"{gateway.base_url}/admin/spend", timeout=5).json()
    return report
