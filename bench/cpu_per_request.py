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
     [--no-langfuse] [--threads]
Without a tree it measures this checkout. ``--no-langfuse`` adds this checkout without the
config's Langfuse section (what tracing costs); ``--threads`` prints each measured
gateway's CPU per request by thread (the event loop; the Langfuse SDK's export thread).
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
from run import CLIENT, REDIS_URL, _LangfuseSink, server_env, untraced_config
from servers import VENV_BIN, Server, free_port, start, thread_cpu_seconds

HERE = Path(__file__).resolve().parent
UNTRACED = "this checkout, no Langfuse"


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
        server = _server(name, env, tree is None and name == "Portkey", name == UNTRACED)
        try:
            run_wrk(server.url, server.key, 16, 3, server.headers, args.stream)  # warm-up
            before, threads = server.cpu_seconds(), thread_cpu_seconds(server.proc.pid)
            result = run_wrk(
                server.url, server.key, args.concurrency, args.seconds, server.headers, args.stream
            )
            per_request = 1000 / max(result.requests, 1)
            cpu_ms = (server.cpu_seconds() - before) * per_request
            print(
                f"{name:<30} {result.rps:8.1f} req/s  p50 {result.p50_ms:7.2f} ms  "
                f"p99 {result.p99_ms:8.2f} ms  CPU {cpu_ms:5.2f} ms/req  errors {result.errors}",
                flush=True,
            )
            if args.threads:
                for thread, spent in thread_cpu_seconds(server.proc.pid).items():
                    ms = (spent - threads.get(thread, 0.0)) * per_request
                    if ms >= 0.01:
                        print(f"  thread {thread:<21} {ms:5.2f} ms/req", flush=True)
            return cpu_ms
        finally:
            server.stop()
    finally:
        fake.stop()
        sink.shutdown()


def _server(name: str, env: dict[str, str], portkey: bool, untraced: bool = False) -> Server:
    port = free_port()
    if portkey:
        server = start(name, [*ensure_portkey(), f"--port={port}"], port, "/", "", env)
        server.url = f"http://127.0.0.1:{port}/v1/chat/completions"
        server.headers = {"x-portkey-config": fallback_config(env["FAKE_BASE"])}
        return server
    config = str(untraced_config() if untraced else HERE / "llm_router.yaml")
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
    parser.add_argument("--no-langfuse", action="store_true", help="also without Langfuse")
    parser.add_argument("--threads", action="store_true", help="CPU per request by thread")
    args = parser.parse_args()
    if args.stream and args.portkey:
        raise SystemExit("bench: Portkey 1.15.2 fails every stream here; measure it without")
    (HERE / "results").mkdir(exist_ok=True)
    targets: list[tuple[str, str | None]] = [
        (os.path.abspath(t), os.path.abspath(t)) for t in args.trees
    ] or [("this checkout", None)]
    if args.no_langfuse:
        targets.append((UNTRACED, None))
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
