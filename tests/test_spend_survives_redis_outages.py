"""Redis killed (its data gone with it) or frozen under load, on two replicas: every request
is answered, the ledger equals the costs returned to callers to 1e-9 USD per request, and a
budget is overshot by at most one lease slice per replica."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.conftest import BASE_CONFIG, ConfigFactory, Providers
from tests.failover_support import wait_for
from tests.redis_servers import RedisServer, plain, servers
from tests.shared_state_support import settled

MASTER = "sk-master-outage-test-0001"
KEY = "sk-client-outage-test-0001"
ADMIN = {"authorization": f"Bearer {MASTER}"}
BODY = {"model": "chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10}


def config(redis_url: str, extra: str = "") -> str:
    return (
        BASE_CONFIG
        + f"general_settings:\n  master_key: {MASTER}\n"
        + f"router_settings:\n  redis_url: {redis_url}\n"
        + "router_plugins:\n  cache: {mode: 'off'}\n"
        + "  client_keys:\n    - {key: os.environ/CLIENT_KEY, team: search, alias: search-app}\n"
        + extra
    )


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with servers(tmp_path) as started:
        server = plain(tmp_path)
        started.append(server.start())
        yield server


def load(gateways: list, total: int, outage: Callable[[], None], at: int) -> list[httpx.Response]:  # type: ignore[type-arg]
    """``total`` requests at concurrency 8 over the replicas; ``outage`` runs once ``at`` of
    them are answered (the load keeps going meanwhile)."""
    done = threading.Semaphore(0)
    client = httpx.Client(timeout=30, headers={"authorization": f"Bearer {KEY}"})

    def one(i: int) -> httpx.Response:
        gateway = gateways[i % len(gateways)]
        try:
            return client.post(f"{gateway.openai_base}/chat/completions", json=BODY)
        finally:
            done.release()

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(one, i) for i in range(total)]
        for _ in range(at):
            done.acquire()
        outage()
        responses = [f.result() for f in futures]
    client.close()
    return responses


def cost_sum(responses: list[httpx.Response]) -> Decimal:
    return sum((Decimal(r.headers["x-router-cost-usd"]) for r in responses), Decimal(0))


@pytest.mark.parametrize("fault", ["sigkill", "sigstop"])
def test_spend_made_through_a_redis_outage_is_all_in_the_ledger(
    fault: str,
    own_redis: RedisServer,
    make_config: ConfigFactory,
    serve,
    providers: Providers,
) -> None:
    text = config(own_redis.url)
    one = serve(make_config(text=text, CLIENT_KEY=KEY))
    two = serve(make_config(text=text, CLIENT_KEY=KEY))

    def outage() -> None:
        if fault == "sigkill":  # persistence is off: Redis comes back empty
            own_redis.kill()
            wait_for(lambda: False, 1.5)
            own_redis.start()
        else:
            own_redis.freeze()
            wait_for(lambda: False, 1.5)
            own_redis.thaw()

    responses = load([one, two], total=160, outage=outage, at=40)
    assert [r.status_code for r in responses] == [200] * 160  # no request failed
    assert wait_for(lambda: settled(one, two), 20), "the journals were not replayed"

    report = httpx.get(f"{one.base_url}/admin/spend?period=day", headers=ADMIN).json()
    assert report["source"] == "redis"
    expected = cost_sum(responses)
    assert expected > 0
    tolerance = Decimal("1e-9") * len(responses)
    assert abs(Decimal(str(report["total_usd"])) - expected) <= tolerance
    assert abs(Decimal(str(report["teams"]["search"])) - expected) <= tolerance
    assert abs(Decimal(str(report["keys"]["search-app"])) - expected) <= tolerance
    assert sum(report["attempts"].values()) == 160


def test_the_spend_command_matches_the_returned_costs_after_an_outage(
    own_redis: RedisServer,
    make_config: ConfigFactory,
    serve,
    providers: Providers,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from router_config.cli.commands import app

    text = config(own_redis.url)
    gateway = serve(make_config(text=text, CLIENT_KEY=KEY))

    def outage() -> None:
        own_redis.kill()
        wait_for(lambda: False, 1.0)
        own_redis.start()

    responses = load([gateway], total=40, outage=outage, at=10)
    assert wait_for(lambda: settled(gateway), 20)
    path = tmp_path / "spend.yaml"
    path.write_text(text)
    for name, value in {**providers.env(), "CLIENT_KEY": KEY}.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["spend", str(path), "--period", "day", "--format", "csv"])
    assert result.exit_code == 0, result.output
    total = next(line for line in result.output.splitlines() if line.startswith("total,"))
    assert abs(Decimal(total.split(",")[2]) - cost_sum(responses)) <= Decimal("1e-9") * 40


def test_a_budget_is_overshot_by_at_most_one_slice_per_replica_across_an_outage(
    own_redis: RedisServer,
    make_config: ConfigFactory,
    serve,
    providers: Providers,
) -> None:
    # The case: a $0.001 daily team budget, requests before, during and after
    # Redis was down. A call's worst case here is 5 prompt tokens x $2.5e-6 + 10 x $1e-5.
    budget = "  budgets:\n    on_exceeded: reject\n    teams:\n      search: {daily_usd: 0.001}\n"
    text = config(own_redis.url, budget)
    one = serve(make_config(text=text, CLIENT_KEY=KEY))
    two = serve(make_config(text=text, CLIENT_KEY=KEY))
    client = httpx.Client(timeout=30, headers={"authorization": f"Bearer {KEY}"})

    def send(count: int) -> list[httpx.Response]:
        return [
            client.post(f"{gw.openai_base}/chat/completions", json=BODY)
            for _, gw in zip(range(count), [one, two] * count, strict=False)
        ]

    answered = send(6)
    own_redis.kill()
    answered += send(16)
    own_redis.start()
    assert wait_for(lambda: settled(one, two), 20)
    answered += send(16)
    client.close()

    statuses = {r.status_code for r in answered}
    assert statuses <= {200, 429}
    refused = [r for r in answered if r.status_code == 429]
    assert refused and all(r.json()["error"]["code"] == "budget_exceeded" for r in refused)
    assert wait_for(lambda: settled(one, two), 20)
    spent = Decimal(
        str(
            httpx.get(f"{one.base_url}/admin/spend?period=day", headers=ADMIN).json()["teams"][
                "search"
            ]
        )
    )
    returned = cost_sum([r for r in answered if r.status_code == 200])
    assert abs(spent - returned) <= Decimal("1e-9") * len(answered)
    worst_case = Decimal("5") * Decimal("0.0000025") + Decimal("10") * Decimal("0.00001")
    slice_ = max(Decimal("0.001") * Decimal("0.01"), worst_case)  # budget_lease_fraction 1 %
    assert spent <= Decimal("0.001") + 2 * slice_
