"""GET /v1/models lists the chat and embedding models a key may use; GET /v1/models/{id} (the
openai SDK's models.retrieve) finds one by any name a request may use, or 404s."""

from __future__ import annotations

import openai
import pytest

from tests.conftest import ConfigFactory
from tests.endpoint_support import ENDPOINT_CONFIG

KEYS = """
general_settings:
  master_key: sk-master-models
router_settings:
  model_group_alias:
    gpt-4: chat
    secret-name: {model: chat, hidden: true}
router_plugins:
  client_keys:
    - {team: search, key: sk-search-1, models: [chat, embed]}
    - {team: all, key: sk-all-1}
"""


def client(gateway, key: str) -> openai.OpenAI:  # type: ignore[no-untyped-def]
    return openai.OpenAI(base_url=gateway.openai_base, api_key=key, max_retries=0)


def test_each_key_sees_only_the_models_it_may_use(make_config: ConfigFactory, serve) -> None:
    gateway = serve(make_config(KEYS, text=ENDPOINT_CONFIG))
    with client(gateway, "sk-all-1") as sdk:
        every = [m.id for m in sdk.models.list()]
    assert sorted(every) == [
        "anthropic-only",
        "chat",
        "embed",
        "gpt-4",
        "local-only",
        "openai-only",
    ]
    with client(gateway, "sk-search-1") as sdk:
        assert sorted(m.id for m in sdk.models.list()) == ["chat", "embed", "gpt-4"]


def test_a_model_is_retrieved_by_group_alias_or_hidden_alias(
    make_config: ConfigFactory, serve
) -> None:
    gateway = serve(make_config(KEYS, text=ENDPOINT_CONFIG))
    with client(gateway, "sk-search-1") as sdk:
        for name in ("chat", "embed", "gpt-4", "secret-name"):
            model = sdk.models.retrieve(name)
            assert (model.id, model.object) == (name, "model")
        with pytest.raises(openai.NotFoundError, match="does not exist"):
            sdk.models.retrieve("openai-only")  # exists, but not for this key
        with pytest.raises(openai.NotFoundError, match="does not exist"):
            sdk.models.retrieve("no-such-model")
    with client(gateway, "sk-wrong") as sdk, pytest.raises(openai.AuthenticationError):
        sdk.models.retrieve("chat")
