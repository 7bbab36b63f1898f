"""A real Sentinel set (master, replica, three sentinels): the master is killed under load on
two gateways; the sentinels promote the replica, the gateways follow it, no request fails
and no spend is lost (what the dead master had not replicated is replayed from journals)."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import httpx
import redis

from tests.conftest import ConfigFactory, Providers
from tests.failover_support import wait_for
from tests.redis_servers import sentinel_set, servers
from tests.shared_state_support import settled, shared_state

MASTER = "sk-master-sentinel-test-0001"
ADMIN = {"authorization": f"Bearer {MASTER}"}
BODY = {"model": "chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10}
TOTAL = 200


def test_a_sentinel_failover_under_load_loses_no_spend_and_fails_no_request(
    tmp_path: Path, make_config: ConfigFactory, serve, providers: Providers
) -> None:
    with servers(tmp_path) as started:
        master, replica, sentinels = sentinel_set(tmp_path, started)
        nodes = [["127.0.0.1", s.port] for s in sentinels]
        base = f"general_settings:\n  master_key: {MASTER}\n"
        base += "router_plugins:\n  cache: {mode: 'off'}\n"
        # LiteLLM's keys both ways: cache_params in the file, REDIS_SENTINEL_* in the environment.
        in_file = base + (
            "litellm_settings:\n  cache_params:\n    type: redis\n"
            f"    sentinel_nodes: {json.dumps(nodes)}\n    service_name: mymaster\n"
        )
        one = serve(make_config(in_file))
        two = serve(
            make_config(base, REDIS_SENTINEL_NODES=json.dumps(nodes), REDIS_SERVICE_NAME="mymaster")
        )
        assert (
            shared_state(one)["redis"]["mode"] == shared_state(two)["redis"]["mode"] == "sentinel"
        )

        answered = threading.Semaphore(0)
        client = httpx.Client(timeout=30, headers=ADMIN)

        def one_request(i: int) -> httpx.Response:
            gateway = (one, two)[i % 2]
            try:
                return client.post(f"{gateway.openai_base}/chat/completions", json=BODY)
            finally:
                answered.release()

        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(one_request, i) for i in range(TOTAL)]
            for _ in range(40):
                answered.acquire()
            master.kill()  # the sentinels see it down after 1 s and promote the replica
            responses = [f.result() for f in futures]
        client.close()

        assert [r.status_code for r in responses] == [200] * TOTAL
        promoted = redis.Redis(port=replica.port)
        assert wait_for(lambda: promoted.info("replication")["role"] == "master", 20)
        assert wait_for(lambda: settled(one, two), 30), "the gateways did not follow the failover"
        report = httpx.get(f"{one.base_url}/admin/spend?period=day", headers=ADMIN).json()
        assert report["source"] == "redis"
        expected = sum(Decimal(r.headers["x-router-cost-usd"]) for r in responses)
        assert abs(Decimal(str(report["total_usd"])) - expected) <= Decimal("1e-9") * TOTAL
        assert sum(report["attempts"].values()) == TOTAL
