"""Model names resolve as LiteLLM's proxy resolves them: model_group_alias, wildcard routes,
default_fallbacks, fallbacks to a deployment id, tag routing; embedding models serve only
/v1/embeddings, and deployments of modes no endpoint serves stay out of routing and /v1/models."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ConfigFactory, Providers

OPENAI = "api_base: os.environ/OPENAI_BASE, api_key: k"
CONFIG = f"""
model_list:
  - model_name: chat
    litellm_params: {{model: openai/gpt-4o-2024-08-06, {OPENAI}}}
    model_info: {{id: chat-main}}
  - model_name: backup
    litellm_params: {{model: anthropic/claude-3-5-haiku-20241022, api_base: os.environ/ANTHROPIC_BASE, api_key: k}}
    model_info: {{id: backup-main, free: true}}
  - model_name: "*"
    litellm_params: {{model: openai/*, {OPENAI}}}
  - model_name: "anthropic/*"
    litellm_params: {{model: "anthropic/*", api_base: os.environ/ANTHROPIC_BASE, api_key: k}}
    model_info: {{input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}}
  - model_name: embeddings
    litellm_params: {{model: openai/text-embedding-3-small, {OPENAI}}}
  - model_name: images
    litellm_params: {{model: dall-e-3}}
router_settings:
  model_group_alias:
    gpt-4: chat
    secret-name: {{model: chat, hidden: true}}
  default_fallbacks: [backup]
router_plugins:
  cache: {{mode: "off"}}
"""  # noqa: E501


def post(gateway: Any, model: str, **extra: Any) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}
    return httpx.post(f"{gateway.openai_base}/chat/completions", json=body, timeout=10)


def test_aliases_resolve_and_only_visible_ones_are_listed(
    make_config: ConfigFactory, serve
) -> None:
    gateway = serve(make_config(text=CONFIG))
    for name in ("gpt-4", "secret-name"):
        reply = post(gateway, name)
        assert reply.status_code == 200 and reply.headers["x-router-deployment"] == "chat-main"
    listed = {m["id"] for m in httpx.get(f"{gateway.openai_base}/models").json()["data"]}
    assert listed == {"chat", "backup", "gpt-4", "embeddings"}  # no hidden alias, no images


def test_wildcard_routes_serve_the_model_the_caller_names(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    gateway = serve(make_config(text=CONFIG))
    reply = post(gateway, "gpt-4o-mini")
    assert reply.status_code == 200
    assert providers.openai.last_request()["body"]["model"] == "gpt-4o-mini"
    assert float(reply.headers["x-router-cost-usd"]) > 0  # priced from LiteLLM's map
    reply = post(gateway, "anthropic/claude-3-haiku-20240307")
    assert reply.status_code == 200 and reply.headers["x-router-provider"] == "anthropic"
    assert providers.anthropic.last_request()["body"]["model"] == "claude-3-haiku-20240307"
    assert reply.headers["x-router-deployment"].startswith("anthropic/any.anthropic.0:")


def test_default_fallbacks_answer_for_groups_without_their_own(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    providers.openai.set_mode("500")
    reply = post(serve(make_config(text=CONFIG)), "chat")
    assert reply.status_code == 200
    assert reply.headers["x-router-deployment"] == "backup-main"


def test_a_fallback_may_name_a_deployment_id(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    text = CONFIG.replace("default_fallbacks: [backup]", "fallbacks: [{chat: [backup-main]}]")
    providers.openai.set_mode("500")
    reply = post(serve(make_config(text=text)), "chat")
    assert reply.headers["x-router-deployment"] == "backup-main"


def test_deployments_of_other_modes_never_get_chat_requests(
    make_config: ConfigFactory, serve, providers: Providers
) -> None:
    config = make_config(text=CONFIG)
    assert {d.group: d.mode for d in config.others} == {"images": "image_generation"}
    assert config.kinds["embeddings"] == "embedding"
    gateway = serve(config)
    for name in ("embeddings", "images"):  # not even the "*" wildcard route takes them
        reply = post(gateway, name)
        assert reply.status_code == 404 and reply.json()["error"]["code"] == "model_not_found"
    assert providers.openai.stats()["requests"] == 0


TAGGED = f"""
model_list:
  - model_name: gpt-4
    litellm_params: {{model: openai/gpt-4o-2024-08-06, {OPENAI}, tags: [free]}}
    model_info: {{id: free-tier}}
  - model_name: gpt-4
    litellm_params: {{model: openai/gpt-4o-2024-08-06, {OPENAI}, tags: [paid]}}
    model_info: {{id: paid-tier}}
  - model_name: gpt-4
    litellm_params: {{model: openai/gpt-4o-2024-08-06, {OPENAI}, tags: [default]}}
    model_info: {{id: default-tier}}
router_settings:
  enable_tag_filtering: true
"""


@pytest.mark.parametrize(
    ("extra", "headers", "expected"),
    [
        ({"tags": ["free"]}, {}, "free-tier"),
        ({"metadata": {"tags": ["paid"], "trace_id": "t-1"}}, {}, "paid-tier"),
        ({}, {"x-litellm-tags": "paid"}, "paid-tier"),
        ({}, {}, "default-tier"),
        ({"tags": ["unknown-tier"]}, {}, "default-tier"),
    ],
)
def test_tag_routing_picks_deployments_by_request_tags(
    make_config: ConfigFactory, serve, extra: dict[str, Any], headers: dict[str, str], expected: str
) -> None:
    gateway = serve(make_config(text=TAGGED))
    body = {"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}], **extra}
    for _ in range(3):
        reply = httpx.post(
            f"{gateway.openai_base}/chat/completions", json=body, headers=headers, timeout=10
        )
        assert reply.status_code == 200, reply.text
        assert reply.headers["x-router-deployment"] == expected


def test_a_request_whose_tags_match_nothing_without_a_default_is_refused(
    make_config: ConfigFactory, serve
) -> None:
    text = TAGGED.replace("tags: [default]", "tags: [other]")
    reply = post(serve(make_config(text=text)), "gpt-4", tags=["!free", "!paid", "!other"])
    assert reply.status_code == 400
    assert reply.json()["error"]["param"] == "tags"
