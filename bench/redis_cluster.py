"""A 3-node Redis Cluster on loopback for ``make bench``: llm-router on a Cluster beside one Redis.

Three ``redis-server --cluster-enabled yes`` processes on free ports (persistence off),
joined with ``redis-cli --cluster create``; stopped when the benchmark ends.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import redis
from servers import free_port


@contextlib.contextmanager
def redis_cluster(nodes: int = 3) -> Iterator[str]:
    """Yield the startup nodes as ``REDIS_CLUSTER_NODES`` JSON (LiteLLM's variable)."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    cli = shutil.which("redis-cli") or "/usr/bin/redis-cli"
    folder = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    ports = _ports(nodes)
    procs = []
    try:
        for port in ports:
            node = folder / str(port)
            node.mkdir()
            procs.append(
                subprocess.Popen(
                    [
                        binary,
                        "--port",
                        str(port),
                        "--bind",
                        "127.0.0.1",
                        "--cluster-enabled",
                        "yes",
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                    ],
                    cwd=node,
                    stdout=subprocess.DEVNULL,
                )
            )
        for port in ports:
            _wait(lambda p=port: redis.Redis(port=p).ping())
        addresses = [f"127.0.0.1:{p}" for p in ports]
        subprocess.run(
            [cli, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
        )
        _wait(
            lambda: all(redis.Redis(port=p).cluster("info")["cluster_state"] == "ok" for p in ports)
        )
        yield json.dumps([{"host": "127.0.0.1", "port": p} for p in ports])
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def _ports(nodes: int) -> list[int]:
    """Free ports whose cluster bus ports (+10000) are free too; from ``BENCH_CLUSTER_PORTS``
    (``first-last``) when set, so a shared machine can give the benchmark its own range."""
    first, _, last = os.environ.get("BENCH_CLUSTER_PORTS", "").partition("-")
    pool = iter(range(int(first), int(last) + 1)) if first and last else iter(free_port, None)
    out: list[int] = []
    for port in itertools.islice(pool, 10_000):
        if port + 10_000 < 65_536 and port not in out and _free(port) and _free(port + 10_000):
            out.append(port)
            if len(out) == nodes:
                return out
    raise SystemExit("bench: no free ports for the Redis Cluster")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait(check: Callable[[], object], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(redis.RedisError, OSError, KeyError):
            if check():
                return
        time.sleep(0.1)
    raise SystemExit("bench: the Redis Cluster did not start")
