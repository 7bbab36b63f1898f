"""CPU per request of code trees side by side: what a change saved, measured in one run.

One bench run cannot carry a small difference on a shared 2-core machine: req/s moves
by a third from one minute to the next. CPU per request moves less, and alternating the
trees round by round spreads the machine's drift over all of them. Each measurement is
a fresh gateway with the bench config (every plugin on, Redis, Langfuse to a local sink)
over its own fake provider, warmed up, then wrk at one concurrency; CPU is read from
``/proc`` for the gateway's processes. A tree is any checkout of this repository (for
example ``git worktree add /tmp/base HEAD~3``): its ``router_config`` and ``plugins``
are put first on ``PYTHONPATH``, the rest comes from this checkout's venv.

Run: .venv/bin/python bench/cpu_per_request.py [TREE ...] [--portkey] [--rounds 3]
     [--seconds 8] [--concurrency 16] [--stream] [--fake-mode latency:ttft=0,tokens=300]
Without a tree it measures this checkout.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import run_wrk
from portkey_env import ensure_portkey, fallback_config
from run import CLIENT, REDIS_URL, _LangfuseSink, server_env
from servers import VENV_BIN, Server, free_port, start

HERE = Path(__file__).resolve().parent


def measure(name: str, args: argparse.Namespace, tree: str | None) -> float:
    """One fresh server measured once: prints its line, returns its CPU ms per request."""
    redis.Redis.from_url(REDIS_URL).flushdb()
    sink = ThreadingHTTPServer(("127.0.0.1", 0), _LangfuseSink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    fake_port = free_port()
    mode = ["--mode", args.fake_mode] if args.fake_mode else []
    fake_argv = [str(VENV_BIN / "llm-router"), "fake-provider", "--port", str(fake_port)]
    fake = start("fake", [*fake_argv, *mode], fake_port, "/v1/models", "", {})
    env = server_env(fake_port, sink.server_port)
    if tree is not None:
        env["PYTHONPATH"] = tree
    try:
        server = _server(name, env, tree is None and name == "Portkey")
        try:
            run_wrk(server.url, server.key, 16, 3, server.headers, args.stream)  # warm-up
            before = server.cpu_seconds()
            result = run_wrk(
                server.url, server.key, args.concurrency, args.seconds, server.headers, args.stream
            )
            cpu_ms = 1000 * (server.cpu_seconds() - before) / max(result.requests, 1)
            print(
                f"{name:<30} {result.rps:8.1f} req/s  p50 {result.p50_ms:7.2f} ms  "
                f"p99 {result.p99_ms:8.2f} ms  CPU {cpu_ms:5.2f} ms/req  errors {result.errors}",
                flush=True,
            )
            return cpu_ms
        finally:
            server.stop()
    finally:
        fake.stop()
        sink.shutdown()


def _server(name: str, env: dict[str, str], portkey: bool) -> Server:
    port = free_port()
    if portkey:
        server = start(name, [*ensure_portkey(), f"--port={port}"], port, "/", "", env)
        server.url = f"http://127.0.0.1:{port}/v1/chat/completions"
        server.headers = {"x-portkey-config": fallback_config(env["FAKE_BASE"])}
        return server
    config = str(HERE / "llm_router.yaml")
    argv = [str(VENV_BIN / "llm-router"), "serve", "-c", config, "--port", str(port)]
    return start(name, argv, port, "/health", CLIENT, env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="*", help="checkouts to compare (default: this one)")
    parser.add_argument("--portkey", action="store_true", help="Portkey's gateway too")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--stream", action="store_true", help="streaming requests")
    parser.add_argument("--fake-mode", default="", help="the fake provider's mode")
    args = parser.parse_args()
    if args.stream and args.portkey:
        raise SystemExit("bench: Portkey 1.15.2 fails every stream here; measure it without")
    (HERE / "results").mkdir(exist_ok=True)
    targets: list[tuple[str, str | None]] = [
        (os.path.abspath(t), os.path.abspath(t)) for t in args.trees
    ] or [("this checkout", None)]
    if args.portkey:
        targets.append(("Portkey", None))
    spent: dict[str, list[float]] = {name: [] for name, _ in targets}
    for _ in range(args.rounds):
        for name, tree in targets:
            spent[name].append(measure(name, args, tree))
    print("\nCPU ms per request: median (range)")
    for name, values in spent.items():
        print(f"{name:<30} {statistics.median(values):5.2f} ({min(values):.2f}-{max(values):.2f})")


if __name__ == "__main__":
    main()
