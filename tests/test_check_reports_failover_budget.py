"""`llm-router check` prints the failover phases per model group and refuses only a config
whose failover phase can reach 5 s; a slow healthy answer is never what it limits."""

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


def test_the_defaults_start_a_fallback_within_a_second_and_print_every_phase(
    tmp_path: Path,
) -> None:
    code, out = run(tmp_path, CONFIG)
    assert code == 0, out
    assert "chat: a fallback is started within 1.0 s when all before it hang" in out
    assert "solo: a fallback is started within no fallback" in out
    assert "failover phase: deadline 5 s; hedge after 1 s" in out
    assert "a plan's last deployment waits up to 60 s" in out
    assert "10 s between chunks, 600 s for a whole answer" in out


def test_long_first_token_limits_are_allowed_they_do_not_bound_failover(
    tmp_path: Path,
) -> None:
    text = CONFIG + "router_plugins:\n  failover:\n    first_token_timeout_s: 30\n"
    code, out = run(tmp_path, text)
    assert code == 0, out  # the hedge point and the deadline still bound failover


def test_litellm_retry_settings_are_reported_as_not_applied(tmp_path: Path) -> None:
    _, out = run(tmp_path, CONFIG)
    assert "router_settings.num_retries: not applied: llm-router's own failover" in out


def test_a_deadline_over_5_seconds_is_refused_where_there_is_a_fallback(tmp_path: Path) -> None:
    code, out = run(tmp_path, CONFIG + "router_plugins:\n  failover:\n    deadline_s: 8\n")
    assert code == 1
    assert "router_plugins.failover.deadline_s" in out
    assert "'chat' may spend 8 s before a fallback answers" in out
    assert "'solo'" not in out  # nothing to fail over to
