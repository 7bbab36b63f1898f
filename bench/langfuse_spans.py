"""CPU the Langfuse logger spends per request, in process: its hooks for a request served
at once and for one that falls back, spans exported to memory by the SDK's batch thread.

Run: .venv/bin/python bench/langfuse_spans.py [requests] [path/to/langfuse_logger.py]
The optional path loads another version of the plugin (e.g. from ``git show``) to compare.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import os
import sys
import time
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from langfuse import Langfuse
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from router_config.cli.drill import DRILL_CONFIG
from router_config.config.loader import parse_config
from router_config.flow.hooks import Attempt, RequestContext, Usage

ENV = {"P": "http://127.0.0.1:9/v1", "F": "http://127.0.0.1:9", "L": "http://127.0.0.1:9/v1"}


def load_logger(path: str | None) -> Any:
    if path is None:
        from plugins.langfuse_logger import LangfuseLogger

        return LangfuseLogger
    spec = importlib.util.spec_from_file_location("other_langfuse_logger", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.LangfuseLogger


async def one_request(plugin: Any, deployments: list[Any], n: int, fallback: bool) -> None:
    ctx = RequestContext(
        request_id=f"req-{n}",
        team="search",
        key_alias="search-app",
        group="chat",
        messages=[{"role": "user", "content": "hello"}],
        params={"temperature": 0},
        stream=False,
        headers={},
        started=0.0,
        deadline=5.0,
    )
    await plugin.on_request(ctx)
    for i, deployment in enumerate(deployments[: 2 if fallback else 1]):
        await plugin.before_attempt(ctx, deployment)
        attempt = Attempt(number=i + 1, deployment=deployment, started=0.0, latency_ms=3.0)
        failed = fallback and i == 0
        attempt.outcome = "error" if failed else "ok"
        attempt.reason = "server_error" if failed else None
        attempt.usage = Usage() if failed else Usage(prompt_tokens=14, completion_tokens=11)
        attempt.cost_usd = 0.0 if failed else 0.000145
        ctx.attempts.append(attempt)
        await plugin.after_attempt(ctx, attempt)
    if fallback:
        ctx.tags.add("fallback")
    ctx.outcome = "ok"
    await plugin.on_success(ctx, {"choices": [{"message": {"content": "hi"}}]})
    await plugin.on_request_end(ctx)


async def measure(requests: int, logger_path: str | None) -> None:
    config = parse_config(DRILL_CONFIG, source="bench", environ=ENV)
    deployments = [d for d in config.deployments if d.group == config.deployments[0].group]
    exporter = InMemorySpanExporter()
    client = Langfuse(
        public_key="pk-lf-bench",
        secret_key="sk-lf-bench",
        host="http://127.0.0.1:9",
        flush_at=128,
        tracer_provider=TracerProvider(),
        span_exporter=exporter,
    )
    cls = load_logger(logger_path)
    kwargs: dict[str, Any] = {"log_content": False, "flush_timeout_s": 2.0}
    if "version" in inspect.signature(cls).parameters:
        kwargs["version"] = "bench"
    plugin = cls(client, **kwargs)
    for fallback in (False, True):
        for n in range(200):  # warm up
            await one_request(plugin, deployments, n, fallback)
        start = time.process_time()
        for n in range(requests):
            await one_request(plugin, deployments, n, fallback)
        cpu = time.process_time() - start  # includes the SDK's export thread
        client.flush()
        exporter.clear()
        label = "fallback (2 attempts)" if fallback else "served at once"
        print(f"{label:<22} {cpu / requests * 1e6:8.1f} us CPU per request")


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    asyncio.run(measure(count, sys.argv[2] if len(sys.argv) > 2 else None))
