"""Median and p90 latency at concurrency 1 of each model endpoint, through one gateway on
loopback to the fake provider, with the direct calls on and off (everything through
LiteLLM's Router). The translated APIs (Responses, Anthropic's Messages) show what their
translation costs over plain chat.

Run: .venv/bin/python bench/endpoints_c1.py [requests]
A quick side-by-side measurement, not the full benchmark (make bench).
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import time
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx

from router_config.config.loader import parse_config
from router_config.testing import FakeProviderServer, GatewayServer

CONFIG = """
model_list:
  - model_name: chat
    litellm_params: {model: openai/gpt-4o-2024-08-06, api_base: BASE, api_key: k}
    model_info: {input_cost_per_token: 0.0000025, output_cost_per_token: 0.00001}
  - model_name: claude
    litellm_params: {model: anthropic/claude-3-5-sonnet-20241022, api_base: ANTHROPIC, api_key: k}
    model_info: {input_cost_per_token: 0.000003, output_cost_per_token: 0.000015}
  - model_name: embed
    litellm_params: {model: openai/text-embedding-3-small, api_base: BASE, api_key: k}
  - model_name: instruct
    litellm_params: {model: text-completion-openai/gpt-3.5-turbo-instruct, api_base: BASE, api_key: k}
    model_info: {input_cost_per_token: 0.0000015, output_cost_per_token: 0.000002}
router_plugins:
  transport: {direct_openai: DIRECT}
  cache: {mode: "off"}
"""  # noqa: E501
HI = [{"role": "user", "content": "hi"}]
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "chat": ("/v1/chat/completions", {"model": "chat", "messages": HI}),
    "embeddings (8 inputs)": ("/v1/embeddings", {"model": "embed", "input": ["hello"] * 8}),
    "completions": ("/v1/completions", {"model": "instruct", "prompt": "Say hi"}),
    "responses": ("/v1/responses", {"model": "chat", "input": "hi", "store": False}),
    "messages -> openai": ("/v1/messages", {"model": "chat", "max_tokens": 50, "messages": HI}),
    "messages -> anthropic": (
        "/v1/messages",
        {"model": "claude", "max_tokens": 50, "messages": HI},
    ),
}


def main(n: int) -> None:
    logging.disable(logging.CRITICAL)
    print("| direct_openai | endpoint | p50 ms | p90 ms |\n|---|---|---|---|")
    with FakeProviderServer() as fake:
        for direct in ("true", "false"):
            text = CONFIG.replace("ANTHROPIC", fake.base_url).replace("BASE", fake.openai_base)
            config = parse_config(text.replace("DIRECT", direct), source="bench", environ={})
            with GatewayServer(config) as gateway, httpx.Client(base_url=gateway.base_url) as http:
                for name, (path, body) in CASES.items():
                    for _ in range(20):  # warm-up
                        http.post(path, json=body, timeout=10).raise_for_status()
                    times = []
                    for _ in range(n):
                        started = time.perf_counter()
                        http.post(path, json=body, timeout=10).raise_for_status()
                        times.append((time.perf_counter() - started) * 1000)
                    p90 = statistics.quantiles(times, n=10)[8]
                    print(f"| {direct} | {name} | {statistics.median(times):.2f} | {p90:.2f} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
