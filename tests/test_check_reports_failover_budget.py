"""`llm-router check` says how long failover can take and refuses a config that can reach 5 s."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from router_config.cli.commands import app

CONFIG = """
model_list:
  - model_name: chat
    litellm_params: {model: openai/gpt-4o-2024-08-06, api_key: sk-a}
    model_info: {input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}
  - model_name: chat
    litellm_params: {model: anthropic/claude-3-5-sonnet-20241022, api_key: sk-b}
    model_info: {input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}
  - model_name: solo
    litellm_params: {model: openai/gpt-4o-mini-2024-07-18, api_key: sk-a}
    model_info: {input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}
router_settings:
  num_retries: 2
"""


def run(tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    result = CliRunner().invoke(app, ["check", str(path)])
    return result.exit_code, result.output


def test_default_timeouts_fail_over_within_4_seconds(tmp_path: Path) -> None:
    code, out = run(tmp_path, CONFIG)
    assert code == 0, out
    assert "chat: worst case before a fallback answers: 4.0 s" in out
    assert "solo: worst case before a fallback answers: no fallback" in out


def test_litellm_retry_settings_are_reported_as_not_applied(tmp_path: Path) -> None:
    _, out = run(tmp_path, CONFIG)
    assert "router_settings.num_retries: not applied: llm-router's own failover" in out


def test_a_first_token_timeout_that_can_reach_5_seconds_is_refused(tmp_path: Path) -> None:
    code, out = run(
        tmp_path, CONFIG + "router_plugins:\n  failover:\n    first_token_timeout_s: 2.5\n"
    )
    assert code == 1
    assert "router_plugins.failover.first_token_timeout_s" in out
    assert "'chat' can take 5.0 s to fail over" in out
