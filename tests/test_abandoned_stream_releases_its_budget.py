"""A stream the client abandons gives back its budget reservation and is counted in the ledger:
ten abandoned streams no longer lock a team out of a budget it has not spent (the issue
measured $0.0056 reserved against $0.0003 spent)."""

from __future__ import annotations

import httpx

from tests.conftest import ConfigFactory, Providers
from tests.failover_support import wait_for
from tests.shared_state_support import settled, shared_state

KEY = "sk-client-abandon-budget-0001"
MASTER = "sk-master-abandon-budget-0001"
TEXT = """
general_settings:
  master_key: MASTER
router_plugins:
  client_keys:
    - {key: os.environ/CLIENT_KEY, team: search}
  budgets:
    on_exceeded: reject
    teams:
      search: {daily_usd: 0.2}  # room for 4 worst cases at once, not 10
router_settings:
  redis_url: REDIS
"""


def test_abandoned_streams_release_their_reservations_and_are_counted(
    make_config: ConfigFactory, serve, providers: Providers, redis_url: str
) -> None:
    text = TEXT.replace("MASTER", MASTER).replace("REDIS", redis_url)
    gateway = serve(make_config(text, CLIENT_KEY=KEY))
    live = gateway.app.state.live
    providers.openai.set_mode("stall:4000")  # the provider pauses after the first token
    body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with httpx.Client(timeout=10, headers={"authorization": f"Bearer {KEY}"}) as client:
        for _ in range(10):  # each reserves 5 x $2.5e-6 + 4096 x $1e-5: about $0.041
            with client.stream("POST", f"{gateway.openai_base}/chat/completions", json=body) as r:
                assert r.status_code == 200, r.read()
                assert next(r.iter_lines()).startswith("data: ")
            assert wait_for(lambda: live.current.inflight == 0, 5)
    leases = shared_state(gateway)["budget_leases"]
    assert leases and all(lease["reserved_usd"] == 0 for lease in leases)
    assert wait_for(lambda: settled(gateway))
    report = httpx.get(
        f"{gateway.base_url}/admin/spend?period=day",
        headers={"authorization": f"Bearer {MASTER}"},
    ).json()
    assert report["attempts"] == {"openai": 10}
