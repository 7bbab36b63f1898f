"""``make bench``: the fake provider direct, llm-router (1 and 2 workers), Portkey's gateway
and LiteLLM's own proxy, measured side by side in one run on loopback, plus the failure
drill's timings.

Load: wrk (see ``load.py``) at concurrency 1, 16 and 64, a fixed duration per level,
non-streaming (Portkey 1.15.2 fails every stream on Node 20). Every server runs in its
own process: llm-router with every plugin on and Redis (``llm_router.yaml``; once more
without its Langfuse section, to show what tracing costs), Portkey's
gateway (npm, pinned, ``portkey_env.py``) with a fallback config over the same fake
provider, LiteLLM's proxy with the same deployments and its defaults
(``litellm_proxy.yaml``), from a separate venv (``litellm_env.py``).
Writes ``bench/results/latest.md`` and ``latest.png`` and prints the table.

Run: .venv/bin/python bench/run.py [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import redis
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from litellm_env import ensure_litellm_proxy, litellm_version
from load import LoadResult, ensure_wrk, run_wrk
from portkey_env import ensure_portkey, fallback_config
from redis_cluster import redis_cluster
from report import CLUSTER, UNTRACED, write_report
from servers import VENV_BIN, Server, free_port, start

HERE = Path(__file__).resolve().parent
MASTER = "sk-bench-master-key-0123456789abcdef"
CLIENT = "sk-bench-client-key-0123456789abcdef"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
LEVELS = (1, 16, 64)
FULL = {1: 5, 16: 10, 64: 10}  # seconds of load per concurrency level
QUICK = {1: 1, 16: 1, 64: 1}


class _LangfuseSink(BaseHTTPRequestHandler):
    """A Langfuse that accepts every batch, so tracing runs as it would in production."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


def server_env(fake_port: int, sink_port: int) -> dict[str, str]:
    """The environment every measured server gets: the fake provider's address, the bench
    keys, Redis, the Langfuse sink, and a fresh folder for spend journals."""
    return {
        "FAKE_OPENAI_BASE": f"http://127.0.0.1:{fake_port}/v1",
        "FAKE_BASE": f"http://127.0.0.1:{fake_port}",
        "BENCH_MASTER_KEY": MASTER,
        "BENCH_CLIENT_KEY": CLIENT,
        "BENCH_REDIS_URL": REDIS_URL,
        "BENCH_LANGFUSE_HOST": f"http://127.0.0.1:{sink_port}",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_MASTER_KEY": MASTER,
        "LLM_ROUTER_STATE_DIR": tempfile.mkdtemp(prefix="bench-state-"),  # spend journals
    }


def measure(server: Server, counts: dict[int, int]) -> tuple[list[LoadResult], float]:
    print(f"bench: {server.name}", flush=True)
    run_wrk(server.url, server.key, 16, 2, server.headers)  # warm-up: first calls, pools
    results = []
    for level in LEVELS:
        before = server.cpu_seconds()
        result = run_wrk(server.url, server.key, level, counts[level], server.headers)
        spent = server.cpu_seconds() - before
        result = dataclasses.replace(result, cpu_ms=1000 * spent / max(result.requests, 1))
        print(
            f"  c{level:<3} {result.rps:8.1f} req/s  p50 {result.p50_ms:7.2f} ms  "
            f"p99 {result.p99_ms:8.2f} ms  CPU {result.cpu_ms:5.2f} ms/req  "
            f"errors {result.errors}",
            flush=True,
        )
        results.append(result)
    return results, server.peak_rss_mb()


def untraced_config() -> Path:
    """The bench config without its ``langfuse:`` section (written to ``results/``): what
    tracing every request to Langfuse costs is the difference."""
    config = HERE / "results" / "llm_router_untraced.yaml"
    settings = yaml.safe_load((HERE / "llm_router.yaml").read_text())
    del settings["router_plugins"]["langfuse"]
    config.write_text(yaml.safe_dump(settings, sort_keys=False))
    return config


