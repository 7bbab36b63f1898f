"""Median latency at concurrency 1: fake provider direct vs the gateway, and the gateway
with Langfuse tracing pointed at an endpoint that refuses connections (it must cost nothing).

Run: .venv/bin/python bench/latency_c1.py [requests]
A quick side-by-side measurement, not the full benchmark of the benchmarks issue.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx

from router_config.drill import DRILL_CONFIG
from router_config.loader import parse_config
from router_config.testing import FakeProviderServer, GatewayServer

LANGFUSE_DOWN = """
  langfuse:
    public_key: pk-lf-bench
    secret_key: sk-lf-bench
    host: http://127.0.0.1:9
"""


def measure(url: str, model: str, n: int) -> tuple[float, float]:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client(timeout=10) as client:
        for _ in range(30):
            client.post(url, json=body)
        samples = []
        for _ in range(n):
            started = time.perf_counter()
            response = client.post(url, json=body)
            samples.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
    return statistics.median(samples), sorted(samples)[int(0.99 * (n - 1))]


def main(n: int) -> None:
    with FakeProviderServer() as p, FakeProviderServer() as f, FakeProviderServer() as loc:
        env = {"P": p.openai_base, "F": f.base_url, "L": loc.openai_base}
        rows = [
            (
                "fake provider direct",
                *measure(f"{p.openai_base}/chat/completions", "gpt-4o-2024-08-06", n),
            )
        ]
        for name, extra in (("gateway", ""), ("gateway, Langfuse unreachable", LANGFUSE_DOWN)):
            config = parse_config(DRILL_CONFIG + extra, source="bench", environ=env)
            with GatewayServer(config) as gateway:
                rows.append((name, *measure(f"{gateway.openai_base}/chat/completions", "chat", n)))
    print(f"{'target':<32} {'p50 ms':>8} {'p99 ms':>8}   ({n} sequential requests each)")
    for name, p50, p99 in rows:
        print(f"{name:<32} {p50:>8.2f} {p99:>8.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
