"""`llm-router check` prints the summary of a good config and every issue of a bad one."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from router_config.cli.commands import app

ROOT = Path(__file__).resolve().parent.parent
PROD_ENV = {
    "OPENAI_API_KEY": "sk-a",
    "ANTHROPIC_API_KEY": "sk-b",
    "VLLM_API_BASE": "http://vllm.internal:8000/v1",
    "VLLM_API_KEY": "v",
    "LLM_ROUTER_MASTER_KEY": "m",
    "LLM_ROUTER_KEY_SEARCH": "s",
    "LLM_ROUTER_KEY_SUPPORT": "t",
}

BROKEN = """
model_list:
  - model_name: chat
    litellm_params:
      model: openai/gpt-4o-2024-08-06
      api_key: os.environ/MISSING_KEY_FOR_TEST
  - model_name: chat
    litellm_params:
      api_base: http://x
  - model_name: other
    litellm_params:
      model: no-such-provider-model-xyz
router_settings:
  fallbacks:
    - chat: [nonexistent-group]
router_plugins:
  server:
    max_body_byte: 10
"""


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_check_on_the_example_config_prints_groups_in_order(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in PROD_ENV.items():
        monkeypatch.setenv(name, value)
    result = runner.invoke(app, ["check", str(ROOT / "litellm_config.yaml")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "OK, 5 deployments in 3 model groups" in lines[0]
    out = result.output
    assert (
        out.index("openai-gpt-4o ")
        < out.index("anthropic-claude-sonnet")
        < out.index("local-llama")
    )
    assert "vllm.internal:8000" in result.output
    assert "sk-a" not in result.output
    direct = "openai-gpt-4o, openai-gpt-4o-mini, openai-embedding-3-small"
    assert f"calls, direct (OpenAI format, pooled): {direct}" in out
    anthropic = "calls, direct (Anthropic, LiteLLM's translation, pooled; plain text requests)"
    assert f"{anthropic}: anthropic-claude-sonnet" in out
    assert "calls, through LiteLLM's Router: local-llama" in out


def test_check_reports_every_issue_with_its_key_path_and_exits_1(
    runner: CliRunner, tmp_path: Path
) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text(BROKEN)
    result = runner.invoke(app, ["check", str(config)])
    assert result.exit_code == 1
    out = result.output
    assert "MISSING_KEY_FOR_TEST" in out and "model_list[0].litellm_params.api_key" in out
    assert "model_list[1].litellm_params.model" in out
    assert "router_plugins.server.max_body_byte" in out
    assert str(config) in out and "Fix:" in out


def test_check_reports_cross_key_issues_once_the_shape_is_valid(
    runner: CliRunner, tmp_path: Path
) -> None:
    config = tmp_path / "refs.yaml"
    config.write_text(
        BROKEN.replace(
            "    litellm_params:\n      api_base: http://x\n",
            "    litellm_params:\n      model: openai/gpt-4o-mini\n",
        )
        .replace("max_body_byte: 10", "max_body_bytes: 10")
        .replace("os.environ/MISSING_KEY_FOR_TEST", "sk-inline")
    )
    result = runner.invoke(app, ["check", str(config)])
    assert result.exit_code == 1
    assert "router_settings.fallbacks[0].chat" in result.output
    assert "'nonexistent-group' is not in model_list" in result.output


def test_check_names_a_yaml_syntax_error_with_its_line(runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("model_list:\n  - model_name: [unclosed\n")
    result = runner.invoke(app, ["check", str(config)])
    assert result.exit_code == 1
    assert "line" in result.output and "not valid YAML" in result.output


def test_check_on_a_missing_file_says_so(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", str(tmp_path / "absent.yaml")])
    assert result.exit_code == 1
    assert "cannot read the file" in result.output


def test_check_refuses_a_billable_deployment_with_no_price(
    runner: CliRunner, tmp_path: Path
) -> None:
    config = tmp_path / "unpriced.yaml"
    config.write_text(
        "model_list:\n  - model_name: chat\n    litellm_params:\n"
        "      model: anthropic/claude-sonnet-4-20250514\n      api_key: k\n"
    )
    result = runner.invoke(app, ["check", str(config)])
    assert result.exit_code == 1
    assert "model_list[0].model_info" in result.output
    assert "no price in the config nor in LiteLLM's price map" in result.output
    assert "free: true" in result.output and "base_model" in result.output
