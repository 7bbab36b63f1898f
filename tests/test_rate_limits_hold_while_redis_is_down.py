"""Rate limits hold while Redis is down: two replicas that saw each other split each limit,
so together they admit what one shared limit would (the issue measured 29 of rpm 20)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from router_config.wiring import Timing
from tests.conftest import ConfigFactory, Providers
from tests.failover_support import FakeClock, wait_for
from tests.redis_servers import RedisServer, plain, servers
from tests.shared_state_support import shared_state

KEY = "sk-client-rpm-outage-0001"
WINDOW_START = 6_000_000.0  # a multiple of 60


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with servers(tmp_path) as started:
        server = plain(tmp_path)
        started.append(server.start())
        yield server


def chat(gateway) -> int:  # type: ignore[no-untyped-def]
    return httpx.post(
        f"{gateway.openai_base}/chat/completions",
        headers={"authorization": f"Bearer {KEY}"},
        json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
        timeout=20,
    ).status_code


def test_two_replicas_admit_one_limit_in_total_while_redis_is_down(
    own_redis: RedisServer, make_config: ConfigFactory, serve, providers: Providers
) -> None:
    clock = FakeClock(start=WINDOW_START)
    text = (
        "router_plugins:\n  cache: {mode: 'off'}\n  client_keys:\n"
        "    - {key: os.environ/CLIENT_KEY, team: search, alias: search-app, rpm: 20}\n"
        f"router_settings:\n  redis_url: {own_redis.url}\n"
    )
    config = make_config(text, CLIENT_KEY=KEY)
    one, two = serve(config, timing=Timing(now=clock)), serve(config, timing=Timing(now=clock))
    assert wait_for(
        lambda: shared_state(one)["replicas_seen"] == shared_state(two)["replicas_seen"] == 2, 10
    )
    assert [chat(one), chat(two)] == [200, 200]  # Redis up: one shared limit

    own_redis.kill()
    clock.advance(60)  # a window neither replica could lease a slice of
    statuses = [chat(gateway) for gateway in [one, two] * 20]
    assert statuses.count(200) == 20  # 10 each: the limit, not 40 (nor the 29)
    assert statuses[::2].count(200) == statuses[1::2].count(200) == 10

    own_redis.start()  # back, and empty
    assert wait_for(lambda: all(shared_state(g)["redis"]["reachable"] for g in (one, two)), 10)
    clock.advance(60)
    statuses = [chat(gateway) for gateway in [two, one] * 15]
    assert statuses.count(200) == 20  # leased from Redis again: one limit, however split
