"""A client that walks away from a stream: the request ends at once on our side."""

from __future__ import annotations

import httpx

from tests.conftest import ConfigFactory, Providers
from tests.failover_support import wait_for


def test_a_stream_the_client_abandons_is_closed_and_released(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway = serve(make_config())
    live = gateway.app.state.live
    providers.openai.set_mode("stall:1500")  # the provider pauses after the first token
    body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    url = f"{gateway.openai_base}/chat/completions"
    with httpx.Client(timeout=10) as client, client.stream("POST", url, json=body) as r:
        first = next(r.iter_lines())
        assert first.startswith("data: ")
        assert live.current.inflight == 1
    # The client is gone. When the provider's next chunk comes, writing it fails and the
    # request is over: provider stream closed, plugins finished, no longer in flight.
    # (The disconnect itself is noticed at that write, not during the provider's pause.)
    assert wait_for(lambda: live.current.inflight == 0, seconds=4)
