"""A deployment without declared prices is priced from the pinned LiteLLM's bundled price map
(offline), per-second and cache-write prices included; check shows each price's source; only
a billed deployment priced nowhere is refused, with the fix named."""

from __future__ import annotations

from pathlib import Path

import httpx
import litellm
import pytest
from typer.testing import CliRunner

from router_config.cli.commands import app
from router_config.config.loader import parse_config
from router_config.errors import ConfigError
from router_config.providers.pricing import declared_prices, price_source
from tests.conftest import ConfigFactory

MAPPED = """
model_list:
  - model_name: chat
    litellm_params: {model: openai/gpt-4o-mini-2024-07-18, api_base: os.environ/OPENAI_BASE, api_key: k}
    model_info: {id: mapped}
  - model_name: priced
    litellm_params: {model: openai/gpt-4o-2024-08-06, api_base: os.environ/OPENAI_BASE, api_key: k}
    model_info: {id: declared, input_cost_per_token: 0.00001, output_cost_per_token: 0.00002}
  - model_name: per-second
    litellm_params:
      model: openai/gpt-4o-2024-08-06
      api_base: os.environ/OPENAI_BASE
      api_key: k
      input_cost_per_second: 0.5
    model_info: {id: seconds}
  - model_name: claude
    litellm_params: {model: anthropic/claude-3-7-sonnet-20250219, api_key: k}
    model_info: {id: claude, base_model: anthropic/claude-sonnet-4-5-20250929}
router_plugins:
  cache: {mode: "off"}
"""  # noqa: E501


def test_an_undeclared_price_comes_from_litellms_bundled_map(make_config: ConfigFactory) -> None:
    config = make_config(text=MAPPED)
    mapped = config.deployment("mapped")
    assert str(price_source(mapped)) == "litellm-map (gpt-4o-mini-2024-07-18)"
    info = litellm.model_cost["gpt-4o-mini-2024-07-18"]
    assert declared_prices(mapped)["input_cost_per_token"] == info["input_cost_per_token"]
    assert price_source(config.deployment("declared")).kind == "config"
    base = config.deployment("claude")  # base_model names what the map knows it by
    assert price_source(base).detail == "claude-sonnet-4-5-20250929"
    assert declared_prices(base)["cache_creation_input_token_cost"] > 0  # cache writes too


def test_a_mapped_price_is_charged_like_a_declared_one(make_config: ConfigFactory, serve) -> None:
    gateway = serve(make_config(text=MAPPED))
    reply = httpx.post(
        f"{gateway.openai_base}/chat/completions",
        json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )
    usage = reply.json()["usage"]
    info = litellm.model_cost["gpt-4o-mini-2024-07-18"]
    expected = (
        usage["prompt_tokens"] * info["input_cost_per_token"]
        + usage["completion_tokens"] * info["output_cost_per_token"]
    )
    assert float(reply.headers["x-router-cost-usd"]) == pytest.approx(expected, abs=1e-9)


def test_a_per_second_price_charges_the_call_duration(make_config: ConfigFactory, serve) -> None:
    slow = MAPPED.replace(
        "model: openai/gpt-4o-2024-08-06\n      api_base",
        "model: openai/gpt-4o~slow:200\n      api_base",
    )
    gateway = serve(make_config(text=slow))
    reply = httpx.post(
        f"{gateway.openai_base}/chat/completions",
        json={"model": "per-second", "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )
    # $0.50 per second: a call of at least 0.2 s costs at least $0.10, and a few tokens'
    # price is far below that.
    assert 0.1 <= float(reply.headers["x-router-cost-usd"]) < 1.0


def check(tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    result = CliRunner().invoke(app, ["check", str(path)], env={"OPENAI_BASE": "http://h/v1"})
    return result.exit_code, result.output


def test_check_shows_where_each_price_comes_from(tmp_path: Path) -> None:
    code, out = check(tmp_path, MAPPED)
    assert code == 0, out
    assert "litellm-map (gpt-4o-mini-2024-07-18)" in out
    assert "config, $0.5/s" in out
    assert "anthropic/claude-sonnet-4-5-20250929" in out or "claude-sonnet-4-5-20250929" in out


def test_only_a_billed_deployment_priced_nowhere_is_refused(tmp_path: Path) -> None:
    unknown = (
        "model_list:\n  - model_name: x\n"
        "    litellm_params: {model: anthropic/claude-9-20990101, api_key: k}\n"
    )
    code, out = check(tmp_path, unknown)
    assert code == 1
    assert "model_list[0].model_info" in out and "anthropic/claude-9-20990101" in out
    assert "base_model" in out and "free: true" in out
    # An OpenAI-compatible server of unknown billing, a local server: accepted, named.
    behind_base = unknown.replace("api_key: k}", "api_key: k, api_base: http://h/v1}")
    code, out = check(tmp_path, behind_base)
    assert code == 0 and "has no known price and is counted as $0" in out
    local = (
        "model_list:\n  - model_name: x\n"
        "    litellm_params: {model: hosted_vllm/my-own-model, api_base: http://h}\n"
    )
    code, out = check(tmp_path, local)
    assert code == 0 and "local (self-hosted server: $0 per token)" in out


def test_a_placeholder_zero_price_in_litellms_map_is_no_price() -> None:
    # LiteLLM ships some models at $0 (seen: claude-sonnet-4-20250514); counting them as
    # free is the silent case: such a deployment is refused unless priced.
    info = litellm.get_model_info("claude-sonnet-4-20250514", "anthropic")
    assert info["input_cost_per_token"] == 0
    text = (
        "model_list:\n  - model_name: x\n    litellm_params:\n"
        "      model: anthropic/claude-sonnet-4-20250514\n      api_key: k\n"
    )
    with pytest.raises(ConfigError) as refused:
        parse_config(text, source="t.yaml")
    assert refused.value.issues[0].path == "model_list[0].model_info"
    priced = (
        text + "    model_info: {input_cost_per_token: 0.000003, output_cost_per_token: 0.000015}\n"
    )
    assert price_source(parse_config(priced, source="t.yaml").deployments[0]).kind == "config"
