"""Real redis-server processes for tests that kill, freeze, cluster or fail over Redis.

Ports come from ``LLM_ROUTER_TEST_REDIS_PORTS`` (``first-last``, default 17200-17399), so
parallel checkouts on one machine can be given ranges that never meet. Every server runs
with persistence off and is stopped by the fixture that started it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis

BINARY = shutil.which("redis-server") or "/usr/bin/redis-server"
CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
_first, _, _last = os.environ.get("LLM_ROUTER_TEST_REDIS_PORTS", "17200-17399").partition("-")
_ALL = range(int(_first), int(_last) + 1)
# Under pytest-xdist, each worker takes its own slice of the range.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
_SLICE = len(_ALL) // max(1, _WORKERS)
PORTS = range(_ALL.start + _WORKER * _SLICE, _ALL.start + (_WORKER + 1) * _SLICE)
_next = [PORTS.start]


def _free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def take_port(*, cluster_bus: bool = False) -> int:
    """The next free port of the range (and its cluster bus port, +10000, if asked)."""
    for _ in range(len(PORTS)):
        port = _next[0]
        _next[0] = port + 1 if port < PORTS.stop - 1 else PORTS.start
        if _free(port) and (not cluster_bus or _free(port + 10_000)):
            return port
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


@dataclass
class RedisServer:
    """One redis-server (or sentinel) on 127.0.0.1."""

    port: int
    folder: Path
    args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    ready: Callable[[], bool] | None = None  # how to tell it answers (default: a plain PING)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [BINARY, *self.args],
            cwd=self.folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not (self.ready or self.answers)():
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()  # never leave one running that no fixture will stop
                raise RuntimeError(f"redis-server on {self.port} did not start")
            time.sleep(0.02)
        return self

    def answers(self) -> bool:
        with contextlib.suppress(redis.RedisError, OSError):
            client = redis.Redis(port=self.port, socket_timeout=0.5, socket_connect_timeout=0.5)
            try:
                return bool(client.ping())
            finally:
                client.close()
        return False

    def kill(self) -> None:
        """SIGKILL: gone at once, and with persistence off its data with it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def freeze(self) -> None:
        """SIGSTOP: connections stay open and nothing answers."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGCONT)
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def plain(folder: Path, port: int | None = None, *extra: str) -> RedisServer:
    """A single redis-server, persistence off."""
    port = port or take_port()
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    return RedisServer(port, folder, [*args, *extra])


@contextlib.contextmanager
def servers(folder: Path) -> Iterator[list[RedisServer]]:
    """Collects servers a test starts and stops every one of them at the end."""
    started: list[RedisServer] = []
    try:
        yield started
    finally:
        for server in reversed(started):
            server.stop()


def cluster(folder: Path, started: list[RedisServer], nodes: int = 3) -> list[RedisServer]:
    """A Redis Cluster of ``nodes`` primaries on loopback, every slot covered."""
    members = []
    for n in range(nodes):
        port = take_port(cluster_bus=True)
        node_dir = folder / f"node-{n}"
        node_dir.mkdir()
        server = plain(
            node_dir, port, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"
        )
        started.append(server.start())
        members.append(server)
    addresses = [f"127.0.0.1:{s.port}" for s in members]
    subprocess.run(
        [CLI, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
        check=True,
        capture_output=True,
        timeout=30,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        states = [redis.Redis(port=s.port).cluster("info").get("cluster_state") for s in members]
        if states == ["ok"] * nodes:
            return members
        time.sleep(0.1)
    raise RuntimeError("the cluster did not become ok")


def sentinel_set(
    folder: Path, started: list[RedisServer], service: str = "mymaster"
) -> tuple[RedisServer, RedisServer, list[RedisServer]]:
    """A master, one replica and three sentinels (quorum 2) that fail over within seconds."""
    master = plain(_mkdir(folder / "master"))
    started.append(master.start())
    replica = plain(_mkdir(folder / "replica"), None, "--replicaof", "127.0.0.1", str(master.port))
    started.append(replica.start())
    sentinels = []
    for n in range(3):
        port = take_port()
        node = _mkdir(folder / f"sentinel-{n}")
        conf = node / "sentinel.conf"
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\n"
            f"sentinel monitor {service} 127.0.0.1 {master.port} 2\n"
            f"sentinel down-after-milliseconds {service} 1000\n"
            f"sentinel failover-timeout {service} 3000\n"
            f"sentinel parallel-syncs {service} 1\n"
        )
        server = RedisServer(port, node, [str(conf), "--sentinel"])
        started.append(server.start())
        sentinels.append(server)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # replica in sync and known to the sentinels
        info = redis.Redis(port=replica.port).info("replication")
        known = redis.Redis(port=sentinels[0].port).sentinel_master(service)
        if info.get("master_link_status") == "up" and int(known.get("num-slaves", 0)) >= 1:
            return master, replica, sentinels
        time.sleep(0.1)
    raise RuntimeError("the sentinel set did not come up")


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