def measure_untraced(env: dict[str, str], counts: dict[int, int]) -> tuple[list[LoadResult], float]:
    """llm-router, 1 worker, with the same config but no Langfuse, beside everything else."""
    port = free_port()
    argv = [str(VENV_BIN / "llm-router"), "serve", "-c", str(untraced_config())]
    server = start(UNTRACED, [*argv, "--port", str(port)], port, "/health", CLIENT, env)
    try:
        return measure(server, counts)
    finally:
        server.stop()


def measure_on_cluster(
    env: dict[str, str], counts: dict[int, int]
) -> tuple[list[LoadResult], float]:
    """llm-router, 1 worker, with the same config on a 3-node Redis Cluster instead of one
    Redis: startup nodes from ``REDIS_CLUSTER_NODES``, LiteLLM's variable."""
    config = HERE / "results" / "llm_router_cluster.yaml"
    text = (HERE / "llm_router.yaml").read_text()
    config.write_text(text.replace("  redis_url: os.environ/BENCH_REDIS_URL\n", "  {}\n"))
    with redis_cluster() as nodes:
        port = free_port()
        argv = [str(VENV_BIN / "llm-router"), "serve", "-c", str(config), "--port", str(port)]
        server = start(
            CLUSTER, argv, port, "/health", CLIENT, {**env, "REDIS_CLUSTER_NODES": nodes}
        )
        try:
            return measure(server, counts)
        finally:
            server.stop()


def drill_table() -> str:
    out = subprocess.run(
        [str(VENV_BIN / "llm-router"), "drill"], capture_output=True, text=True, check=False
    ).stdout
    return "\n".join(line for line in out.splitlines() if line.startswith("|"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="tiny counts: a smoke run")
    parser.add_argument("--no-drill", action="store_true")
    args = parser.parse_args()
    counts = QUICK if args.quick else FULL
    (HERE / "results").mkdir(exist_ok=True)
    for log in (HERE / "results").glob("*.log"):
        log.unlink()
    ensure_wrk()
    litellm_cli = ensure_litellm_proxy()
    portkey = ensure_portkey()
    redis.Redis.from_url(REDIS_URL).flushdb()
    sink = ThreadingHTTPServer(("127.0.0.1", 0), _LangfuseSink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()

    fake_port = free_port()
    fake = start(
        "fake provider direct",
        [str(VENV_BIN / "llm-router"), "fake-provider", "--port", str(fake_port)],
        fake_port,
        "/v1/models",
        "",
        {},
    )
    env = server_env(fake_port, sink.server_port)
    results: dict[str, tuple[list[LoadResult], float]] = {}
    try:
        results[fake.name] = measure(fake, counts)
        for name, workers in (("llm-router, 1 worker", 1), ("llm-router, 2 workers", 2)):
            port = free_port()
            argv = [str(VENV_BIN / "llm-router"), "serve", "-c", str(HERE / "llm_router.yaml")]
            server = start(
                name,
                [*argv, "--port", str(port), "--workers", str(workers)],
                port,
                "/health",
                CLIENT,
                env,
            )
            try:
                results[name] = measure(server, counts)
            finally:
                server.stop()
        results[UNTRACED] = measure_untraced(env, counts)
        results[CLUSTER] = measure_on_cluster(env, counts)
        port = free_port()
        server = start("Portkey gateway", [*portkey, f"--port={port}"], port, "/", "", env)
        server.url = f"http://127.0.0.1:{port}/v1/chat/completions"
        server.headers = {"x-portkey-config": fallback_config(env["FAKE_BASE"])}
        try:
            results[server.name] = measure(server, counts)
        finally:
            server.stop()
        port = free_port()
        server = start(
            "LiteLLM proxy, 1 worker",
            [str(litellm_cli), "--config", str(HERE / "litellm_proxy.yaml"), "--port", str(port)],
            port,
            "/health/liveliness",
            MASTER,
            env,
        )
        try:
            results[server.name] = measure(server, counts)
        finally:
            server.stop()
    finally:
        fake.stop()
        sink.shutdown()
    drill = "" if args.no_drill else drill_table()
    machine = (
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, litellm {litellm_version()}, load: wrk"
        + (" (quick smoke run: tiny counts, not comparable)" if args.quick else "")
    )
    print(write_report(results, counts, machine, drill, HERE / "results"))


if __name__ == "__main__":
    main()
