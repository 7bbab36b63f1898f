"""A real 3-node Redis Cluster: two gateways agree on breakers, rate limits and spend, each
configured with LiteLLM's own keys; a plain URL naming a cluster node works too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import redis

from router_config.wiring import Timing
from tests.conftest import ConfigFactory, Providers
from tests.failover_support import FakeClock, wait_for
from tests.redis_servers import RedisServer, cluster, servers
from tests.shared_state_support import settled, shared_state

KEY = "sk-client-cluster-test-0001"
MASTER = "sk-master-cluster-test-0001"


@pytest.fixture(scope="module")
def cluster_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RedisServer]]:
    folder = tmp_path_factory.mktemp("cluster")
    with servers(folder) as started:
        yield cluster(folder, started)


@pytest.fixture
def nodes(cluster_nodes: list[RedisServer]) -> list[RedisServer]:
    """The module's cluster, emptied for this test."""
    for node in cluster_nodes:
        redis.Redis(port=node.port).flushall()
    return cluster_nodes


def settings(text: str) -> str:
    return (
        f"general_settings:\n  master_key: {MASTER}\n"
        "router_plugins:\n  cache: {mode: 'off'}\n"
        "  failover: {first_token_timeout_s: 1.0}\n"
        "  client_keys:\n    - {key: os.environ/CLIENT_KEY, team: search, alias: app, rpm: 3}\n"
        + text
    )


def chat(gateway, key: str = KEY) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.post(
        f"{gateway.openai_base}/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
        timeout=20,
    )


def test_two_gateways_on_a_cluster_agree_on_breakers_limits_and_spend(
    nodes: list[RedisServer], make_config: ConfigFactory, serve, providers: Providers
) -> None:
    startup = [{"host": "127.0.0.1", "port": n.port} for n in nodes]
    clock = FakeClock(start=6_000_000.0)
    # LiteLLM's keys, both ways: cache_params in the file, REDIS_CLUSTER_NODES in the environment.
    in_file = settings(
        "litellm_settings:\n  cache_params:\n    type: redis\n"
        f"    redis_startup_nodes: {json.dumps(startup)}\n"
    )
    one = serve(make_config(in_file, CLIENT_KEY=KEY), timing=Timing(now=clock))
    env = make_config(settings(""), CLIENT_KEY=KEY, REDIS_CLUSTER_NODES=json.dumps(startup))
    two = serve(env, timing=Timing(now=clock))
    for gateway in (one, two):
        state = shared_state(gateway)
        assert state["redis"]["mode"] == "cluster" and state["redis"]["reachable"]

    providers.openai.set_mode("500")  # replica one opens the breaker...
    opened = [chat(one), chat(one)]
    assert [r.headers["x-router-provider"] for r in opened] == ["anthropic"] * 2
    calls = providers.openai.stats()["requests"]
    providers.openai.set_mode(None)
    # Replica two reads breakers from a view refreshed every 0.25 s (no round trip per call).
    assert wait_for(lambda: breaker(two, "openai-primary") == "open")
    answer = chat(two)  # ...and replica two skips the primary without calling it
    assert answer.headers["x-router-attempts"] == "1"
    assert answer.headers["x-router-provider"] == "anthropic"
    assert providers.openai.stats()["requests"] == calls
    assert chat(two).status_code == 429  # rpm 3 shared: two on one, one on two

    costs = [chat(gw, MASTER) for gw in (one, two, one, two)]
    assert all(r.status_code == 200 for r in costs)
    expected = sum(Decimal(r.headers["x-router-cost-usd"]) for r in [*opened, answer, *costs])
    admin = {"authorization": f"Bearer {MASTER}"}
    assert wait_for(lambda: settled(one, two))
    reports = [
        httpx.get(f"{gw.base_url}/admin/spend?period=day", headers=admin).json()
        for gw in (one, two)
    ]
    assert reports[0]["source"] == reports[1]["source"] == "redis"
    assert reports[0]["total_usd"] == reports[1]["total_usd"]
    assert abs(Decimal(str(reports[0]["total_usd"])) - expected) <= Decimal("1e-9") * 8


def breaker(gateway: Any, deployment: str) -> str:
    health = httpx.get(
        f"{gateway.base_url}/health/providers",
        headers={"authorization": f"Bearer {MASTER}"},
        timeout=5,
    ).json()
    return str(health["deployments"][deployment]["state"])


def test_a_redis_url_naming_a_cluster_node_gets_a_cluster_client(
    nodes: list[RedisServer], make_config: ConfigFactory, serve, providers: Providers
) -> None:
    text = settings(f"router_settings:\n  redis_url: {nodes[1].url}\n")
    gateway = serve(make_config(text, CLIENT_KEY=KEY))
    admin = {"authorization": f"Bearer {MASTER}"}
    answers = [chat(gateway, MASTER) for _ in range(3)]
    cost = sum(Decimal(r.headers["x-router-cost-usd"]) for r in answers)
    assert wait_for(lambda: shared_state(gateway)["redis"]["mode"] == "cluster")
    report = httpx.get(f"{gateway.base_url}/admin/spend?period=day", headers=admin).json()
    assert report["source"] == "redis"
    assert abs(Decimal(str(report["total_usd"])) - cost) <= Decimal("3e-9")
