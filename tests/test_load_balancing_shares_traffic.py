"""Deployments of one group and one ``order`` share traffic by ``router_settings.routing_strategy``
(simple-shuffle by weight/rpm/tpm, least-busy, latency-, usage- and cost-based), with their
state shared through Redis across replicas; ``order`` keeps its priority and breaker skips
still apply."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.conftest import ConfigFactory, Providers

BODY = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}


def group(*deployments: str, strategy: str = "simple-shuffle", extra: str = "") -> str:
    """A config with one group ``chat`` of the given deployments (YAML flow mappings)."""
    entries = "".join(f"  - model_name: chat\n    {d}\n" for d in deployments)
    return (
        f"model_list:\n{entries}router_settings:\n  routing_strategy: {strategy}\n{extra}"
        "router_plugins:\n  cache: {mode: 'off'}\n"
    )


def deployment(dep_id: str, model: str = "gpt-4o-2024-08-06", **params: Any) -> str:
    extra = "".join(f", {k}: {v}" for k, v in params.items())
    return (
        f"litellm_params: {{model: openai/{model}, api_base: os.environ/OPENAI_BASE, "
        f"api_key: k{extra}}}\n    model_info: {{id: {dep_id}}}"
    )


def served(gateway: Any, n: int, client: httpx.Client | None = None) -> Counter[str]:
    """Which deployment answered each of ``n`` requests, one after the other."""
    if client is None:
        with httpx.Client(timeout=10) as own:
            return served(gateway, n, own)
    out: Counter[str] = Counter()
    for _ in range(n):
        reply = client.post(f"{gateway.openai_base}/chat/completions", json=BODY)
        assert reply.status_code == 200, reply.text
        out[reply.headers["x-router-deployment"]] += 1
    return out


def test_weights_hold_within_10_percent_over_1000_requests_on_two_replicas(
    make_config: ConfigFactory, serve, redis_url: str
) -> None:
    text = group(
        deployment("light", weight=1),
        deployment("heavy", weight=3),
        extra=f"  redis_url: {redis_url}\n",
    )
    replicas = [serve(make_config(text=text)), serve(make_config(text=text))]

    def run(worker: int) -> Counter[str]:
        with httpx.Client(timeout=10) as client:
            return served(replicas[worker % 2], 125, client)

    with ThreadPoolExecutor(8) as pool:
        totals = sum(pool.map(run, range(8)), Counter())
    assert sum(totals.values()) == 1000
    assert abs(totals["light"] - 250) <= 25, totals
    assert abs(totals["heavy"] - 750) <= 75, totals


def test_without_weights_rpm_then_tpm_set_the_shares(make_config: ConfigFactory, serve) -> None:
    by_rpm = serve(make_config(text=group(deployment("a", rpm=1000), deployment("b", rpm=3000))))
    assert served(by_rpm, 40) == Counter({"a": 10, "b": 30})
    equal = serve(make_config(text=group(deployment("a"), deployment("b"))))
    assert served(equal, 20) == Counter({"a": 10, "b": 10})


def test_order_keeps_its_priority_and_breaker_skips_still_apply(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    text = group(
        deployment("first-a", order=1),
        deployment("first-b", "gpt-4o-2024-08-06~500", order=1),
        deployment("second", "gpt-4o-mini-2024-07-18", order=2),
    )
    gateway = serve(make_config(text=text))
    counts = served(gateway, 20)
    assert "second" not in counts  # order 2 waits while an order-1 deployment answers
    assert counts["first-a"] == 20  # first-b fails every time: failed over, then skipped
    health = httpx.get(f"{gateway.base_url}/health/providers").json()["deployments"]
    assert health["first-b"]["state"] == "open"


def test_least_busy_sees_requests_in_flight_on_the_other_replica(
    make_config: ConfigFactory, serve, redis_url: str
) -> None:
    text = group(
        # Its first token at once, then a 1.5 s pause: in flight, and never late enough for a
        # hedge to race it.
        deployment("slow", "gpt-4o-2024-08-06~stall:1500"),
        deployment("quick"),
        strategy="least-busy",
        extra=f"  redis_url: {redis_url}\n",
    )
    one, two = serve(make_config(text=text)), serve(make_config(text=text))
    first: dict[str, str] = {}

    def long_request() -> None:
        reply = httpx.post(f"{one.openai_base}/chat/completions", json=BODY, timeout=10)
        first["deployment"] = reply.headers["x-router-deployment"]

    worker = threading.Thread(target=long_request)
    worker.start()
    time.sleep(0.5)  # the first request is in flight on replica one
    assert served(two, 1) == Counter({"quick": 1})
    worker.join()
    assert first["deployment"] == "slow"


def test_latency_based_routing_prefers_the_faster_deployment(
    make_config: ConfigFactory, serve, redis_url: str
) -> None:
    text = group(
        deployment("slow", "gpt-4o-2024-08-06~slow:200"),
        deployment("fast"),
        strategy="latency-based-routing",
        extra=f"  redis_url: {redis_url}\n",
    )
    counts = served(serve(make_config(text=text)), 12)
    assert counts["slow"] == 1 and counts["fast"] == 11  # each tried once, then the faster


def test_usage_based_routing_sends_the_next_request_to_the_least_used(
    make_config: ConfigFactory, serve, redis_url: str
) -> None:
    text = group(
        deployment("a"),
        deployment("b"),
        strategy="usage-based-routing-v2",
        extra=f"  redis_url: {redis_url}\n",
    )
    counts = served(serve(make_config(text=text)), 10)
    assert counts == Counter({"a": 5, "b": 5})


def test_cost_based_routing_prefers_the_cheaper_deployment(
    make_config: ConfigFactory, serve
) -> None:
    text = group(
        deployment("dear", "gpt-4o-2024-08-06"),
        deployment("cheap", "gpt-4o-mini-2024-07-18"),
        strategy="cost-based-routing",
    )
    assert served(serve(make_config(text=text)), 5) == Counter({"cheap": 5})
