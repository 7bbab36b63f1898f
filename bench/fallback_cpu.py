"""CPU per request of the gateway process when the Anthropic fallback serves, against the
OpenAI primary, with direct Anthropic calls on and off (issue 20: "fallbacks as fast as
primaries").

The gateway runs as its own process (``llm-router serve``, 1 worker, no Redis, cache
off) in front of the fake provider (its own process too); its CPU time (user + system,
from /proc, every process of its tree) is read before and after N sequential requests
to each model group, so neither the client nor the provider is counted.

Run: .venv/bin/python bench/fallback_cpu.py [requests]
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx

from bench.servers import VENV_BIN, Server, free_port, start

CONFIG = """
model_list:
  - model_name: primary
    litellm_params: {model: openai/gpt-4o-2024-08-06, api_base: OPENAI, api_key: sk-bench}
    model_info: {input_cost_per_token: 0.0000025, output_cost_per_token: 0.00001}
  - model_name: fallback
    litellm_params: {model: anthropic/claude-sonnet-4-20250514, api_base: ANTHROPIC, api_key: sk-bench}
    model_info: {input_cost_per_token: 0.000003, output_cost_per_token: 0.000015}
router_plugins:
  transport: {direct_anthropic: DIRECT}
  cache: {mode: "off"}
"""  # noqa: E501
HI = [{"role": "user", "content": "hi"}]


def per_request_ms(server: Server, http: httpx.Client, model: str, n: int, stream: bool) -> float:
    body = {"model": model, "messages": HI, "stream": stream}
    for _ in range(50):  # warm-up: LiteLLM builds much of a provider's code on first use
        http.post(server.url, json=body, timeout=10).raise_for_status()
    before = server.cpu_seconds()
    for _ in range(n):
        http.post(server.url, json=body, timeout=10).raise_for_status()
    return (server.cpu_seconds() - before) / n * 1000


def main(n: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="fallback-cpu-"))
    (Path(__file__).parent / "results").mkdir(exist_ok=True)
    fake_port = free_port()
    fake = start(
        "fake-provider",
        [str(VENV_BIN / "llm-router"), "fake-provider", "--port", str(fake_port)],
        fake_port,
        "/v1/models",
        "",
        {},
    )
    base = f"http://127.0.0.1:{fake_port}"
    print(
        "| direct_anthropic | caller | primary (OpenAI) ms CPU | fallback (Anthropic) ms CPU"
        " | ratio |\n|---|---|---|---|---|"
    )
    try:
        for direct in ("false", "true"):
            config = folder / f"config-{direct}.yaml"
            text = CONFIG.replace("OPENAI", f"{base}/v1").replace("ANTHROPIC", base)
            config.write_text(text.replace("DIRECT", direct))
            port = free_port()
            argv = [str(VENV_BIN / "llm-router"), "serve", "-c", str(config), "--port", str(port)]
            server = start(f"llm-router direct_anthropic={direct}", argv, port, "/health", "", {})
            try:
                with httpx.Client() as http:
                    for stream in (False, True):
                        primary = per_request_ms(server, http, "primary", n, stream)
                        fallback = per_request_ms(server, http, "fallback", n, stream)
                        caller = "stream" if stream else "json"
                        print(
                            f"| {direct} | {caller} | {primary:.2f} | {fallback:.2f} |"
                            f" {fallback / primary:.2f} |"
                        )
            finally:
                server.stop()
    finally:
        fake.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
