"""A loopback OTLP receiver, and Langfuse's ingestion mapping applied to what it received.

The gateway exports to the receiver exactly what it would POST to Langfuse
(``/api/public/otel/v1/traces``, OTLP/HTTP protobuf). ``rows`` turns each decoded span
into the row Langfuse v4 would store for it, field by field from ``INGESTION_MAP``, so
tests assert on what finance sees (user, tags, cost) rather than on attribute spellings.

The mapping is read from Langfuse's server code, langfuse/langfuse at commit
62751446149b702b419a9292ddfc2280cdf74b8c (v4.16.0, the newest snapshot the search tool
holds; the compose stack runs 4.59.0, the SDK's documented minimum):
``packages/shared/src/server/otel/OtelIngestionProcessor.ts`` (``processToEvent`` and its
``extract*`` helpers), ``packages/shared/src/server/otel/attributes.ts`` (attribute
names), ``worker/src/services/IngestionService/index.ts`` (``calculateUsageCosts``:
provided cost details are authoritative, their ``total`` is the row's total cost; with
none, Langfuse prices the generation itself) and
``packages/shared/src/features/query/dataModel.ts`` (``eventsObservationsView``: the
Metrics API v2 and dashboard measures ``inputTokens``/``outputTokens`` sum every usage key
containing "input"/"output", ``totalTokens`` reads ``total``). Metadata values arrive
JSON-encoded from SDK v5 and are decoded by servers it supports.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

LANGFUSE_SOURCE = "langfuse/langfuse@62751446149b702b419a9292ddfc2280cdf74b8c"
CANONICAL_USAGE = {
    "input",
    "input_cached_tokens",
    "input_cache_creation",
    "output",
    "output_reasoning_tokens",
    "total",
}

# The attribute names Langfuse's server reads (enum LangfuseOtelSpanAttributes in
# packages/shared/src/server/otel/attributes.ts), by the SDK's constant names.
SERVER_ATTRIBUTES = {
    "TRACE_NAME": "langfuse.trace.name",
    "TRACE_USER_ID": "user.id",
    "TRACE_SESSION_ID": "session.id",
    "TRACE_TAGS": "langfuse.trace.tags",
    "TRACE_METADATA": "langfuse.trace.metadata",
    "OBSERVATION_TYPE": "langfuse.observation.type",
    "OBSERVATION_METADATA": "langfuse.observation.metadata",
    "OBSERVATION_LEVEL": "langfuse.observation.level",
    "OBSERVATION_STATUS_MESSAGE": "langfuse.observation.status_message",
    "OBSERVATION_COMPLETION_START_TIME": "langfuse.observation.completion_start_time",
    "OBSERVATION_MODEL": "langfuse.observation.model.name",
    "OBSERVATION_USAGE_DETAILS": "langfuse.observation.usage_details",
    "OBSERVATION_COST_DETAILS": "langfuse.observation.cost_details",
    "ENVIRONMENT": "langfuse.environment",
    "RELEASE": "langfuse.release",
    "VERSION": "langfuse.version",
}

Attrs = dict[str, Any]


@dataclass(frozen=True)
class FieldMapping:
    """One Langfuse row field, the OTel attribute(s) it is read from, and where that is."""

    field: str
    otel: str
    source: str
    read: Callable[[Attrs, Attrs], Any]


def _first(*keys: str, resource: bool = False) -> Callable[[Attrs, Attrs], Any]:
    def read(span: Attrs, res: Attrs) -> Any:
        for key in keys:
            if span.get(key):
                return span[key]
            if resource and res.get(key):
                return res[key]
        return None

    return read


def _json(key: str) -> Callable[[Attrs, Attrs], Any]:
    return lambda span, _res: orjson.loads(span[key]) if key in span else {}


def _tags(span: Attrs, _res: Attrs) -> list[str]:
    value = span.get("langfuse.trace.tags") or span.get("langfuse.tags") or []
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def _metadata(span: Attrs, _res: Attrs) -> dict[str, Any]:
    """Observation metadata, then trace metadata (processToEvent spreads both into one)."""
    out: dict[str, Any] = {}
    for prefix in ("langfuse.observation.metadata.", "langfuse.trace.metadata."):
        for key, value in span.items():
            if key.startswith(prefix):
                out[key[len(prefix) :]] = orjson.loads(value)
    return out


def _environment(span: Attrs, res: Attrs) -> str:
    keys = ("langfuse.environment", "deployment.environment.name", "deployment.environment")
    return _first(*keys, resource=True)(span, res) or "default"


def _completion_start(span: Attrs, _res: Attrs) -> Any:
    """A date string, or one JSON-encoded as the Python SDK sends it (both accepted)."""
    value = span.get("langfuse.observation.completion_start_time")
    return orjson.loads(value) if isinstance(value, str) and value.startswith('"') else value


def _version(span: Attrs, res: Attrs) -> Any:
    return span.get("langfuse.version") or res.get("service.version")


def _release(span: Attrs, res: Attrs) -> Any:
    return span.get("langfuse.release") or res.get("langfuse.release")


PROCESSOR = "packages/shared/src/server/otel/OtelIngestionProcessor.ts"
INGESTION = "worker/src/services/IngestionService/index.ts"
INGESTION_MAP: tuple[FieldMapping, ...] = (
    FieldMapping(
        "type", "langfuse.observation.type", PROCESSOR, _first("langfuse.observation.type")
    ),
    FieldMapping(
        "userId",
        "langfuse.user.id | user.id",
        f"{PROCESSOR} extractUserId",
        _first("langfuse.user.id", "user.id"),
    ),
    FieldMapping(
        "sessionId",
        "langfuse.session.id | session.id",
        f"{PROCESSOR} extractSessionId",
        _first("langfuse.session.id", "session.id"),
    ),
    FieldMapping("traceName", "langfuse.trace.name", PROCESSOR, _first("langfuse.trace.name")),
    FieldMapping("tags", "langfuse.trace.tags", f"{PROCESSOR} extractTags", _tags),
    FieldMapping(
        "environment",
        "langfuse.environment (span, then resource)",
        f"{PROCESSOR} extractEnvironment",
        _environment,
    ),
    FieldMapping("release", "langfuse.release (span, then resource)", PROCESSOR, _release),
    FieldMapping("version", "langfuse.version, else resource service.version", PROCESSOR, _version),
    FieldMapping(
        "serviceName", "resource service.name", PROCESSOR, lambda _s, r: r.get("service.name")
    ),
    FieldMapping(
        "serviceVersion",
        "resource service.version",
        PROCESSOR,
        lambda _s, r: r.get("service.version"),
    ),
    FieldMapping(
        "level", "langfuse.observation.level", PROCESSOR, _first("langfuse.observation.level")
    ),
    FieldMapping(
        "statusMessage",
        "langfuse.observation.status_message",
        PROCESSOR,
        _first("langfuse.observation.status_message"),
    ),
    FieldMapping(
        "modelName",
        "langfuse.observation.model.name",
        f"{PROCESSOR} extractModelName",
        _first("langfuse.observation.model.name"),
    ),
    FieldMapping(
        "usageDetails",
        "langfuse.observation.usage_details (JSON, taken as given)",
        f"{PROCESSOR} extractUsageDetails",
        _json("langfuse.observation.usage_details"),
    ),
    FieldMapping(
        "costDetails",
        "langfuse.observation.cost_details (JSON, taken as given)",
        f"{PROCESSOR} extractCostDetails",
        _json("langfuse.observation.cost_details"),
    ),
    FieldMapping(
        "metadata",
        "langfuse.observation.metadata.* and langfuse.trace.metadata.*",
        f"{PROCESSOR} extractMetadata",
        _metadata,
    ),
    FieldMapping(
        "completionStartTime",
        "langfuse.observation.completion_start_time",
        f"{PROCESSOR} extractCompletionStartTime",
        _completion_start,
    ),
)


def total_cost(cost_details: dict[str, Any]) -> float | None:
    """``IngestionService.calculateUsageCosts``: any provided cost point wins; the total is
    the provided ``total`` (or input + output when only those two are given). ``None``:
    nothing provided, so Langfuse would price the generation from its own model table."""
    given = {k: v for k, v in cost_details.items() if v is not None}
    if not given:
        return None
    if "total" in given:
        return float(given["total"])
    if set(given) <= {"input", "output"}:
        return float(given.get("input", 0) + given.get("output", 0))
    return None


def measures(usage: dict[str, int]) -> dict[str, int]:
    """``eventsObservationsView`` measures as dashboards and Metrics API v2 compute them."""
    return {
        "inputTokens": sum(v for k, v in usage.items() if "input" in k.lower()),
        "outputTokens": sum(v for k, v in usage.items() if "output" in k.lower()),
        "totalTokens": usage.get("total", 0),
    }


@dataclass
class Row:
    """One span as exported, and the Langfuse row it becomes."""

    name: str
    span_id: bytes
    parent_id: bytes
    trace_id: bytes
    fields: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]

    @property
    def is_generation(self) -> bool:
        return self.fields["type"] == "generation"

    @property
    def total_cost(self) -> float | None:
        return total_cost(self.fields["costDetails"])


def any_value(value: Any) -> Any:
    """An OTLP ``AnyValue`` as a plain Python value."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


def rows(requests: list[Any]) -> list[Row]:
    """Every span of every decoded ``ExportTraceServiceRequest``, mapped to Langfuse rows."""
    out: list[Row] = []
    for request in requests:
        for resource_spans in request.resource_spans:
            resource = {a.key: any_value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attrs = {a.key: any_value(a.value) for a in span.attributes}
                    fields = {m.field: m.read(attrs, resource) for m in INGESTION_MAP}
                    out.append(
                        Row(span.name, span.span_id, span.parent_span_id, span.trace_id, fields)
                    )
    return out


class OtlpReceiver:
    """Accepts Langfuse's OTLP/HTTP POSTs on loopback and keeps what it decoded."""

    def __init__(self) -> None:
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

        posts: list[tuple[dict[str, str], Any]] = []
        self.posts = posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.headers.get("content-encoding") == "gzip":
                    raw = gzip.decompress(raw)
                request = trace_service_pb2.ExportTraceServiceRequest()
                request.ParseFromString(raw)
                posts.append(
                    ({k.lower(): v for k, v in self.headers.items()} | {"path": self.path}, request)
                )
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def rows(self) -> list[Row]:
        return rows([request for _, request in self.posts])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
