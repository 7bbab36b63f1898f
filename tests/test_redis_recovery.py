"""When Redis comes back, shared state goes back to Redis (one redis_up line), by itself."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from router_config.state.shared_redis import SharedRedis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def late_redis() -> Iterator[tuple[int, list[subprocess.Popen[bytes]]]]:
    """A port where a second, real redis-server can be started mid-test."""
    started: list[subprocess.Popen[bytes]] = []
    yield free_port(), started
    for process in started:
        process.terminate()
        process.wait(timeout=5)


async def test_shared_state_uses_redis_again_once_it_returns(
    late_redis: tuple[int, list[subprocess.Popen[bytes]]],
) -> None:
    port, started = late_redis
    redis = SharedRedis(f"redis://127.0.0.1:{port}/0", retry_s=0.05)
    try:
        assert await redis.run(lambda c: c.set("k", "v"), "fallback") == "fallback"
        assert redis.down and not redis.available
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        started.append(
            subprocess.Popen(
                [binary, "--port", str(port), "--save", "", "--appendonly", "no"],
                stdout=subprocess.DEVNULL,
            )
        )
        deadline = time.monotonic() + 5
        while not await redis.ping() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not redis.down
        assert await redis.run(lambda c: c.set("k", "v"), "fallback") is True
    finally:
        await redis.close()
