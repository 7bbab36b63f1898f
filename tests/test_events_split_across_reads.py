"""A provider's stream arrives in network reads that cut events and lines anywhere, not
one event per read as an instant fake on loopback delivers it. The gateway reads whole
reads and splits lines itself; with the fake sending 5 bytes at a time, OpenAI's and
Anthropic's streams give the same answer as when each event comes whole."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.conftest import ConfigFactory, Providers

HI = [{"role": "user", "content": "hi"}]


def _answer(gateway: Any, group: str, stream: bool) -> tuple[str, int]:
    """The answer's text and its completion tokens, as the openai SDK gives them."""
    with openai.OpenAI(base_url=gateway.openai_base, api_key="x", max_retries=0) as client:
        if not stream:
            reply = client.chat.completions.create(model=group, messages=HI, max_tokens=40)  # type: ignore[arg-type]
            assert reply.usage is not None
            return reply.choices[0].message.content or "", reply.usage.completion_tokens
        chunks = list(
            client.chat.completions.create(
                model=group,
                messages=HI,  # type: ignore[arg-type]
                max_tokens=40,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    usage = chunks[-1].usage
    assert usage is not None
    return text, usage.completion_tokens


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("group", ["openai-only", "anthropic-only"])
def test_events_cut_anywhere_by_the_network_give_the_same_answer(
    make_config: ConfigFactory, serve: Any, providers: Providers, group: str, stream: bool
) -> None:
    gateway = serve(make_config())
    fake = providers.openai if group == "openai-only" else providers.anthropic
    whole = _answer(gateway, group, stream)
    fake.set_mode("split:5")
    assert _answer(gateway, group, stream) == whole
    assert whole[0].startswith("fake reply to: hi") and whole[1] > 0
