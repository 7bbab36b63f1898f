"""Median latency at concurrency 1: fake provider direct vs the gateway, and the gateway
with Langfuse tracing pointed at an endpoint that refuses connections or never answers
(either must cost the requests nothing).

Run: .venv/bin/python bench/latency_c1.py [requests]
A quick side-by-side measurement, not the full benchmark of the benchmarks issue.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx

from router_config.cli.drill import DRILL_CONFIG
from router_config.config.loader import parse_config
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


class _Accept(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def run_variant(n: int, variant: str) -> tuple[float, float]:
    """One measurement in this process: ``direct`` or one of ``VARIANTS``."""
    hanging = socket.socket()  # a Langfuse that hangs: it listens but never answers
    hanging.bind(("127.0.0.1", 0))
    hanging.listen(1024)
    healthy = ThreadingHTTPServer(("127.0.0.1", 0), _Accept)  # a Langfuse that answers 200
    threading.Thread(target=healthy.serve_forever, daemon=True).start()
    extras = {
        "gateway": "",
        "langfuse-up": LANGFUSE_DOWN.replace(
            "http://127.0.0.1:9", f"http://127.0.0.1:{healthy.server_port}"
        ),
        "langfuse-down": LANGFUSE_DOWN,
        "langfuse-hang": LANGFUSE_DOWN.replace(
            "http://127.0.0.1:9", f"http://127.0.0.1:{hanging.getsockname()[1]}"
        ),
    }
    try:
        with FakeProviderServer() as p, FakeProviderServer() as f, FakeProviderServer() as loc:
            if variant == "direct":
                return measure(f"{p.openai_base}/chat/completions", "gpt-4o-2024-08-06", n)
            env = {"P": p.openai_base, "F": f.base_url, "L": loc.openai_base}
            config = parse_config(DRILL_CONFIG + extras[variant], source="bench", environ=env)
            with GatewayServer(config) as gateway:
                return measure(f"{gateway.openai_base}/chat/completions", "chat", n)
    finally:
        hanging.close()
        healthy.shutdown()


VARIANTS = {
    "direct": "fake provider direct",
    "gateway": "gateway (tracing off)",
    "langfuse-up": "gateway, Langfuse answering",
    "langfuse-down": "gateway, Langfuse unreachable",
    "langfuse-hang": "gateway, Langfuse hanging",
}


def main(n: int) -> None:
    """Each variant in a fresh process, so no state of one run leaks into the next."""
    print(f"{'target':<32} {'p50 ms':>8} {'p99 ms':>8}   ({n} sequential requests each)")
    for variant, label in VARIANTS.items():
        out = (
            subprocess.run(
                [sys.executable, __file__, str(n), variant],
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        p50, p99 = (float(x) for x in out.split())
        print(f"{label:<32} {p50:>8.2f} {p99:>8.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 2:
        p50, p99 = run_variant(int(sys.argv[1]), sys.argv[2])
        print(f"{p50:.3f} {p99:.3f}")
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
