"""Admission before work: every request counts against its key's and team's limits, invalid
ones included; a key known over its limit is refused before its body is read; a key's
requests in flight are capped; a full process admits the quietest key first."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from router_config.wiring import Timing
from tests.conftest import ConfigFactory, Providers
from tests.failover_support import FakeClock, wait_for

FLOOD, QUIET = "sk-admission-flood-0001", "sk-admission-quiet-0002"
HI = [{"role": "user", "content": "hi"}]


def config_text(redis_url: str, server: str = "", rpm: int = 3) -> str:
    return (
        "router_plugins:\n"
        "  client_keys:\n"
        f"    - {{key: os.environ/FLOOD, team: flood, alias: flood-app, rpm: {rpm}}}\n"
        "    - {key: os.environ/QUIET, team: quiet, alias: quiet-app}\n"
        "  server:\n    refusal_pause_s: 0\n"
        + server
        + f"router_settings:\n  redis_url: {redis_url}\n"
    )


def gateway_for(
    make_config: ConfigFactory, serve: Any, text: str, clock: FakeClock | None = None
) -> Any:
    timing = Timing(now=clock or FakeClock(start=6_000_000.0))  # one rate-limit window
    return serve(make_config(text, FLOOD=FLOOD, QUIET=QUIET), timing=timing)


def post(gateway: Any, key: str, content: bytes | None = None, **body: Any) -> httpx.Response:
    return httpx.post(
        f"{gateway.openai_base}/chat/completions",
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
        content=content,
        json=None if content is not None else {"model": "chat", "messages": HI, **body},
        timeout=20,
    )


def test_invalid_requests_spend_the_keys_requests_per_minute(
    make_config: ConfigFactory, serve, providers: Providers, redis_url: str
) -> None:
    gateway = gateway_for(make_config, serve, config_text(redis_url))
    assert post(gateway, FLOOD, b"{not json").status_code == 400
    assert post(gateway, FLOOD, tempreature=0).status_code == 400
    assert post(gateway, FLOOD, model="no-such-model").status_code == 404
    refused = post(gateway, FLOOD)  # a valid request, but the key's 3 requests are spent
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert refused.headers["retry-after"]
    assert providers.openai.stats()["requests"] == 0
    assert post(gateway, QUIET).status_code == 200  # another team is not affected


def test_a_key_known_over_its_limit_is_refused_before_its_body_is_read(
    make_config: ConfigFactory, serve, providers: Providers, redis_url: str
) -> None:
    gateway = gateway_for(make_config, serve, config_text(redis_url, rpm=1))
    assert post(gateway, FLOOD).status_code == 200
    assert post(gateway, FLOOD).status_code == 429  # the shared count says so
    too_large = b'{"model": "chat", "messages": [' + b'{"role": "user"},' * 200_000 + b"]}"
    refused = post(gateway, FLOOD, too_large)  # would be a 413 if its body were read
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "requests"
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.headers["x-ratelimit-limit-requests"] == "1"
    assert providers.openai.stats()["requests"] == 1


def test_invalid_requests_on_one_replica_count_on_another(
    make_config: ConfigFactory, serve, providers: Providers, redis_url: str
) -> None:
    clock = FakeClock(start=6_000_000.0)
    one = gateway_for(make_config, serve, config_text(redis_url), clock)
    two = gateway_for(make_config, serve, config_text(redis_url), clock)
    for _ in range(3):
        assert post(one, FLOOD, b"[]").status_code == 400
    assert post(two, FLOOD).status_code == 429
    clock.advance(60)  # the next window: the key may ask again, on either replica
    assert post(one, FLOOD).status_code == 200


def test_refusals_at_the_door_are_paced(
    make_config: ConfigFactory, serve, providers: Providers, redis_url: str
) -> None:
    text = config_text(redis_url, rpm=1).replace("refusal_pause_s: 0", "refusal_pause_s: 0.3")
    gateway = gateway_for(make_config, serve, text)
    post(gateway, FLOOD)
    assert post(gateway, FLOOD).status_code == 429  # learnt from the shared count: at once
    started = time.monotonic()
    assert post(gateway, FLOOD).status_code == 429
    assert time.monotonic() - started >= 0.3


def test_a_keys_requests_in_flight_are_capped(
    make_config: ConfigFactory, serve, providers: Providers, redis_url: str
) -> None:
    server = "    max_in_flight_per_key: 2\n"
    gateway = gateway_for(make_config, serve, config_text(redis_url, server, rpm=100))
    providers.openai.set_mode("slow:1500")
    slow = [threading.Thread(target=post, args=(gateway, FLOOD)) for _ in range(2)]
    for thread in slow:
        thread.start()
    fair = gateway.app.state.admission.fair
    assert wait_for(lambda: fair.held("flood-app") == 2)
    refused = post(gateway, FLOOD)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_requests_in_flight"
    assert post(gateway, QUIET, model="anthropic-only").status_code == 200
    for thread in slow:
        thread.join()
    assert fair.held("flood-app") == 0


def test_a_full_process_admits_the_quietest_key_first(
    make_config: ConfigFactory, serve, providers: Providers, redis_url: str
) -> None:
    server = "    max_in_flight: 2\n    queue_timeout_s: 30\n"
    gateway = gateway_for(make_config, serve, config_text(redis_url, server, rpm=100))
    providers.openai.set_mode("slow:800")
    fair = gateway.app.state.admission.fair
    finished: list[str] = []

    def ask(name: str, key: str) -> None:
        assert post(gateway, key, model="openai-only").status_code == 200
        finished.append(name)

    threads = [threading.Thread(target=ask, args=(f"flood-{i}", FLOOD)) for i in range(4)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)  # arrive in order
    assert wait_for(lambda: fair.waiting == 2)  # two flood requests run, two wait
    quiet = threading.Thread(target=ask, args=("quiet", QUIET))
    quiet.start()  # arrives after the flood's queued requests
    assert wait_for(lambda: fair.waiting == 3)
    for thread in [*threads, quiet]:
        thread.join()
    # First come, first served would run quiet last; fair admission runs it with the
    # first freed slot, before the flood's last request.
    assert finished.index("quiet") < finished.index("flood-3")


def test_waiting_past_the_queue_timeout_is_a_503(
    make_config: ConfigFactory, serve, providers: Providers, redis_url: str
) -> None:
    server = "    max_in_flight: 1\n    queue_timeout_s: 0.2\n"
    gateway = gateway_for(make_config, serve, config_text(redis_url, server, rpm=100))
    providers.openai.set_mode("slow:1500")
    running = threading.Thread(target=post, args=(gateway, FLOOD), kwargs={"model": "openai-only"})
    running.start()
    assert wait_for(lambda: gateway.app.state.admission.fair.running == 1)
    refused = post(gateway, QUIET)
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "overloaded"
    assert refused.headers["retry-after"] == "1"
    running.join()
