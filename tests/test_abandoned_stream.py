"""A client that walks away from a stream: the request ends at once on our side."""

from __future__ import annotations

import httpx
import litellm
import pytest

from router_config.wiring import Timing
from tests.conftest import ConfigFactory, Providers
from tests.failover_support import FakeClock, wait_for

KEY = "sk-client-abandon-test-0001"
LIMITED = """
general_settings:
  master_key: sk-master-abandon-test-0001
router_plugins:
  client_keys:
    - {key: os.environ/CLIENT_KEY, team: search}
  rate_limits:
    teams:
      search: {tpm: 50}
router_settings:
  redis_url: REDIS
"""


def test_a_stream_the_client_abandons_is_closed_and_settled(
    make_config: ConfigFactory, serve, providers: Providers, redis_url: str
) -> None:
    gateway = serve(
        make_config(LIMITED.replace("REDIS", redis_url), CLIENT_KEY=KEY),
        timing=Timing(now=FakeClock(start=6_000_000.0)),  # one rate-limit window throughout
    )
    live = gateway.app.state.live
    providers.openai.set_mode("stall:4000")  # the provider pauses after the first token
    url = f"{gateway.openai_base}/chat/completions"
    auth = {"authorization": f"Bearer {KEY}"}
    hi = [{"role": "user", "content": "hi"}]
    body = {"model": "chat", "messages": hi, "stream": True, "max_tokens": 30}
    with (
        httpx.Client(timeout=10) as client,
        client.stream("POST", url, json=body, headers=auth) as r,
    ):
        lines = r.iter_lines()  # kept: a dropped iterator closes the response (and connection)
        assert next(lines).startswith("data: ")
        assert live.current.inflight == 1
    # The client left while the provider pauses: the request is over at once (provider
    # stream closed, every plugin's end hook run, no longer in flight), not after the
    # provider's next chunk, nor whenever the garbage collector gets to it.
    assert wait_for(lambda: live.current.inflight == 0, seconds=2)
    providers.openai.set_mode(None)
    # Its 35-token reservation was settled to what the provider had generated until the
    # client left (the prompt and one token, counted with LiteLLM's tokenizer as no usage
    # came), so the next 35-token reservation leaves 50 - 35 - that.
    prompt = litellm.token_counter(model="gpt-4o-2024-08-06", messages=hi)
    generated = litellm.token_counter(model="gpt-4o-2024-08-06", text="fake")
    used = prompt + generated
    # ...and paid for: the ledger has the cost of those tokens at openai-primary's prices.
    report = httpx.get(
        f"{gateway.base_url}/admin/spend",
        params={"period": "day"},
        headers={"authorization": "Bearer sk-master-abandon-test-0001"},
        timeout=10,
    ).json()
    spent = report["providers"]["openai"]
    assert spent == pytest.approx(prompt * 0.0000025 + generated * 0.00001, abs=1e-9)
    after = httpx.post(url, json={**body, "stream": False}, headers=auth, timeout=10)
    assert after.status_code == 200, after.text
    assert after.headers["x-ratelimit-remaining-tokens"] == str(50 - 35 - used)
